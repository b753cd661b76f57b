package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	browsertest "github.com/danmakud/danmakud/compat/e2e"
	"github.com/danmakud/danmakud/reliability"
)

// adminPassword is the admin credential the test server is started with.
const adminPassword = "e2e-admin-password"

// env is what TestMain starts for every test: the real danmakud binary on
// a free port and one headless Chromium.
type env struct {
	baseURL    string // http://127.0.0.1:PORT
	browser    context.Context
	repoRoot   string // For artifacts/ and docs/.
	bin        string // The danmakud binary, which also makes user tokens.
	secret     string // The server's token secret.
	adminToken string // Signed in once through the API.

	mu     sync.Mutex
	tokens map[string]string // User tokens by user id.
}

var shared env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := os.Stat(browsertest.ChromiumPath); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the browser tests need Chromium at %s (%v).\nInstall it with: scripts/browser.sh\n", browsertest.ChromiumPath, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "danmakud-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	root, err := reliability.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	buildCtx, cancelBuild := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err := reliability.BuildServer(buildCtx, tmp)
	cancelBuild()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	secret, err := randomSecret()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	srv, addr, err := startServer(bin, filepath.Join(tmp, "data"), secret)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer srv.stop()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		browsertest.ChromiumOptions(filepath.Join(tmp, "chromium"), 1280, 900)...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start Chromium: %v\nReinstall it with: scripts/browser.sh\n", err)
		return 1
	}
	shared = env{baseURL: "http://" + addr, browser: browser, repoRoot: root, bin: bin, secret: secret, tokens: map[string]string{}}
	if shared.adminToken, err = login(adminPassword); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: admin sign-in:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "server log (last 4 KB):\n%s\n", srv.logTail(4096))
	}
	return code
}

// server is a running danmakud process.
type server struct {
	cmd  *exec.Cmd
	done chan error

	mu  sync.Mutex
	log bytes.Buffer
}

// logTail returns the last n bytes the server logged.
func (s *server) logTail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(tail(s.log.Bytes(), n))
}

// randomSecret returns a fresh token secret for the test server.
func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// startServer runs bin on 127.0.0.1:0 in anonymous mode with the admin
// password and returns the address it bound, read from its JSON log. Rate
// limits are off: the tests send faster than a person.
func startServer(bin, dataDir, secret string) (*server, string, error) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", dataDir, "-log-format", "json",
		"-secret", secret, "-admin-password", adminPassword, "-rate-limits=false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", fmt.Errorf("server stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "danmakud listening" {
				select {
				case addrc <- rec.Addr:
				default:
				}
			}
			s.mu.Lock()
			s.log.Write(append(line, '\n'))
			s.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case addr := <-addrc:
		if err := waitHealthy("http://" + addr); err != nil {
			s.stop()
			return nil, "", err
		}
		return s, addr, nil
	case err := <-s.done:
		return nil, "", fmt.Errorf("server exited before listening: %v", err)
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, "", errors.New("server did not report its address within 60 s")
	}
}

func waitHealthy(base string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server at %s is not healthy after 20 s", base)
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// uniqueObject returns an object id that no other test uses.
func uniqueObject(prefix string) string {
	return fmt.Sprintf("e2e-%s-%d", prefix, time.Now().UnixNano())
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// login signs in as the admin through the API and returns the token.
func login(password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"password": password})
	res, err := http.Post(shared.baseURL+"/admin/api/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("POST /admin/api/login: %w", err)
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("POST /admin/api/login: %s: %s", res.Status, b)
	}
	return out.Token, nil
}

// userToken returns a token for userID made by the server binary's token
// command with the server's secret, so that a test can send as a named
// user: the server ignores a userId in the body.
func userToken(t *testing.T, userID string) string {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if tok, ok := shared.tokens[userID]; ok {
		return tok
	}
	out, err := exec.Command(shared.bin, "-secret", shared.secret, "token", "-user", userID).Output()
	if err != nil {
		t.Fatalf("danmakud token -user %s: %v", userID, err)
	}
	tok := strings.TrimSpace(string(out))
	shared.tokens[userID] = tok
	return tok
}

// call makes an API request with an optional bearer token and JSON body,
// and returns the status and the answer.
func call(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, shared.baseURL+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// postDanmaku stores a danmaku through the HTTP API as userID and returns
// its id.
func postDanmaku(t *testing.T, objectID, userID, text string, mode int, at float64) string {
	t.Helper()
	status, b := call(t, "POST", "/danmu/send", userToken(t, userID), map[string]any{
		"objectId": objectID,
		"content":  map[string]any{"text": text, "color": "#ffffff", "size": "25px", "position": mode, "time": at},
	})
	if status != http.StatusOK {
		t.Fatalf("POST /danmu/send %q: %d: %s", text, status, b)
	}
	var d struct {
		ID     string `json:"id"`
		UserID string `json:"userId"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		t.Fatalf("POST /danmu/send: bad answer %s", b)
	}
	if d.UserID != userID {
		t.Fatalf("POST /danmu/send as %s stored userId %q", userID, d.UserID)
	}
	return d.ID
}

// writeArtifact saves b under artifacts/ at the module root.
func writeArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := filepath.Join(shared.repoRoot, "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatalf("write artifact %s: %v", name, err)
	}
}
