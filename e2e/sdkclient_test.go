package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestPlayerResumesThroughSDK checks that the player's one client is the
// SDK and that the player resumes through it: the page loads
// /sdk/danmaku.js; in a live room, a danmaku sent while the player's socket
// is down arrives in the reconnection's welcome ("recovered") and shows
// once, and what was shown before the drop is not shown again.
func TestPlayerResumesThroughSDK(t *testing.T) {
	setup(t)
	obj := uniqueObject("resume")
	if status, body := call(t, "POST", "/admin/api/rooms/"+obj+"/live/start", shared.adminToken, map[string]any{}); status != http.StatusOK {
		t.Fatalf("start the live session: %d %s", status, body)
	}
	p := openTab(t, "/watch/"+obj)
	p.waitFor(`window.__danmaku.mode() === 'live'`, 10*time.Second, "the player did not go live")
	other := openTab(t, "/watch/"+obj)
	other.waitFor(`window.__danmaku.mode() === 'live'`, 10*time.Second, "the second player did not go live")

	scripts := eval[[]string](p, `performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)`)
	if !slices.Contains(scripts, "/sdk/danmaku.js") {
		t.Errorf("the player did not load the SDK; it loaded %q", scripts)
	}

	before := fmt.Sprintf("before the drop %d", time.Now().UnixNano()%100000)
	postDanmaku(t, obj, "resume-a", before, 1, 0)
	p.waitText(before, 5*time.Second)

	// Drop the socket with a long backoff, so that the next batch goes out
	// while the player is away.
	eval[bool](p, `(() => {
		const c = window.__danmaku.client();
		window.welcomes = [];
		const onWelcome = c.options.onWelcome;
		c.options.onWelcome = (w) => { window.welcomes.push(w.recovered === true); onWelcome(w); };
		c.options.minBackoffMs = 8000;
		c.options.maxBackoffMs = 8000;
		c.ws.close();
		return true;
	})()`)
	p.waitFor(`window.__danmaku.socket() === 'reconnecting'`, 5*time.Second, "the player did not notice its socket closing")
	away := fmt.Sprintf("sent while away %d", time.Now().UnixNano()%100000)
	postDanmaku(t, obj, "resume-b", away, 1, 0)
	other.waitText(away, 5*time.Second) // Its batch has gone out.
	if eval[string](p, `window.__danmaku.socket()`) == "open" {
		t.Fatal("the player reconnected before the batch went out; the test proves nothing")
	}

	p.waitFor(`window.welcomes.length === 1 && window.__danmaku.socket() === 'open'`, 15*time.Second, "the player did not reconnect")
	if r := eval[[]bool](p, `window.welcomes`); !r[0] {
		t.Errorf("the reconnection's welcome has recovered %v, want true: the player resumes after its last batch", r)
	}
	p.waitText(away, 5*time.Second)
	if n := len(p.find(away)); n != 1 {
		t.Errorf("%q is on screen %d times, want once", away, n)
	}
	if n := len(p.find(before)); n > 1 {
		t.Errorf("%q is on screen %d times after the reconnection, want at most once", before, n)
	}
	for _, e := range p.pageErrors() {
		t.Errorf("page error: %s", e)
	}
}
