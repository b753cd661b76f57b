package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// feedRow is one row of the admin feed, as window.__admin.feed() reports it.
type feedRow struct {
	ObjectID string `json:"objectId"`
	UserID   string `json:"userId"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Code     string `json:"code"`
	Text     string `json:"text"`
	ID       string `json:"id"`
	Gone     bool   `json:"gone"`
}

// openAdmin opens the admin page in a new tab. With signedIn, the tab
// holds the admin token in its sessionStorage, as after signing in (the
// sign-in form itself is tested once: the server throttles sign-ins).
func openAdmin(t *testing.T, signedIn bool) *tab {
	t.Helper()
	p := newTab(t)
	p.navigate("/admin")
	p.waitFor(`window.__admin !== undefined`, 10*time.Second, "the admin page did not start")
	if signedIn {
		eval[bool](p, fmt.Sprintf(`(sessionStorage.setItem('danmakud.adminToken', %s), true)`, jsString(shared.adminToken)))
		p.do("reload", chromedp.Reload())
		p.waitFor(`window.__admin !== undefined && window.__admin.signedIn() && window.__admin.feedState().startsWith('live')`,
			10*time.Second, "the admin page did not accept the token")
	}
	return p
}

// watchRoom sets the admin feed's room filter through the form.
func (p *tab) watchRoom(objectID string) {
	p.t.Helper()
	p.do("filter the feed",
		chromedp.SetValue(chromedp.CSS("#feed-room"), objectID),
		chromedp.Click(chromedp.CSS(`#feed-filter button[type=submit]`)),
	)
	p.waitFor(fmt.Sprintf(`window.__admin.feedState() === %s`, jsString("live: "+objectID)), 10*time.Second, "the feed did not follow the room")
}

// feedRows returns the admin feed's rows, newest first.
func (p *tab) feedRows() []feedRow {
	p.t.Helper()
	return eval[[]feedRow](p, `window.__admin.feed()`)
}

// clickRowButton clicks a button (class cls) in the feed row of the event
// with outcome about text.
func (p *tab) clickRowButton(text, outcome, cls string) {
	p.t.Helper()
	ok := eval[bool](p, fmt.Sprintf(`(() => {
		const tr = [...document.querySelectorAll('#feed-rows tr')].find((tr) =>
			tr.dataset.outcome === %s && tr.querySelector('td.text').textContent === %s);
		const b = tr && tr.querySelector('button.' + %s);
		if (!b || b.disabled) return false;
		b.click();
		return true;
	})()`, jsString(outcome), jsString(text), jsString(cls)))
	if !ok {
		p.t.Fatalf("no %s button in the feed row %s %q%s", cls, outcome, text, p.diagnostics())
	}
}

// answerConfirm waits for the page's delete confirmation and confirms it
// (ok) or cancels it.
func (p *tab) answerConfirm(ok bool) {
	p.t.Helper()
	p.waitFor(`document.getElementById('confirm').open`, 3*time.Second, "no confirmation was asked")
	button := "#confirm-cancel"
	if ok {
		button = "#confirm-ok"
	}
	p.do("answer the confirmation", chromedp.Click(chromedp.CSS(button)))
	p.waitFor(`!document.getElementById('confirm').open`, 3*time.Second, "the confirmation did not close")
}

