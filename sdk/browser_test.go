package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/internal/browsertest"
	"github.com/danmakud/danmakud/internal/testenv"
)

// listed returns an expression counting the example page's list entries
// whose text is text.
func listed(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#list li')].filter((li) => li.textContent === %s).length`, browsertest.JS(text))
}

// TestSDKInChromium runs the SDK in Chromium against the real server: one
// build, one server and one browser for all its parts. The part that
// restarts the server runs last.
func TestSDKInChromium(t *testing.T) {
	browsertest.NeedChromium(t)
	srv := testenv.Danmakud(t, "-data", t.TempDir(), "-rate-limits=false", "-cors-origins", "*", "-tick", "200ms")
	browser := browsertest.Browser(t)
	tab := func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("backoff", func(t *testing.T) { testBackoff(t, srv, tab(t)) })
	t.Run("errors", func(t *testing.T) { testSendErrors(t, srv, tab(t)) })
	t.Run("player calls", func(t *testing.T) { testPlayerCalls(t, srv, tab(t)) })
	t.Run("example", func(t *testing.T) { testExample(t, srv, tab(t)) })
}

// testExample loads the example page from the real server, sends through
// the SDK and sees the batch come back; drops the socket and sees the SDK
// reconnect without repeating what it showed; kills and restarts the
// server on the same port and sees the SDK reconnect and receive again.
func testExample(t *testing.T, srv *testenv.Server, tab context.Context) {
	obj := fmt.Sprintf("sdk-e2e-%d", time.Now().UnixNano())

	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL()+"/sdk/example.html?room="+obj)); err != nil {
		t.Fatalf("open the example page: %v", err)
	}
	browsertest.WaitFor(t, tab, `window.danmakuRoom?.status === 'open' && document.getElementById('status').textContent === 'open'`,
		20*time.Second, "the example page did not connect")
	// Count welcomes from now on: the client reads its handlers when it
	// calls them.
	browsertest.Eval[bool](t, tab, `(() => { window.welcomes = 0; window.recovered = []; danmakuRoom.options.onWelcome = (w) => { window.welcomes++; window.recovered.push(w.recovered); }; return true; })()`)

	// 1. Send through the page's box: the SDK sends over the socket and the
	// batch brings the danmaku back, marked as the sender's own.
	first := "hello from the SDK 你好"
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#send-text"), first),
		chromedp.Click(chromedp.CSS(`#send-form button[type=submit]`)),
	); err != nil {
		t.Fatalf("type and send: %v", err)
	}
	browsertest.WaitFor(t, tab, listed(first)+` === 1`, 10*time.Second, "the sent danmaku did not come back in a batch")
	if browsertest.Eval[string](t, tab, `document.getElementById('error').textContent`) != "" {
		t.Errorf("the page shows an error after sending")
	}
	mine := browsertest.Eval[bool](t, tab, fmt.Sprintf(`[...document.querySelectorAll('#list li.mine')].some((li) => li.textContent === %s)`, browsertest.JS(first)))
	if !mine {
		t.Errorf("the sender's own danmaku is not marked as its own")
	}
	stored := srv.Stored(t, obj)
	if len(stored) != 1 || stored[0].Content.Text != first || stored[0].UserID == "" {
		t.Fatalf("stored after the SDK send: %+v, want one danmaku %q with a user id", stored, first)
	}

	// A danmaku sent by someone else through the HTTP API arrives too, and
	// is not marked as the page's own.
	other := "from another viewer <b>not bold</b>"
	// The SDK receives compact batches (?v=2) and hands the page items in
	// the seed's shape: the same id and content as stored.
	browsertest.Eval[bool](t, tab, `(() => { const prev = danmakuRoom.options.onBatch; window.batchItems = []; danmakuRoom.options.onBatch = (b) => { window.batchItems.push(...b.items); prev(b); }; return true; })()`)
	sent := srv.Send(t, obj, "someone-else", map[string]any{"text": other, "time": 3, "color": "#fe0302", "position": 5})
	browsertest.WaitFor(t, tab, listed(other)+` === 1`, 10*time.Second, "another viewer's danmaku did not arrive")
	item := browsertest.Eval[string](t, tab, `JSON.stringify(window.batchItems.map((d) => [d.id, d.objectId, d.content.text, d.content.color, d.content.size, d.content.position, d.content.time]))`)
	var want strings.Builder
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	_ = enc.Encode([][]any{{sent.ID, obj, other, "#fe0302", "25px", 5, 3}})
	if item != strings.TrimSpace(want.String()) {
		t.Errorf("the batch's items reached the page as %s, want %s", item, want.String())
	}
	if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('#list b').length`); n != 0 {
		t.Errorf("danmaku text became HTML: %d <b> elements", n)
	}

	// The history helpers answer the stored danmaku.
	texts := browsertest.Eval[[]string](t, tab, `danmakuRoom.queryByTime(0, 10).then((p) => p.data.map((d) => d.content.text))`)
	if len(texts) != 2 || texts[0] != first || texts[1] != other {
		t.Errorf("queryByTime(0, 10) = %q, want [%q %q] (playback order)", texts, first, other)
	}
	rest := browsertest.Eval[[]string](t, tab, `danmakuRoom.queryByTime(0, 1).then((p) => danmakuRoom.pull(p.cursor, 10)).then((p) => p.data.map((d) => d.content.text).concat([p.cursor]))`)
	if len(rest) != 2 || rest[0] != other || rest[1] != "-1" {
		t.Errorf("pull after the first page = %q, want [%q -1]", rest, other)
	}

	// 2. Drop the socket from the page: the SDK reconnects, and the welcome
	// (which repeats the recent batches) adds nothing to the list.
	browsertest.Eval[bool](t, tab, `(() => { danmakuRoom.ws.close(); return true; })()`)
	browsertest.WaitFor(t, tab, `window.welcomes >= 1 && danmakuRoom.status === 'open'`, 20*time.Second, "the SDK did not reconnect after its socket closed")
	if n := browsertest.Eval[int](t, tab, listed(first)); n != 1 {
		t.Errorf("after a reconnect %q is listed %d times, want once", first, n)
	}
	if n := browsertest.Eval[int](t, tab, listed(other)); n != 1 {
		t.Errorf("after a reconnect %q is listed %d times, want once", other, n)
	}
	if r := browsertest.Eval[[]bool](t, tab, `window.recovered`); len(r) != 1 || !r[0] {
		t.Errorf("the reconnection's welcome has recovered %v, want [true]: the SDK resumes after its last batch", r)
	}

	// 3. Kill the server. A send while it is down fails with 'unavailable'
	// (over HTTP, since the socket is gone). Restart it on the same port:
	// the SDK reconnects by itself and receives new batches.
	srv.Kill()
	browsertest.WaitFor(t, tab, `danmakuRoom.status === 'reconnecting'`, 10*time.Second, "the SDK did not notice the server going away")
	code := browsertest.Eval[string](t, tab, `danmakuRoom.send('while down').then(() => 'sent', (err) => err.code)`)
	if code != "unavailable" {
		t.Errorf("send while the server is down: %q, want the error code unavailable", code)
	}
	srv.Restart(t)
	browsertest.WaitFor(t, tab, `window.welcomes >= 2 && danmakuRoom.status === 'open'`, 45*time.Second,
		"the SDK did not reconnect after the server restarted")
	if r := browsertest.Eval[[]bool](t, tab, `window.recovered`); !r[len(r)-1] {
		t.Errorf("the welcome after the restart has recovered %v, want true: the room's history is in the store", r)
	}

	after := "after the restart"
	srv.Send(t, obj, "someone-else", map[string]any{"text": after, "time": 5})
	browsertest.WaitFor(t, tab, listed(after)+` === 1`, 10*time.Second, "no batch arrived after the server restarted")
	again := "sent again through the SDK"
	got := browsertest.Eval[string](t, tab, fmt.Sprintf(`danmakuRoom.send(%s).then((d) => d.content.text)`, browsertest.JS(again)))
	if got != again {
		t.Errorf("send after the restart resolved with %q, want %q", got, again)
	}
	browsertest.WaitFor(t, tab, listed(again)+` === 1`, 10*time.Second, "the SDK's own send after the restart did not come back")
	for _, text := range []string{first, other} {
		if n := browsertest.Eval[int](t, tab, listed(text)); n != 1 {
			t.Errorf("after the restart %q is listed %d times, want once", text, n)
		}
	}
	if strings.Contains(browsertest.Eval[string](t, tab, `document.getElementById('error').textContent`), "not JSON") {
		t.Errorf("the SDK reported a malformed server message")
	}
}

// testSendErrors checks that a refused send rejects its promise with the
// server's code and field, over the socket and over HTTP.
func testSendErrors(t *testing.T, srv *testenv.Server, tab context.Context) {
	obj := fmt.Sprintf("sdk-err-%d", time.Now().UnixNano())
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL()+"/sdk/example.html?room="+obj)); err != nil {
		t.Fatalf("open the example page: %v", err)
	}
	browsertest.WaitFor(t, tab, `window.danmakuRoom?.status === 'open'`, 20*time.Second, "the example page did not connect")

	long := strings.Repeat("x", 101)
	for _, via := range []string{"socket", "http"} {
		send := fmt.Sprintf(`danmakuRoom.send(%s)`, browsertest.JS(long))
		if via == "http" {
			send = fmt.Sprintf(`danmakuRoom.post({text: %s})`, browsertest.JS(long))
		}
		got := browsertest.Eval[[]string](t, tab, send+`.then(() => ['sent'], (e) => [e.name, e.code, e.field, String(e.status)])`)
		want := []string{"DanmakuError", "invalid", "content.text"}
		if len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("%s: a too long text rejected with %q, want %q", via, got, want)
		}
		if via == "http" && got[len(got)-1] != "400" {
			t.Errorf("http: status %s, want 400", got[len(got)-1])
		}
	}
	if n := len(srv.Stored(t, obj)); n != 0 {
		t.Errorf("%d danmaku stored after refused sends, want 0", n)
	}
}

// testBackoff checks the reconnect delays in the browser: they grow
// exponentially from the minimum, stay within [ceiling/2, ceiling] and
// never pass 30 s.
func testBackoff(t *testing.T, srv *testenv.Server, tab context.Context) {
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL()+"/sdk/example.html?room=backoff")); err != nil {
		t.Fatalf("open the example page: %v", err)
	}
	type row struct {
		N, Low, High, Min, Max int
	}
	rows := browsertest.Eval[[]row](t, tab, `import('./danmaku.js').then(({ backoffDelay }) => {
		const out = [];
		for (let n = 1; n <= 12; n++) {
			out.push({ N: n, Low: backoffDelay(n, 500, 30000, () => 0), High: backoffDelay(n, 500, 30000, () => 0.999999),
				Min: Math.min(...Array.from({ length: 50 }, () => backoffDelay(n))), Max: Math.max(...Array.from({ length: 50 }, () => backoffDelay(n))) });
		}
		return out;
	})`)
	if len(rows) != 12 {
		t.Fatalf("got %d rows", len(rows))
	}
	for _, r := range rows {
		ceiling := min(30000, 500<<(r.N-1))
		if r.Low != ceiling/2 || r.High != ceiling {
			t.Errorf("attempt %d: delays from %d to %d, want %d to %d", r.N, r.Low, r.High, ceiling/2, ceiling)
		}
		if r.Min < ceiling/2 || r.Max > ceiling {
			t.Errorf("attempt %d: random delays in [%d, %d], outside [%d, %d]", r.N, r.Min, r.Max, ceiling/2, ceiling)
		}
	}
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}
