package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}

// testSecret is the token secret every test server uses, so that tests
// can sign their own tokens (forged and expired ones included).
const testSecret = "hostile-test-secret-0123456789abcdef"

// server is one running danmakud.
type server struct {
	*testenv.Server
	t    *testing.T
	bin  string // The danmakud binary, which also mints tokens.
	dir  string
	addr string // host:port
	url  string // http://host:port
}

// startServer starts danmakud on a free loopback port with the test secret,
// JSON debug logs and the extra settings in args, and waits until it
// answers /healthz. The server is stopped when the test ends.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{
		"-data", dir, "-secret", testSecret, "-log-format", "json", "-log-level", "debug",
	}, args...)
	srv := testenv.Danmakud(t, append(all, "serve")...)
	return &server{Server: srv, t: t, bin: testenv.Binary(t), dir: dir, addr: srv.Addr(), url: srv.URL()}
}

// alive fails the test if the server has exited or stopped answering.
func (s *server) alive() {
	s.t.Helper()
	if s.Exited() {
		s.t.Fatalf("danmakud exited:\n%s", s.logText())
	}
	resp, err := http.Get(s.url + "/healthz")
	if err != nil {
		s.t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("healthz: %s", resp.Status)
	}
}

// logText returns what the server logged so far.
func (s *server) logText() string { return s.Output() }

// rssKB returns the server's resident set size in KiB.
func (s *server) rssKB() int {
	s.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID()))
	if err != nil {
		s.t.Fatalf("read process status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				s.t.Fatalf("parse VmRSS %q: %v", line, err)
			}
			return n
		}
	}
	s.t.Fatal("no VmRSS in process status")
	return 0
}

// token mints a token with the server's own command, as an operator would.
func (s *server) token(user, role string, rooms ...string) string {
	s.t.Helper()
	args := []string{"-data", s.dir, "-secret", testSecret, "token", "-user", user, "-role", role}
	if len(rooms) > 0 {
		args = append(args, "-rooms", strings.Join(rooms, ","))
	}
	out, err := exec.Command(s.bin, args...).Output()
	if err != nil {
		s.t.Fatalf("danmakud token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// dialTCP opens a raw TCP connection to the server.
func (s *server) dialTCP() net.Conn {
	s.t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	return c
}

// client is an HTTP client with a bounded pool and timeout.
func newClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, MaxConnsPerHost: 32},
	}
}

// sendBody is a valid send body.
func sendBody(room, text string) []byte {
	b, _ := json.Marshal(map[string]any{"objectId": room, "content": map[string]any{"text": text}})
	return b
}

// send posts a valid danmaku with token and returns its id; any failure
// fails the test.
func send(t *testing.T, c *http.Client, base, tok, room, text string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/danmu/send", bytes.NewReader(sendBody(room, text)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("send %q: %s %s", text, resp.Status, b)
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		t.Fatalf("send %q: answer %s", text, b)
	}
	return d.ID
}

// storedTexts pages through a room and returns every stored text.
func storedTexts(t *testing.T, c *http.Client, base, room string) map[string]int {
	t.Helper()
	out := map[string]int{}
	cursor := "0"
	for range 10000 {
		resp, err := c.Get(base + "/danmu/pull/" + room + "?size=100&cursor=" + cursor)
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		var page struct {
			Data []struct {
				Content struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"data"`
			Cursor string `json:"cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("pull: %s %v", resp.Status, err)
		}
		for _, d := range page.Data {
			out[d.Content.Text]++
		}
		if page.Cursor == "-1" || page.Cursor == "" {
			return out
		}
		cursor = page.Cursor
	}
	t.Fatal("pull did not end")
	return nil
}
