// Package e2e holds the browser tests of danmakud's compatibility layer
// (DPlayer, unmodified, from the npm registry) and the harness they share
// with the SDK's browser test: build the real danmakud binary, run it on a
// fixed loopback port (so that it can be killed and restarted under the
// same address), and drive Debian's Chromium with chromedp.
//
// The harness needs Chromium at /usr/bin/chromium (scripts/browser.sh
// installs it) and, for DPlayer, node_modules (scripts/services.sh start
// runs npm ci). Without them the tests fail with a message saying so; they
// never skip.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/reliability"
)

// ChromiumPath is where Debian installs Chromium (scripts/browser.sh).
const ChromiumPath = "/usr/bin/chromium"

// RepoRoot returns the repository root: the nearest directory above the
// working directory that holds go.mod.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := reliability.ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// Build compiles cmd/danmakud into a temporary directory and returns the
// binary's path.
func Build(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := reliability.BuildServer(ctx, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Server is a danmakud process started for a test on a fixed loopback
// address, with its data in a temporary directory.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT

	bin  string
	data string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

// Start runs bin on a free loopback port with a fresh data directory,
// CORS open to every origin and rate limits off, plus extra flags, and
// waits until it is healthy. The process is stopped when the test ends.
func Start(tb testing.TB, bin string, extra ...string) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		tb.Fatalf("free port: %v", err)
	}
	s := &Server{URL: "http://" + addr, Addr: addr, bin: bin, data: tb.TempDir()}
	s.args = append([]string{"-addr", addr, "-data", s.data, "-rate-limits=false", "-cors-origins", "*"}, extra...)
	s.start(tb)
	tb.Cleanup(func() { s.Kill(tb) })
	return s
}

// start runs the process and waits for /healthz.
func (s *Server) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout = &lockedWriter{s: s}
	cmd.Stderr = &lockedWriter{s: s}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start danmakud: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // The exit status is not interesting: tests kill it.
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.URL + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			tb.Fatalf("danmakud exited before it was healthy:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("danmakud at %s is not healthy after 30 s:\n%s", s.URL, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill ends the process at once (SIGKILL: no close frames, no flush), as a
// crash or a lost machine would, and waits until it has exited.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // It may have exited already.
	<-s.done
	s.cmd = nil
}

// Restart starts the process again on the same address and data
// directory, after Kill.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if s.cmd != nil {
		tb.Fatalf("Restart: the server is still running")
	}
	s.start(tb)
}

// Log returns what the process wrote so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

// Danmaku is the part of a stored danmaku that the tests look at.
type Danmaku struct {
	ID       string `json:"id"`
	ObjectID string `json:"objectId"`
	UserID   string `json:"userId"`
	Content  struct {
		Text     string  `json:"text"`
		Color    string  `json:"color"`
		Position int     `json:"position"`
		Time     float64 `json:"time"`
	} `json:"content"`
}

// Send stores a danmaku through POST /danmu/send and returns it.
func (s *Server) Send(tb testing.TB, objectID, userID string, content map[string]any) Danmaku {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"objectId": objectID, "userId": userID, "content": content})
	if err != nil {
		tb.Fatalf("encode send: %v", err)
	}
	res, err := http.Post(s.URL+"/danmu/send", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("POST /danmu/send: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("POST /danmu/send %s: %s %s (%v)", body, res.Status, b, err)
	}
	var d Danmaku
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		tb.Fatalf("POST /danmu/send: bad answer %s (%v)", b, err)
	}
	return d
}

// Stored returns the first 100 stored danmaku of objectID in playback
// order, read through GET /danmu/queryByTime.
func (s *Server) Stored(tb testing.TB, objectID string) []Danmaku {
	tb.Helper()
	res, err := http.Get(s.URL + "/danmu/queryByTime/" + objectID + "?playingTime=0&size=100")
	if err != nil {
		tb.Fatalf("queryByTime: %v", err)
	}
	defer res.Body.Close()
	var page struct {
		Data []Danmaku `json:"data"`
	}
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("queryByTime %s: %s", objectID, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		tb.Fatalf("queryByTime %s: %v", objectID, err)
	}
	return page.Data
}

// ChromiumOptions are the allocator options of a headless Debian Chromium
// as this machine needs them (GUIDE: root needs --no-sandbox; the closed
// network needs background networking off), with a fresh user-data dir
// and a window of width × height.
func ChromiumOptions(userDataDir string, width, height int) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(userDataDir),
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
		chromedp.WindowSize(width, height),
	}
}

// Browser starts a headless Chromium for the test, with the flags this
// machine needs, and returns a tab's context. Chromium stops when the
// test ends.
func Browser(tb testing.TB) context.Context {
	tb.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		tb.Fatalf("the browser test needs Chromium at %s (%v): run scripts/browser.sh", ChromiumPath, err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), ChromiumOptions(tb.TempDir(), 1024, 768)...)
	ctx, cancel := chromedp.NewContext(alloc)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start Chromium: %v (reinstall it with scripts/browser.sh)", err)
	}
	return ctx
}

// Eval evaluates expr in the page and decodes its value; a promise is
// awaited.
func Eval[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls the boolean expression until it holds, and fails the test
// with what when timeout passes first.
func WaitFor(tb testing.TB, ctx context.Context, expr string, timeout time.Duration, what string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := chromedp.Run(cctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: waited %v for %s (last error: %v)", what, timeout, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// JS quotes s as a JavaScript string literal.
func JS(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return `""`
	}
	return string(b)
}
