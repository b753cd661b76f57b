package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian installs Chromium (scripts/browser.sh).
const chromiumPath = "/usr/bin/chromium"

// env is what TestMain starts for every test: the real danmakud binary on
// a free port and one headless Chromium.
type env struct {
	baseURL  string // http://127.0.0.1:PORT
	browser  context.Context
	repoRoot string // For artifacts/ and docs/.
}

var shared env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the browser tests need Chromium at %s (%v).\nInstall it with: scripts/browser.sh\n", chromiumPath, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "danmakud-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	bin := filepath.Join(tmp, "danmakud")
	if err := build(root, bin); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	srv, addr, err := startServer(bin, filepath.Join(tmp, "data"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer srv.stop()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(filepath.Join(tmp, "chromium")),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start Chromium: %v\nReinstall it with: scripts/browser.sh\n", err)
		return 1
	}
	shared = env{baseURL: "http://" + addr, browser: browser, repoRoot: root}
	return m.Run()
}

// repoRoot returns the module root: the parent of this package.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("module root not found above %s: %w", wd, err)
	}
	return root, nil
}

// build compiles cmd/danmakud. DANMAKUD_E2E_OVERLAY, when set, is passed
// to go build -overlay (for trying wiring that is not committed yet).
func build(root, out string) error {
	args := []string{"build", "-o", out}
	if ov := os.Getenv("DANMAKUD_E2E_OVERLAY"); ov != "" {
		args = append(args, "-overlay", ov)
	}
	args = append(args, "./cmd/danmakud")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/danmakud: %w\n%s", err, b)
	}
	return nil
}

// server is a running danmakud process.
type server struct {
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// startServer runs bin on 127.0.0.1:0 and returns the address it bound,
// read from its JSON log.
func startServer(bin, dataDir string) (*server, string, error) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", dataDir, "-log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", fmt.Errorf("server stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), log: &bytes.Buffer{}}
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
			s.log.Write(append(line, '\n'))
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

// postDanmaku stores a danmaku through the HTTP API.
func postDanmaku(t *testing.T, objectID, userID, text string, mode int, at float64) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"objectId": objectID,
		"userId":   userID,
		"content":  map[string]any{"text": text, "color": "#ffffff", "size": "25px", "position": mode, "time": at},
	})
	res, err := http.Post(shared.baseURL+"/danmu/send", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /danmu/send: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /danmu/send %q: %s: %s", text, res.Status, b)
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		t.Fatalf("POST /danmu/send: bad answer %s", b)
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
