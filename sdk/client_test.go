package sdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/internal/browsertest"
	"github.com/danmakud/danmakud/internal/testenv"
)

// testPlayerCalls checks, in Chromium against the real server, the calls
// that danmakud's own player makes through the SDK: me, heatmap, report,
// roomState, a client that starts only when told, the batches of a
// welcome marked as such, and a refused token that goes to onUnauthorized,
// whose handler signs out, after which the client connects without it.
func testPlayerCalls(t *testing.T, srv *testenv.Server, tab context.Context) {
	obj := fmt.Sprintf("sdk-calls-%d", time.Now().UnixNano())
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL()+"/sdk/example.html?room="+obj)); err != nil {
		t.Fatalf("open the example page: %v", err)
	}
	browsertest.WaitFor(t, tab, `window.danmakuRoom?.status === 'open'`, 20*time.Second, "the example page did not connect")

	// me answers the anonymous id the client took at its start.
	me := browsertest.Eval[[]string](t, tab, `danmakuRoom.me().then((m) => [m.userId, String(m.anonymous), danmakuRoom.userId])`)
	if len(me) != 3 || me[0] == "" || me[1] != "true" || me[2] != me[0] {
		t.Errorf("me() and userId = %q, want the same anonymous id twice", me)
	}

	d := srv.Send(t, obj, "someone", map[string]any{"text": "in the second bucket", "time": 15})
	srv.Send(t, obj, "someone", map[string]any{"text": "a later one", "time": 16})
	counts := browsertest.Eval[[]int](t, tab, `danmakuRoom.heatmap(4, 40).then((h) => h.counts)`)
	if len(counts) != 4 || counts[1] != 2 || counts[0]+counts[2]+counts[3] != 0 {
		t.Errorf("heatmap(4, 40) counts = %v, want [0 2 0 0]", counts)
	}

	ok := browsertest.Eval[bool](t, tab, fmt.Sprintf(`danmakuRoom.report(%s, 'spam').then((r) => r.ok === true)`, browsertest.JS(d.ID)))
	if !ok {
		t.Errorf("report did not resolve with ok")
	}
	bad := browsertest.Eval[[]string](t, tab, fmt.Sprintf(`danmakuRoom.report(%s, '').then(() => ['reported'], (e) => [e.code, e.field, e.message])`, browsertest.JS(d.ID)))
	if len(bad) != 3 || bad[0] != "invalid" || bad[1] != "reason" || bad[2][:7] != "reason:" {
		t.Errorf("a report without a reason rejected with %q, want invalid, the field reason, and a message that names it", bad)
	}

	room := browsertest.Eval[map[string]any](t, tab, `danmakuRoom.roomState()`)
	if room["objectId"] != obj || !(room["tickMs"].(float64) > 0) {
		t.Errorf("roomState() = %v, want the room %s with its tick", room, obj)
	}

	// A client made with start: false makes no connection until start();
	// then the welcome's batches reach onBatch marked as a welcome's, the
	// last one as last.
	welcome := browsertest.Eval[[]string](t, tab, fmt.Sprintf(`import('./danmaku.js').then(({ connect }) => new Promise((resolve) => {
		const seen = [];
		const c = connect('', %s, {
			start: false,
			onBatch: (b, info) => seen.push([b.items.map((d) => d.content.text).join('+'), info.welcome, info.recovered, info.last].join('/')),
			onWelcome: () => setTimeout(() => { c.close(); resolve(seen); }, 0),
		});
		setTimeout(() => { seen.push('status ' + c.status + ' ' + (c.ws === null)); c.start(); }, 300);
	}))`, browsertest.JS(obj)))
	want := []string{"status connecting true", "in the second bucket+a later one/true/false/true"}
	if fmt.Sprint(welcome) != fmt.Sprint(want) && !(len(welcome) == 3 && welcome[0] == want[0] &&
		welcome[1] == "in the second bucket/true/false/false" && welcome[2] == "a later one/true/false/true") {
		t.Errorf("a deferred client saw %q, want no socket before start() and then the welcome's batches %q", welcome, want[1:])
	}

	// A forged token: the server refuses it (401) over HTTP and on the
	// socket; onUnauthorized signs out, and the client connects without it.
	got := browsertest.Eval[[]string](t, tab, fmt.Sprintf(`import('./danmaku.js').then(({ connect }) => new Promise((resolve) => {
		const calls = [];
		const c = connect('', %s, {
			token: 'forged.token.value',
			onUnauthorized: (err) => { calls.push(err.code + ' ' + err.status); c.setToken(''); },
			onStatus: (s) => { if (s === 'open') { resolve([...calls, c.token, c.userId]); c.close(); } },
		});
		setTimeout(() => resolve(['timed out', c.status, ...calls]), 15000);
	}))`, browsertest.JS(obj)))
	if len(got) != 3 || got[0] != "unauthorized 401" || got[1] != "" || got[2] == "" {
		t.Errorf("with a forged token the client went %q, want one onUnauthorized (401), then open without a token as an anonymous viewer", got)
	}
}
