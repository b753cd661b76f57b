package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// item is one danmaku on screen, as window.__danmaku.onScreen() reports it.
type item struct {
	ID     string  `json:"id"`
	Text   string  `json:"text"`
	Label  string  `json:"label"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	W      float64 `json:"w"`
	Mode   int     `json:"mode"`
	Mine   bool    `json:"mine"`
	UserID string  `json:"userId"`
}

// tab is one browser tab showing the player or the admin page.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	dialogs  []string // Messages of JavaScript dialogs that opened.
	problems []string // Uncaught exceptions and console errors.
}

// openTab opens path (such as "/watch/x") in a new tab and waits until the
// player runs and its live socket is open. Each tab has its own browser
// context, so its own cookies and storage: it is a different viewer.
func openTab(t *testing.T, path string) *tab {
	t.Helper()
	p := newTab(t)
	p.navigate(path)
	p.waitFor(`window.__danmaku !== undefined && window.__danmaku.socket() === 'open'`, 15*time.Second,
		"the player did not start and connect its live socket")
	return p
}

// newTab opens a blank tab in a browser context of its own, recording its
// dialogs, uncaught exceptions and console errors.
func newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(shared.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &tab{t: t, ctx: ctx}

	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.dialogs = append(p.dialogs, ev.Message)
			p.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				p.mu.Lock()
				p.problems = append(p.problems, m.String())
				p.mu.Unlock()
			}
		}
	}()

	return p
}

// navigate loads path in the tab.
func (p *tab) navigate(path string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(shared.baseURL+path)); err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
}

// do runs browser actions in the tab, failing the test on error.
func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v%s", what, err, p.diagnostics())
	}
}

// eval evaluates expr in the page and decodes its value into T. A promise
// is awaited.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v%s", expr, err, p.diagnostics())
	}
	return v
}

// waitFor polls the boolean expression until it holds or timeout passes.
func (p *tab) waitFor(expr string, timeout time.Duration, what string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := p.tryBool(expr)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s (waited %v for %s; last error %v)%s", what, timeout, expr, err, p.diagnostics())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *tab) tryBool(expr string) (bool, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
}

// onScreen returns the danmaku on screen.
func (p *tab) onScreen() []item {
	p.t.Helper()
	return eval[[]item](p, `window.__danmaku.onScreen()`)
}

// find returns the danmaku on screen whose text is text.
func (p *tab) find(text string) []item {
	p.t.Helper()
	var out []item
	for _, it := range p.onScreen() {
		if it.Text == text {
			out = append(out, it)
		}
	}
	return out
}

// waitText waits until a danmaku with text is on screen and returns it.
func (p *tab) waitText(text string, timeout time.Duration) item {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`window.__danmaku.onScreen().some((it) => it.text === %s)`, jsString(text)), timeout,
		fmt.Sprintf("danmaku %q did not appear", text))
	return p.find(text)[0]
}

// seek moves the player's clock to t seconds and waits until the loader
// has started again from there.
func (p *tab) seek(t float64) {
	p.t.Helper()
	eval[bool](p, fmt.Sprintf(`(window.__danmaku.seek(%g), true)`, t))
}

// screenshot saves the stage (video and danmaku) as a PNG artifact and
// returns it.
func (p *tab) screenshot(name string) []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("main")))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(p.t, name, b)
	return b
}

// diagnostics describes the page's state for a failure message.
func (p *tab) diagnostics() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		clock: window.__danmaku && window.__danmaku.clock(),
		loader: window.__danmaku && window.__danmaku.loader(),
		counts: window.__danmaku && window.__danmaku.counts(),
		onScreen: window.__danmaku && window.__danmaku.onScreen().map((it) => it.text).slice(0, 20),
		status: document.getElementById('status') && document.getElementById('status').textContent,
		adminStatus: document.getElementById('admin-status') && document.getElementById('admin-status').textContent,
		feed: window.__admin && window.__admin.feed().slice(0, 10),
		feedState: window.__admin && window.__admin.feedState(),
	})`))
	if err != nil {
		state = "unavailable: " + err.Error()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("\npage state: %s\npage errors: %s\ndialogs: %q", state, strings.Join(p.problems, "; "), p.dialogs)
}

// pageErrors returns the uncaught exceptions and console errors so far.
func (p *tab) pageErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// dialogCount returns how many JavaScript dialogs opened.
func (p *tab) dialogCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.dialogs)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
