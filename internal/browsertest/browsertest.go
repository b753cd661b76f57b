// Package browsertest is the browser harness of danmakud's tests (e2e/,
// compat/e2e, sdk/): find Chromium, start it headless with the flags these
// machines need, and evaluate and wait for JavaScript in a page with
// chromedp. The server side comes from internal/testenv.
//
// Chromium is DANMAKUD_TEST_CHROMIUM when set, else "chromium" on the PATH
// (scripts/browser.sh installs Debian's). Without it a test fails with a
// message naming Chromium, or is skipped in -short mode.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/internal/testenv"
)

// ChromiumEnv names the Chromium binary to use instead of the one on the
// PATH.
const ChromiumEnv = "DANMAKUD_TEST_CHROMIUM"

// Chromium returns the path of the Chromium binary.
func Chromium() (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", ChromiumEnv, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", fmt.Errorf("no chromium on the PATH and %s is not set: %w", ChromiumEnv, err)
	}
	return p, nil
}

// NeedChromium returns the Chromium binary, or fails the test (skips it in
// -short mode) with a message naming Chromium.
func NeedChromium(tb testing.TB) string {
	tb.Helper()
	p, err := Chromium()
	if err != nil {
		testenv.Need(tb, "Chromium", err.Error()+"; install it with scripts/browser.sh")
	}
	return p
}

// Options are the allocator options of a headless Debian Chromium at
// execPath as these machines need them (GUIDE: root needs --no-sandbox;
// the closed network needs background networking off), with a fresh
// user-data dir and a window of width × height.
func Options(execPath, userDataDir string, width, height int) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
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

// Start starts a headless Chromium at execPath with a window of width ×
// height and returns a tab's context and the function that stops it.
func Start(execPath, userDataDir string, width, height int) (context.Context, context.CancelFunc, error) {
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), Options(execPath, userDataDir, width, height)...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	cancel := func() {
		cancelCtx()
		cancelAlloc()
	}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("start Chromium: %w (reinstall it with scripts/browser.sh)", err)
	}
	return ctx, cancel, nil
}

// Browser starts a headless Chromium for the test and returns a tab's
// context. Chromium stops when the test ends.
func Browser(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel, err := Start(NeedChromium(tb), tb.TempDir(), 1024, 768)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cancel)
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