// TestAdminRefusesWithoutCredential checks that the admin page shows only
// its sign-in form without a valid token, that the API refuses such
// callers, and that a wrong password is refused; then signs in.
func TestAdminRefusesWithoutCredential(t *testing.T) {
	setup(t)
	postDanmaku(t, uniqueObject("secret"), "someone", "admin-only text", 1, 1)
	p := openAdmin(t, false)
	hiddenConsole := `!document.getElementById('signin').hidden && document.getElementById('console').hidden &&
		document.getElementById('feed-rows').children.length === 0 && !window.__admin.signedIn() &&
		window.__admin.feedState() === 'stopped' && !document.body.innerText.includes('admin-only text')`
	if !eval[bool](p, hiddenConsole) {
		t.Fatalf("without a token the admin page shows more than its sign-in form%s", p.diagnostics())
	}

	viewer := userToken(t, "plain-viewer")
	for _, path := range []string{"/admin/api/feed", "/admin/api/feed/stream", "/admin/api/stats", "/admin/api/words", "/admin/api/bans", "/admin/api/rooms/x"} {
		for _, c := range []struct {
			who, token string
			want       int
		}{{"no token", "", 401}, {"a forged token", "forged.token.value", 401}, {"a viewer's token", viewer, 403}} {
			if status, body := call(t, "GET", path, c.token, nil); status != c.want {
				t.Errorf("GET %s with %s: %d %s, want %d", path, c.who, status, body, c.want)
			}
		}
	}
	if status, _ := call(t, "GET", "/admin/api/feed/stream?token="+url.QueryEscape("forged.token.value"), "", nil); status != 401 {
		t.Errorf("feed stream with a forged ?token=: %d, want 401", status)
	}

	// A forged token in the tab's storage shows nothing either, and goes.
	eval[bool](p, `(sessionStorage.setItem('danmakud.adminToken', 'forged.token.value'), true)`)
	p.do("reload", chromedp.Reload())
	p.waitFor(`window.__admin !== undefined && sessionStorage.getItem('danmakud.adminToken') === null`, 10*time.Second,
		"a refused token was not dropped")
	if !eval[bool](p, hiddenConsole) {
		t.Fatalf("with a forged token the admin page shows more than its sign-in form%s", p.diagnostics())
	}

	p.do("wrong password",
		chromedp.SendKeys(chromedp.CSS("#signin-password"), "not the password"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)),
	)
	p.waitFor(`document.getElementById('signin-error').textContent === 'Wrong password.'`, 10*time.Second,
		"a wrong password was not reported")
	if !eval[bool](p, hiddenConsole+` && sessionStorage.getItem('danmakud.adminToken') === null`) {
		t.Fatalf("after a wrong password the admin page shows more than its sign-in form%s", p.diagnostics())
	}

	p.do("right password",
		chromedp.Clear(chromedp.CSS("#signin-password")),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), adminPassword),
		chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)),
	)
	p.waitFor(`window.__admin.signedIn() && window.__admin.feedState() === 'live: all rooms'`, 10*time.Second,
		"signing in with the password did not open the console")
	p.waitFor(`window.__admin.feed().some((r) => r.text === 'admin-only text')`, 10*time.Second,
		"the signed-in feed lacks a recent danmaku")
	if errs := p.pageErrors(); len(errs) > 0 {
		// The refused calls log failed requests; anything else is a bug.
		for _, e := range errs {
			if !strings.Contains(e, "401") && !strings.Contains(e, "Failed to load resource") {
				t.Errorf("page error: %s", e)
			}
		}
	}
}

