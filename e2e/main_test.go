package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

	"github.com/danmakud/danmakud/internal/browsertest"
	"github.com/danmakud/danmakud/internal/testenv"
)

// adminPassword is the admin credential the test server is started with.
const adminPassword = "e2e-admin-password"

// env is what the first test starts for every test: the real danmakud
// binary on a free port and one headless Chromium.
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

var (
	shared env

	// started is what setup starts once and TestMain stops.
	started struct {
		once     sync.Once
		err      error
		srv      *testenv.Server
		stopTabs context.CancelFunc
		tmp      string
	}
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(wrap{m}))
}

// wrap stops what setup started once the tests have run, and shows the end
// of the server's log when one failed.
type wrap struct{ m *testing.M }

func (w wrap) Run() int {
	code := w.m.Run()
	if started.srv != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "server log (last 4 KB):\n%s\n", started.srv.OutputTail(4096))
		}
		started.srv.Close()
	}
	if started.stopTabs != nil {
		started.stopTabs()
	}
	if started.tmp != "" {
		_ = os.RemoveAll(started.tmp)
	}
	return code
}

// setup starts the shared server and browser on the first call and fails
// the test if that failed. In -short mode the suite is skipped: it is slow
// and needs Chromium.
func setup(t *testing.T) {
	t.Helper()
	testenv.SkipShort(t, "e2e: the browser suite is slow and needs Chromium")
	chromium := browsertest.NeedChromium(t)
	bin := testenv.Binary(t)
	started.once.Do(func() { started.err = start(chromium, bin) })
	if started.err != nil {
		t.Fatal(started.err)
	}
}

// start starts the server (anonymous mode, the admin password, rate limits
// off: the tests send faster than a person) and Chromium, and signs in as
// the admin.
func start(chromium, bin string) error {
	tmp, err := os.MkdirTemp("", "danmakud-e2e-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	started.tmp = tmp
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	secret, err := randomSecret()
	if err != nil {
		return err
	}
	srv, err := testenv.StartServer(context.Background(), testenv.ServerConfig{Bin: bin, Args: []string{
		"-data", filepath.Join(tmp, "data"), "-log-format", "json",
		"-secret", secret, "-admin-password", adminPassword, "-rate-limits=false"}})
	if err != nil {
		return err
	}
	started.srv = srv
	browser, stop, err := browsertest.Start(chromium, filepath.Join(tmp, "chromium"), 1280, 900)
	if err != nil {
		return err
	}
	started.stopTabs = stop
	shared = env{baseURL: srv.URL(), browser: browser, repoRoot: root, bin: bin, secret: secret, tokens: map[string]string{}}
	if shared.adminToken, err = login(adminPassword); err != nil {
		return fmt.Errorf("admin sign-in: %w", err)
	}
	return nil
}

// randomSecret returns a fresh token secret for the test server.
func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// uniqueObject returns an object id that no other test uses.
func uniqueObject(prefix string) string {
	return fmt.Sprintf("e2e-%s-%d", prefix, time.Now().UnixNano())
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