// TestAdminDeleteRemovesFromViewer deletes a danmaku from the admin feed
// and checks that it leaves a viewer's screen within a tick and the stored
// history, while another stays; then bans its author from the same row.
func TestAdminDeleteRemovesFromViewer(t *testing.T) {
	setup(t)
	obj := uniqueObject("del")
	viewer := openTab(t, "/watch/"+obj)
	admin := openAdmin(t, true)
	admin.watchRoom(obj)
	// Seek only now, and send just ahead of the playhead: opening the admin
	// page can take seconds on a loaded machine, while the clock runs.
	viewer.seek(20)
	now := eval[float64](viewer, `window.__danmaku.clock().now`)

	const bad, good = "delete me please", "keep me here"
	id := postDanmaku(t, obj, "spammer-1", bad, 1, now+0.5)
	postDanmaku(t, obj, "viewer-b", good, 1, now+0.6)
	viewer.waitText(bad, 5*time.Second)
	viewer.waitText(good, 5*time.Second)
	admin.waitFor(fmt.Sprintf(`window.__admin.feed().some((r) => r.id === %s && r.outcome === 'accepted')`, jsString(id)),
		5*time.Second, "the feed does not show the danmaku")

	// A delete asks first; cancelled, it deletes nothing.
	admin.clickRowButton(bad, "accepted", "delete")
	admin.answerConfirm(false)
	time.Sleep(300 * time.Millisecond)
	if len(viewer.find(bad)) != 1 {
		t.Fatalf("a cancelled delete removed the danmaku from the viewer's screen")
	}
	admin.clickRowButton(bad, "accepted", "delete")
	admin.answerConfirm(true)
	start := time.Now()
	viewer.waitFor(fmt.Sprintf(`!window.__danmaku.onScreen().some((it) => it.id === %s)`, jsString(id)), 2500*time.Millisecond,
		"the deleted danmaku stayed on the viewer's screen")
	t.Logf("the viewer's screen lost the danmaku %v after the click", time.Since(start).Round(10*time.Millisecond))
	if len(viewer.find(good)) != 1 {
		t.Errorf("the other danmaku left the screen too")
	}
	admin.waitFor(fmt.Sprintf(`window.__admin.feed().some((r) => r.id === %s && r.outcome === 'deleted') &&
		window.__admin.feed().some((r) => r.id === %s && r.outcome === 'accepted' && r.gone)`, jsString(id), jsString(id)),
		5*time.Second, "the feed does not show the deletion")

	status, body := call(t, "GET", "/danmu/queryByTime/"+obj+"?playingTime=0&size=100", "", nil)
	if status != 200 {
		t.Fatalf("queryByTime: %d %s", status, body)
	}
	if strings.Contains(string(body), id) || !strings.Contains(string(body), good) {
		t.Errorf("stored history after the delete: %s", body)
	}
	// Seeking back reloads from the server: the danmaku stays gone.
	viewer.seek(20)
	viewer.waitText(good, 5*time.Second)
	if got := viewer.find(bad); len(got) != 0 {
		t.Errorf("the deleted danmaku came back after a seek: %+v", got)
	}

	// Ban the author from the same row: the form is filled in.
	admin.clickRowButton(bad, "accepted", "ban")
	if got := eval[string](admin, `document.getElementById('ban-user').value + '|' + document.getElementById('ban-room').value`); got != "spammer-1|"+obj {
		t.Fatalf("ban form = %q, want spammer-1|%s", got, obj)
	}
	admin.do("ban",
		chromedp.SetValue(chromedp.CSS("#ban-duration"), "600"),
		chromedp.SendKeys(chromedp.CSS("#ban-reason"), "spam"),
		chromedp.Click(chromedp.CSS(`#ban-form button[type=submit]`)),
	)
	admin.waitFor(`[...document.querySelectorAll('#bans-list li')].some((li) => li.dataset.user === 'spammer-1')`, 5*time.Second,
		"the ban list does not show the ban")
	status, body = call(t, "POST", "/danmu/send", userToken(t, "spammer-1"), map[string]any{
		"objectId": obj, "content": map[string]any{"text": "after the ban", "time": 21},
	})
	if status != http.StatusForbidden {
		t.Errorf("a banned user's send: %d %s, want 403", status, body)
	}
	var bans struct {
		Bans []struct {
			UserID, Room, Reason string
		} `json:"bans"`
	}
	_, body = call(t, "GET", "/admin/api/bans?room="+obj, shared.adminToken, nil)
	if err := json.Unmarshal(body, &bans); err != nil || len(bans.Bans) != 1 || bans.Bans[0].Reason != "spam" {
		t.Errorf("bans of the room: %s", body)
	}
}

// TestAdminFeedShowsRejected adds a reject word for one room through the
// word editor, sends it from a player, and checks that the feed shows the
// rejection with its reason; removing the word lets the text through.
func TestAdminFeedShowsRejected(t *testing.T) {
	setup(t)
	obj := uniqueObject("words")
	admin := openAdmin(t, true)
	admin.watchRoom(obj)
	admin.do("choose the room's word list",
		chromedp.SetValue(chromedp.CSS("#words-room"), obj),
		chromedp.Click(chromedp.CSS(`#words-scope button[type=submit]`)),
	)
	admin.waitFor(fmt.Sprintf(`document.getElementById('words-title').textContent === %s`, jsString("room "+obj)), 5*time.Second,
		"the word editor did not switch to the room")
	admin.do("add a reject word",
		chromedp.SendKeys(chromedp.CSS("#word-text"), "forbiddenword"),
		chromedp.SetValue(chromedp.CSS("#word-action"), "reject"),
		chromedp.Click(chromedp.CSS(`#word-add button[type=submit]`)),
	)
	admin.waitFor(`[...document.querySelectorAll('#words-list li')].some((li) => li.dataset.word === 'forbiddenword')`, 5*time.Second,
		"the word list does not show the new word")
	_, body := call(t, "GET", "/admin/api/words?room="+obj, shared.adminToken, nil)
	if !strings.Contains(string(body), `"word":"forbiddenword"`) || !strings.Contains(string(body), `"action":"reject"`) {
		t.Fatalf("the room's words: %s", body)
	}

	viewer := openTab(t, "/watch/"+obj)
	const text = "this has forbiddenword inside"
	viewer.do("send",
		chromedp.SendKeys(chromedp.CSS("#send-text"), text),
		chromedp.Click(chromedp.CSS(`#send-form button[type=submit]`)),
	)
	viewer.waitFor(`document.getElementById('status').textContent.startsWith('Not sent')`, 5*time.Second,
		"the player did not report the refusal")
	admin.waitFor(fmt.Sprintf(`window.__admin.feed().some((r) => r.outcome === 'rejected' && r.text === %s)`, jsString(text)),
		5*time.Second, "the feed does not show the rejected danmaku")
	var row feedRow
	for _, r := range admin.feedRows() {
		if r.Outcome == "rejected" && r.Text == text {
			row = r
		}
	}
	me := eval[string](viewer, `window.__danmaku.userId`)
	if row.Reason == "" || row.UserID != me || row.ObjectID != obj {
		t.Errorf("rejected row = %+v, want a reason, user %s and room %s", row, me, obj)
	}
	shown := eval[string](admin, fmt.Sprintf(`[...document.querySelectorAll('#feed-rows tr')].find((tr) =>
		tr.querySelector('td.text').textContent === %s).querySelector('td.reason').textContent`, jsString(text)))
	if shown == "" || !strings.Contains(shown, row.Reason) {
		t.Errorf("the row's reason cell reads %q, want %q", shown, row.Reason)
	}

	// Remove the word: the same kind of text goes through.
	admin.do("remove the word", chromedp.Click(chromedp.CSS(`#words-list li[data-word=forbiddenword] button`)))
	admin.waitFor(`![...document.querySelectorAll('#words-list li')].some((li) => li.dataset.word === 'forbiddenword')`, 5*time.Second,
		"the word stayed in the list")
	const text2 = "forbiddenword is fine now"
	eval[bool](viewer, fmt.Sprintf(`window.__danmaku.send(%s).then(() => true)`, jsString(text2)))
	admin.waitFor(fmt.Sprintf(`window.__admin.feed().some((r) => r.outcome === 'accepted' && r.text === %s)`, jsString(text2)),
		5*time.Second, "the feed does not show the accepted danmaku")
}

// TestAdminLiveSessionSwitchesPlayer starts a live session from the admin
// page and checks that an open player switches to the live clock, that a
// player opened later starts live, and that a tick's batch is spread over
// the tick rather than shown as one wall.
func TestAdminLiveSessionSwitchesPlayer(t *testing.T) {
	setup(t)
	obj := uniqueObject("live")
	p := openTab(t, "/watch/"+obj)
	if m := eval[string](p, `window.__danmaku.mode()`); m != "vod" {
		t.Fatalf("mode before the session = %q, want vod", m)
	}
	admin := openAdmin(t, true)
	// The room's settings and live buttons stay out of sight until a room
	// has loaded: a click before that would act on no room.
	if eval[bool](admin, `getComputedStyle(document.getElementById('room-settings')).display !== 'none'`) {
		t.Fatalf("the room settings show before a room is loaded%s", admin.diagnostics())
	}
	admin.do("load the room",
		chromedp.SetValue(chromedp.CSS("#room-id"), obj),
		chromedp.Click(chromedp.CSS(`#room-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#room-settings")),
		chromedp.Click(chromedp.CSS("#live-start")),
	)
	admin.waitFor(`document.getElementById('room-live').textContent.startsWith('running')`, 5*time.Second,
		"the room panel does not show the session")
	start := time.Now()
	p.waitFor(`window.__danmaku.mode() === 'live' && window.__danmaku.clock().kind === 'live'`, 60*time.Second,
		"the open player did not switch to live mode")
	t.Logf("the open player switched to live mode %v after the session started", time.Since(start).Round(100*time.Millisecond))
	if !eval[bool](p, `!document.getElementById('live-badge').hidden && document.getElementById('time').textContent.startsWith('live')`) {
		t.Errorf("the player does not show that it is live%s", p.diagnostics())
	}

	later := openTab(t, "/watch/"+obj)
	later.waitFor(`window.__danmaku.mode() === 'live'`, 5*time.Second, "a player opened during the session is not live")

	// Five danmaku in one tick: the player spreads them over the tick, so
	// at any moment they have scrolled different distances.
	texts := []string{"live msg 1", "live msg 2", "live msg 3", "live msg 4", "live msg 5"}
	for i, text := range texts {
		postDanmaku(t, obj, fmt.Sprintf("live-user-%d", i), text, 1, 0)
	}
	later.waitFor(fmt.Sprintf(`(() => { const on = window.__danmaku.onScreen().map((it) => it.text);
		return %s.every((t) => on.includes(t)); })()`, mustJSON(texts)), 5*time.Second, "the live danmaku did not all show")
	xs := eval[[]float64](later, fmt.Sprintf(`window.__danmaku.onScreen().filter((it) => %s.includes(it.text)).map((it) => it.x)`, mustJSON(texts)))
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi-lo < 10 {
		t.Errorf("the batch showed as one wall: x positions %v", xs)
	}
	p.waitText("live msg 5", 5*time.Second)

	admin.do("end the session", chromedp.Click(chromedp.CSS("#live-end")))
	admin.waitFor(`document.getElementById('room-live').textContent === 'no session'`, 5*time.Second,
		"the room panel does not show the end")
	if _, body := call(t, "GET", "/admin/api/rooms/"+obj, shared.adminToken, nil); strings.Contains(string(body), `"live"`) {
		t.Errorf("the room still has a session: %s", body)
	}
}

// TestAdminScreenshot fills a room with every kind of feed event and saves
// the admin page as artifacts/admin.png; with DANMAKUD_UPDATE_SCREENSHOT=1
// also as docs/screenshot-admin.png.
func TestAdminScreenshot(t *testing.T) {
	setup(t)
	obj := uniqueObject("shot")
	for _, w := range []map[string]string{
		{"room": obj, "word": "spoiler", "action": "mask"},
		{"room": obj, "word": "buy followers", "action": "shadow"},
		{"room": obj, "word": "slur", "action": "reject"},
	} {
		if status, body := call(t, "POST", "/admin/api/words", shared.adminToken, w); status != 200 {
			t.Fatalf("add word: %d %s", status, body)
		}
	}
	viewer := openTab(t, "/watch/"+obj)
	admin := openAdmin(t, true)
	admin.watchRoom(obj)
	sends := []struct{ user, text string }{
		{"alice", "前方高能！"}, {"bob", "hello from the admin screenshot"}, {"carol", "the ending is a spoiler"},
		{"dave", "buy followers cheap"}, {"erin", "2333333"}, {"frank", "弹幕护体"}, {"grace", "nice"},
	}
	for i, s := range sends {
		postDanmaku(t, obj, s.user, s.text, 1, float64(10+i))
	}
	status, _ := call(t, "POST", "/danmu/send", userToken(t, "mallory"), map[string]any{
		"objectId": obj, "content": map[string]any{"text": "a slur here", "time": 18},
	})
	if status == 200 {
		t.Fatalf("a rejected word was accepted")
	}
	admin.waitFor(fmt.Sprintf(`window.__admin.feed().length >= %d`, len(sends)+1), 5*time.Second, "the feed is incomplete")
	admin.do("load the room and its words",
		chromedp.SetValue(chromedp.CSS("#room-id"), obj),
		chromedp.Click(chromedp.CSS(`#room-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#room-settings")),
		chromedp.SetValue(chromedp.CSS("#words-room"), obj),
		chromedp.Click(chromedp.CSS(`#words-scope button[type=submit]`)),
	)
	admin.waitFor(`document.querySelectorAll('#words-list li').length === 3`, 5*time.Second, "the word list did not load")
	admin.waitFor(`document.getElementById('fig-accepted').textContent !== '–'`, 6*time.Second, "the figures did not update")
	if v := eval[string](admin, `document.getElementById('fig-viewers').textContent`); v == "0" || v == "–" {
		t.Errorf("viewers figure = %q with a player open", v)
	}
	if viewer.pageErrors() != nil {
		t.Errorf("player errors: %q", viewer.pageErrors())
	}
	b, err := chromedp.Run(admin.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(t, "admin.png", b)
	if len(b) > 300<<10 {
		t.Errorf("admin screenshot is %d KB, want under 300 KB", len(b)>>10)
	}
	if os.Getenv("DANMAKUD_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join(shared.repoRoot, "docs", "screenshot-admin.png"), b, 0o644); err != nil {
			t.Fatalf("write docs/screenshot-admin.png: %v", err)
		}
	}
}

// mustJSON encodes v as JSON for a JavaScript expression.
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAdminPageLogic runs the admin page's own modules in the browser:
// the per-second figures from two polls, and the feed's order, merging
// and cap of 500.
func TestAdminPageLogic(t *testing.T) {
	setup(t)
	p := openAdmin(t, false)
	tests := []struct {
		name      string
		prev, cur string
		want      string
	}{
		{"two seconds apart",
			`{"at":1000,"sends":{"accepted":10,"refused":1,"masked":1,"shadowed":0,"rate_limited":5},"droppedByCap":2,"droppedBatches":0}`,
			`{"at":3000,"sends":{"accepted":30,"refused":3,"masked":2,"shadowed":1,"rate_limited":9},"droppedByCap":6,"droppedBatches":2}`,
			`{"accepted":10,"filtered":2,"dropped":3}`},
		{"new counters appear", `{"at":0,"sends":{}}`, `{"at":500,"sends":{"accepted":1,"shadowed":1}}`, `{"accepted":2,"filtered":2,"dropped":0}`},
		{"server restarted", `{"at":0,"sends":{"accepted":100}}`, `{"at":1000,"sends":{"accepted":5}}`, `{"accepted":0,"filtered":0,"dropped":0}`},
		{"same instant", `{"at":5,"sends":{}}`, `{"at":5,"sends":{}}`, `null`},
		{"no previous poll", `null`, `{"at":5,"sends":{}}`, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval[string](p, fmt.Sprintf(`import('/static/js/admin-api.js').then((m) => JSON.stringify(m.rates(%s, %s)))`, tc.prev, tc.cur))
			if got != tc.want {
				t.Errorf("rates = %s, want %s", got, tc.want)
			}
		})
	}

	got := eval[string](p, `import('/static/js/admin-feed.js').then((m) => {
		const tbody = document.createElement('tbody');
		let count = 0;
		const f = new m.Feed(tbody, { onDelete() {}, onBan() {}, onCount: (n) => { count = n; } });
		for (let i = 0; i < 510; i++) {
			f.add({ at: i, objectId: 'r', userId: 'u' + i, outcome: 'accepted',
				danmaku: { id: 'd' + i, objectId: 'r', content: { text: '<b>' + i + '</b>', color: '#ff0000' } } });
		}
		f.add({ at: 509, objectId: 'r', userId: 'u509', outcome: 'accepted', danmaku: { id: 'd509', content: { text: 'dup' } } });
		f.add({ at: 600, objectId: 'r', userId: 'u3', outcome: 'rejected', reason: 'word', code: 'refused', text: 'bad <i>' });
		f.markDeleted('d508');
		const rows = f.snapshot();
		return JSON.stringify({ n: rows.length, count, trs: tbody.children.length, first: rows[0], second: rows[1].id,
			last: rows[rows.length - 1].id, gone: rows[2].gone, html: tbody.querySelectorAll('b, i').length,
			reasonCell: tbody.firstChild.querySelector('td.reason').textContent,
			rejectedButtons: [...tbody.firstChild.querySelectorAll('button')].map((b) => b.textContent) });
	})`)
	var r struct {
		N, Count, Trs   int
		First           feedRow
		Second, Last    string
		Gone            bool
		HTML            int
		ReasonCell      string
		RejectedButtons []string
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("feed check: %v (%s)", err, got)
	}
	if r.N != 500 || r.Count != 500 || r.Trs != 500 {
		t.Errorf("feed holds %d rows (%d counted, %d in the table), want 500", r.N, r.Count, r.Trs)
	}
	if r.First.Outcome != "rejected" || r.First.Text != "bad <i>" || r.Second != "d509" || r.Last != "d11" {
		t.Errorf("feed order: first %+v, second %s, last %s; want the rejection, d509, d11", r.First, r.Second, r.Last)
	}
	if !r.Gone {
		t.Errorf("a deleted danmaku's row is not struck out")
	}
	if r.HTML != 0 {
		t.Errorf("feed text made %d elements", r.HTML)
	}
	if r.ReasonCell != "word (refused)" || strings.Join(r.RejectedButtons, ",") != "Ban author" {
		t.Errorf("rejected row: reason %q, buttons %q", r.ReasonCell, r.RejectedButtons)
	}
}

// TestAdminImportUpload uploads a real Bilibili XML file through the admin
// page and checks that every danmaku of it is stored in the room.
func TestAdminImportUpload(t *testing.T) {
	setup(t)
	obj := uniqueObject("imp")
	file, err := filepath.Abs(filepath.Join("..", "testdata", "bilibili-sample-2016.xml"))
	if err != nil {
		t.Fatal(err)
	}
	admin := openAdmin(t, true)
	admin.do("upload a file",
		chromedp.SendKeys(chromedp.CSS("#import-room"), obj),
		chromedp.SetUploadFiles(chromedp.CSS(`#import-file`), []string{file}),
		chromedp.Click(chromedp.CSS(`#import-form button[type=submit]`)),
	)
	admin.waitFor(fmt.Sprintf(`document.getElementById('import-result').textContent === %s`,
		jsString("Imported 499, already present 0, skipped 0 into "+obj+".")), 20*time.Second,
		"the import result was not shown")
	status, body := call(t, "GET", "/danmu/heatmap/"+obj, "", nil)
	if status != 200 || !strings.Contains(string(body), `"total":499`) {
		t.Fatalf("after the upload the room holds: %d %s", status, body)
	}
}
