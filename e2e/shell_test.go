package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// openSized opens path in a new tab whose viewport is width by height CSS
// pixels; phone also emulates a mobile device with touch. It waits until
// the page's test hook exists (hook: "__danmaku" or "__admin"); a player
// also waits for its live socket.
func openSized(t *testing.T, path string, width, height int64, phone bool) *tab {
	t.Helper()
	p := newTab(t)
	p.viewport(width, height, phone)
	p.navigate(path)
	if path == "/admin" {
		p.waitFor(`window.__admin !== undefined`, 10*time.Second, "the admin page did not start")
	} else {
		p.waitFor(`window.__danmaku !== undefined && window.__danmaku.socket() === 'open'`, 15*time.Second,
			"the player did not start and connect its live socket")
	}
	return p
}

// viewport sets the tab's viewport, as a touch phone with phone.
func (p *tab) viewport(width, height int64, phone bool) {
	p.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateLandscape}
	if phone {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)}
	}
	p.do("set the viewport", chromedp.EmulateViewport(width, height, opts...))
}

// key presses one key in the tab, sent to the focused element.
func (p *tab) key(k string) {
	p.t.Helper()
	p.do("press "+strconv.Quote(k), chromedp.KeyEvent(k))
}

// shellState is what window.__danmaku.shell() reports.
type shellState struct {
	Fullscreen      bool    `json:"fullscreen"`
	WebFullscreen   bool    `json:"webFullscreen"`
	Volume          float64 `json:"volume"`
	Muted           bool    `json:"muted"`
	ControlsVisible bool    `json:"controlsVisible"`
}

func (p *tab) shell() shellState {
	p.t.Helper()
	return eval[shellState](p, `window.__danmaku.shell()`)
}

func (p *tab) paused() bool {
	p.t.Helper()
	return eval[bool](p, `window.__danmaku.clock().paused`)
}

// overlaps reports the scrolling danmaku on screen and the pairs of them
// whose boxes intersect (by more than a pixel each way).
type overlapReport struct {
	Count    int      `json:"count"`
	Overlaps int      `json:"overlaps"`
	Pairs    []string `json:"pairs"`
	Width    float64  `json:"width"`
}

func (p *tab) overlaps() overlapReport {
	p.t.Helper()
	return eval[overlapReport](p, `(() => {
		const s = window.__danmaku.onScreen().filter((it) => it.mode === 1);
		const pairs = [];
		for (let i = 0; i < s.length; i++) {
			for (let j = i + 1; j < s.length; j++) {
				const a = s[i], b = s[j];
				if (a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1) {
					pairs.push(a.text + ' @' + a.x.toFixed(0) + ',' + a.y.toFixed(0) + ' / ' + b.text + ' @' + b.x.toFixed(0) + ',' + b.y.toFixed(0));
				}
			}
		}
		return { count: s.length, overlaps: pairs.length, pairs: pairs.slice(0, 5), width: window.__danmakuStats().viewport.width };
	})()`)
}

// TestPlayerKeyboardAndFullscreen drives the shell at 1280×720: the
// shortcuts, which stay quiet while the viewer types, click to pause,
// fullscreen and web fullscreen, the settings popover inside the player,
// and the control bar that hides while playing.
func TestPlayerKeyboardAndFullscreen(t *testing.T) {
	setup(t)
	p := openSized(t, "/watch/"+uniqueObject("keys"), 1280, 720, false)
	p.seek(30)
	if p.paused() {
		t.Fatalf("the demo clock does not play at the start")
	}
	p.key(" ")
	p.waitFor(`window.__danmaku.clock().paused`, 2*time.Second, "Space did not pause")
	if y := eval[float64](p, `window.scrollY`); y != 0 {
		t.Errorf("Space scrolled the page to %v", y)
	}
	p.key(" ")
	p.waitFor(`!window.__danmaku.clock().paused`, 2*time.Second, "Space did not play again")

	before := eval[float64](p, `window.__danmaku.clock().now`)
	p.key(kb.ArrowRight)
	if now := eval[float64](p, `window.__danmaku.clock().now`); now < before+4.5 || now > before+7 {
		t.Errorf("→ moved from %.2f to %.2f s, want about 5 s on", before, now)
	}
	before = eval[float64](p, `window.__danmaku.clock().now`)
	p.key(kb.ArrowLeft)
	if now := eval[float64](p, `window.__danmaku.clock().now`); now > before-4 || now < before-6 {
		t.Errorf("← moved from %.2f to %.2f s, want about 5 s back", before, now)
	}
	p.key(kb.ArrowDown)
	p.key(kb.ArrowDown)
	if s := p.shell(); s.Volume < 0.79 || s.Volume > 0.81 {
		t.Errorf("after ↓↓ the volume is %.2f, want 0.8", s.Volume)
	}
	p.key(kb.ArrowUp)
	if s := p.shell(); s.Volume < 0.89 || s.Volume > 0.91 {
		t.Errorf("after ↑ the volume is %.2f, want 0.9", s.Volume)
	}
	p.key("m")
	if !p.shell().Muted {
		t.Errorf("M did not mute")
	}
	p.key("m")
	if p.shell().Muted {
		t.Errorf("M did not unmute")
	}
	p.key("d")
	if eval[bool](p, `window.__danmaku.settings().enabled`) {
		t.Errorf("D did not turn danmaku off")
	}
	p.key("d")
	if !eval[bool](p, `window.__danmaku.settings().enabled`) {
		t.Errorf("D did not turn danmaku on again")
	}

	// Typing the same keys into the sending box only types.
	p.do("type into the sending box", chromedp.Focus(chromedp.CSS("#send-text")), chromedp.KeyEvent("fm d "))
	if v := eval[string](p, `document.getElementById('send-text').value`); v != "fm d " {
		t.Errorf("the sending box holds %q, want %q", v, "fm d ")
	}
	if s := p.shell(); s.Fullscreen || s.Muted || p.paused() || !eval[bool](p, `window.__danmaku.settings().enabled`) {
		t.Errorf("keys typed into the sending box fired shortcuts: %+v, paused %v", s, p.paused())
	}
	eval[bool](p, `(document.getElementById('send-text').value = '', document.activeElement.blur(), true)`)

	// Fullscreen, and danmaku that use the whole screen there.
	p.key("f")
	p.waitFor(`window.__danmaku.shell().fullscreen && window.__danmakuStats().viewport.width === window.innerWidth`, 5*time.Second,
		"F did not make the player fullscreen with a canvas as wide as the window")
	p.key("f")
	p.waitFor(`!window.__danmaku.shell().fullscreen && window.__danmakuStats().viewport.width < window.innerWidth`, 5*time.Second,
		"F did not leave fullscreen")
	p.do("web fullscreen", chromedp.Click(chromedp.CSS("#webfull")))
	p.waitFor(`window.__danmaku.shell().webFullscreen && window.__danmakuStats().viewport.width === window.innerWidth`, 5*time.Second,
		"web fullscreen did not fill the window")
	p.key(kb.Escape)
	p.waitFor(`!window.__danmaku.shell().webFullscreen`, 2*time.Second, "Esc did not leave web fullscreen")

	// A click on the picture pauses and plays.
	p.do("click the picture", chromedp.Click(chromedp.CSS("#hit")))
	p.waitFor(`window.__danmaku.clock().paused`, 2*time.Second, "a click on the picture did not pause")
	p.do("click the picture", chromedp.Click(chromedp.CSS("#hit")))
	p.waitFor(`!window.__danmaku.clock().paused`, 2*time.Second, "a second click on the picture did not play")

	// The settings open as a popover inside the player; Esc closes them.
	p.do("open the settings", chromedp.Click(chromedp.CSS("#settings-button")), chromedp.WaitVisible(chromedp.CSS("#settings")))
	inside := eval[bool](p, `(() => {
		const s = document.getElementById('settings').getBoundingClientRect();
		const pl = document.getElementById('stage').getBoundingClientRect();
		return s.top >= pl.top && s.bottom <= pl.bottom && s.left >= pl.left && s.right <= pl.right && s.bottom <= window.innerHeight;
	})()`)
	if !inside {
		t.Errorf("the settings popover is not inside the picture on screen")
	}
	p.key(kb.Escape)
	p.waitFor(`document.getElementById('settings').hidden`, 2*time.Second, "Esc did not close the settings")

	// While playing and untouched, the control bar hides; moving the
	// pointer shows it.
	p.waitFor(`!window.__danmaku.shell().controlsVisible`, 6*time.Second, "the control bar did not hide while playing")
	p.do("move the pointer", chromedp.MouseEvent("mouseMoved", 400, 300))
	p.waitFor(`window.__danmaku.shell().controlsVisible`, 2*time.Second, "moving the pointer did not show the control bar")

	// Hovering the seek bar tells the time there: the middle of the demo's
	// ten minutes is 5:00.
	mx := eval[float64](p, `(() => { const r = document.getElementById('seek').getBoundingClientRect(); return r.left + r.width / 2; })()`)
	my := eval[float64](p, `(() => { const r = document.getElementById('seek').getBoundingClientRect(); return r.top + r.height / 2; })()`)
	p.do("hover the seek bar", chromedp.MouseEvent("mouseMoved", mx, my))
	p.waitFor(`!document.getElementById('seek-tip').hidden && document.getElementById('seek-tip').textContent === '5:00'`, 2*time.Second,
		"hovering the middle of the seek bar does not show 5:00")

	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// densest returns the start of the busiest span seconds of scrolling
// danmaku in a Bilibili XML file, and how many start in it.
func densest(t *testing.T, xml []byte, span float64) (float64, int) {
	t.Helper()
	var times []float64
	for _, m := range regexp.MustCompile(`<d p="([0-9.]+),1,`).FindAllSubmatch(xml, -1) {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatalf("time %q: %v", m[1], err)
		}
		times = append(times, v)
	}
	slices.Sort(times)
	best, n := 0.0, 0
	for i := range times {
		j := i
		for j < len(times) && times[j] < times[i]+span {
			j++
		}
		if j-i > n {
			best, n = times[i], j-i
		}
	}
	return best, n
}

// importSample imports a Bilibili XML file from testdata into a room
// through the admin API, as the admin page does.
func importSample(t *testing.T, obj, name string) []byte {
	t.Helper()
	xml, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", shared.baseURL+"/admin/api/import/"+obj, bytes.NewReader(xml))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Authorization", "Bearer "+shared.adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	defer res.Body.Close()
	var out struct{ Imported int }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || out.Imported == 0 {
		t.Fatalf("import %s: %s, %+v, %v", name, res.Status, out, err)
	}
	return xml
}

// TestPlayerResizeKeepsLanesApart plays the densest moment of the 2022
// Bilibili sample, then narrows the window and fills it again (web
// fullscreen): after each change of size no two scrolling danmaku on
// screen overlap, and the screen is not simply emptied.
func TestPlayerResizeKeepsLanesApart(t *testing.T) {
	setup(t)
	obj := uniqueObject("lanes")
	xml := importSample(t, obj, "bilibili-sample-2022.xml")
	at, n := densest(t, xml, 8)
	t.Logf("densest 8 s of the sample: %d scrolling danmaku from %.1f s", n, at)
	p := openSized(t, "/watch/"+obj, 1280, 720, false)
	p.seek(at - 0.5)
	p.waitFor(`window.__danmaku.onScreen().filter((it) => it.mode === 1).length >= 12`, 15*time.Second,
		"the dense moment did not fill the screen")

	check := func(when string, samples int) {
		t.Helper()
		most := 0
		for range samples {
			r := p.overlaps()
			if r.Overlaps > 0 {
				t.Fatalf("%s: %d overlapping pairs among %d scrolling danmaku at width %.0f: %q", when, r.Overlaps, r.Count, r.Width, r.Pairs)
			}
			most = max(most, r.Count)
			time.Sleep(150 * time.Millisecond)
		}
		if most < 6 {
			t.Errorf("%s: at most %d scrolling danmaku on screen, want a dense screen", when, most)
		}
		t.Logf("%s: no overlaps, up to %d scrolling danmaku on screen", when, most)
	}
	check("at 1280×720", 5)
	wide := p.overlaps().Width

	p.viewport(900, 720, false)
	p.waitFor(fmt.Sprintf(`window.__danmakuStats().viewport.width < %g`, wide), 5*time.Second, "the canvas did not follow the resize")
	check("after narrowing to 900×720", 12)

	p.do("web fullscreen", chromedp.Click(chromedp.CSS("#webfull")))
	p.waitFor(`window.__danmakuStats().viewport.width === window.innerWidth`, 5*time.Second, "web fullscreen did not fill the window")
	check("in web fullscreen", 12)
	p.screenshot("player-dense.png")
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// TestPlayerSendWhilePaused sends with Enter from the sending box while
// the video is paused, in the colour, mode and size picked in the player:
// the danmaku shows inside the screen at once, stays while paused, and
// moves on when the video plays.
func TestPlayerSendWhilePaused(t *testing.T) {
	setup(t)
	p := openSized(t, "/watch/"+uniqueObject("paused"), 1280, 720, false)
	p.seek(40)
	p.key(" ")
	p.waitFor(`window.__danmaku.clock().paused`, 2*time.Second, "Space did not pause")
	p.do("pick a style",
		chromedp.Click(chromedp.CSS("#style-button")),
		chromedp.WaitVisible(chromedp.CSS("#style-panel")),
		chromedp.Click(chromedp.CSS(`#palette button[aria-label=Red]`)),
		chromedp.Click(chromedp.CSS(`input[name=send-size][value="36"]`)),
	)
	const text = "sent while paused"
	p.do("type and press Enter", chromedp.SendKeys(chromedp.CSS("#send-text"), text+kb.Enter))
	it := p.waitText(text, 3*time.Second)
	width := eval[float64](p, `window.__danmakuStats().viewport.width`)
	if it.X < 0 || it.X+it.W > width {
		t.Errorf("the danmaku sent while paused is at x %.0f (width %.0f) on a %.0f px screen, want inside", it.X, it.W, width)
	}
	if !it.Mine {
		t.Errorf("the danmaku is not marked as the viewer's: %+v", it)
	}
	got := eval[map[string]any](p, fmt.Sprintf(`(() => { const it = window.__danmaku.onScreen().find((it) => it.text === %s);
		return { color: it.color, size: it.size, mode: it.mode }; })()`, jsString(text)))
	if got["color"] != "#fe0302" || got["size"] != 36.0 || got["mode"] != 1.0 {
		t.Errorf("sent with %v, want red, size 36, scrolling", got)
	}
	p.waitFor(`document.getElementById('send-text').value === ''`, 3*time.Second, "the send did not finish")
	time.Sleep(time.Second)
	if again := p.find(text); len(again) != 1 || again[0].X != it.X {
		t.Errorf("while paused the danmaku moved or went: %+v, first at x %.0f", again, it.X)
	}
	eval[bool](p, `(document.activeElement.blur(), true)`)
	p.key(" ")
	time.Sleep(time.Second)
	if again := p.find(text); len(again) != 1 || !(again[0].X < it.X-20) {
		t.Errorf("after play the danmaku did not move on: %+v, first at x %.0f", again, it.X)
	}
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// TestPlayerListPanel opens the danmaku list: it shows the danmaku around
// the current time, and a live one as it comes; a row seeks; "Block user"
// hides the sender's danmaku through the settings' user block list.
func TestPlayerListPanel(t *testing.T) {
	setup(t)
	obj := uniqueObject("list")
	postDanmaku(t, obj, "lister-a", "list one", 1, 50)
	postDanmaku(t, obj, "lister-b", "list two", 1, 51)
	postDanmaku(t, obj, "lister-a", "far later", 1, 300)
	p := openSized(t, "/watch/"+obj, 1280, 720, false)
	p.seek(49.5)
	p.waitText("list two", 5*time.Second)
	p.do("open the list", chromedp.Click(chromedp.CSS("#list-button")), chromedp.WaitVisible(chromedp.CSS("#list-panel")))
	p.waitFor(`(() => { const l = window.__danmaku.list().map((r) => r.text);
		return l.includes('list one') && l.includes('list two') && !l.includes('far later'); })()`, 3*time.Second,
		"the list does not show the danmaku around the current time")
	now := eval[float64](p, `window.__danmaku.clock().now`)
	postDanmaku(t, obj, "lister-c", "live arrival", 1, now+1)
	p.waitFor(`window.__danmaku.list().some((r) => r.text === 'live arrival')`, 5*time.Second, "a new danmaku did not join the list")

	p.do("seek from the list", chromedp.Click(chromedp.CSS(`#list-items li[data-user="lister-a"] .seekto`)))
	if at := eval[float64](p, `window.__danmaku.clock().now`); at < 49 || at > 50.5 {
		t.Errorf("a click on the row at 50 s moved the clock to %.2f s", at)
	}
	p.do("block lister-b", chromedp.Click(chromedp.CSS(`#list-items li[data-user="lister-b"] button.block`)))
	p.waitFor(`window.__danmaku.settings().blockUsers.includes('lister-b') && document.getElementById('set-users').value === 'lister-b'`,
		2*time.Second, "Block user did not add the sender to the user block list")
	p.waitFor(`!window.__danmaku.list().some((r) => r.userId === 'lister-b')`, 2*time.Second, "the blocked user's row stayed in the list")
	p.seek(49.5)
	p.waitText("list one", 5*time.Second)
	time.Sleep(time.Second)
	if got := p.find("list two"); len(got) != 0 {
		t.Errorf("a blocked user's danmaku shows: %+v", got)
	}
	p.do("open the report form", chromedp.Click(chromedp.CSS(`#list-items li[data-user="lister-a"] button.report`)))
	p.waitFor(`document.querySelector('#list-items .report-form select') !== null`, 2*time.Second, "Report did not offer reasons")
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// smallTargets returns the visible controls under 40 CSS pixels either
// way; a checkbox or radio button counts by its label.
const smallTargets = `(() => {
	const out = [];
	for (const el of document.querySelectorAll('button, select, input, textarea, a[href], label.file')) {
		const target = el.matches('input[type=checkbox], input[type=radio]') ? el.closest('label') || el : el;
		const r = target.getBoundingClientRect();
		const st = getComputedStyle(el);
		if (r.width === 0 || r.height === 0 || st.visibility === 'hidden' || el.closest('[hidden]')) continue;
		if (r.width < 40 || r.height < 40) out.push((el.id || el.className || el.tagName) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
	}
	return out;
})()`

// overflowX is how far the page reaches beyond the viewport sideways.
const overflowX = `document.documentElement.scrollWidth - window.innerWidth`

// TestPlayerPhone checks the player on a 390×844 touch phone: no
// horizontal scroll with any panel open, touch targets of 40 px, the
// sending bar below the picture, a tap on the picture pauses, and a send
// shows. With DANMAKUD_UPDATE_SCREENSHOT=1 it saves
// docs/screenshot-player-phone.png.
func TestPlayerPhone(t *testing.T) {
	setup(t)
	obj := uniqueObject("phone")
	for i, s := range []string{"前方高能！", "hello from a phone", "弹幕护体", "2333333", "nice shot", "this player fits"} {
		postDanmaku(t, obj, fmt.Sprintf("phone-%d", i), s, []int{1, 1, 5, 1, 4, 1}[i], 20+float64(i)*0.4)
	}
	p := openSized(t, "/watch/"+obj, 390, 844, true)
	p.seek(19.5)
	p.waitFor(`window.__danmaku.onScreen().length >= 4`, 8*time.Second, "the danmaku did not show")
	for _, panel := range []string{"", "#settings-button", "#list-button", "#style-button"} {
		if panel != "" {
			p.do("open "+panel, chromedp.Click(chromedp.CSS(panel)))
			p.waitFor(`[...document.querySelectorAll('.panel')].some((el) => !el.hidden)`, 2*time.Second, panel+" opened nothing")
		}
		if over := eval[float64](p, overflowX); over > 0 {
			t.Errorf("with %q open the page scrolls %v px sideways at 390 px", panel, over)
		}
		if small := eval[[]string](p, smallTargets); len(small) > 0 {
			t.Errorf("with %q open, touch targets under 40 px: %q", panel, small)
		}
		if panel != "" {
			eval[bool](p, `(document.querySelectorAll('.panel').forEach((el) => { el.hidden = true; }), true)`)
		}
	}
	below := eval[bool](p, `document.getElementById('send-form').getBoundingClientRect().top >=
		document.getElementById('stage').getBoundingClientRect().bottom - 1`)
	if !below {
		t.Errorf("the sending bar is not below the picture on a phone")
	}
	x, y := eval[float64](p, `(() => { const r = document.getElementById('stage').getBoundingClientRect(); return r.left + r.width / 2; })()`),
		eval[float64](p, `(() => { const r = document.getElementById('stage').getBoundingClientRect(); return r.top + r.height / 4; })()`)
	if id := eval[string](p, fmt.Sprintf(`document.elementFromPoint(%g, %g).id`, x, y)); id != "hit" {
		t.Fatalf("the upper middle of the picture is covered by %q", id)
	}
	p.do("tap the picture", chromedp.TapXY(x, y))
	p.waitFor(`window.__danmaku.clock().paused`, 2*time.Second, "a tap on the picture did not pause")
	p.do("tap the picture", chromedp.TapXY(x, y))
	p.waitFor(`!window.__danmaku.clock().paused`, 2*time.Second, "a second tap did not play")
	p.do("send from the phone", chromedp.SendKeys(chromedp.CSS("#send-text"), "sent from a phone"+kb.Enter))
	p.waitText("sent from a phone", 3*time.Second)
	eval[bool](p, `(document.activeElement.blur(), true)`)
	time.Sleep(800 * time.Millisecond)
	b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(t, "player-phone.png", b)
	if os.Getenv("DANMAKUD_UPDATE_SCREENSHOT") == "1" {
		if len(b) > 300<<10 {
			t.Fatalf("phone screenshot is %d KB; the README copy must stay under 300 KB", len(b)>>10)
		}
		if err := os.WriteFile(filepath.Join(shared.repoRoot, "docs", "screenshot-player-phone.png"), b, 0o644); err != nil {
			t.Fatalf("write docs/screenshot-player-phone.png: %v", err)
		}
	}
	// On the narrowest phones (320 px) every control still sits on the
	// control bar's one row, the fullscreen button included, with targets
	// of at least 24 px.
	p.viewport(320, 640, true)
	p.waitFor(`(() => {
		const row = [...document.querySelectorAll('.controls > *')].filter((el) => el.getBoundingClientRect().width > 0);
		const f = document.getElementById('fullscreen').getBoundingClientRect();
		return row.length >= 7 && row.every((el) => {
			const r = el.getBoundingClientRect();
			return Math.abs((r.top + r.bottom) / 2 - (f.top + f.bottom) / 2) < 12 && r.right <= innerWidth &&
				(el.classList.contains('time') || r.width >= 24);
		});
	})()`, 5*time.Second, "at 320 px the controls wrap to a second row or leave the screen")
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// TestAdminPhone checks the admin page on a 390×844 touch phone: no
// horizontal scroll, the feed as cards, touch targets of 40 px.
func TestAdminPhone(t *testing.T) {
	setup(t)
	obj := uniqueObject("adminphone")
	p := openSized(t, "/admin", 390, 844, true)
	if over := eval[float64](p, overflowX); over > 0 {
		t.Errorf("the sign-in page scrolls %v px sideways at 390 px", over)
	}
	eval[bool](p, fmt.Sprintf(`(sessionStorage.setItem('danmakud.adminToken', %s), true)`, jsString(shared.adminToken)))
	p.do("reload", chromedp.Reload())
	p.waitFor(`window.__admin !== undefined && window.__admin.signedIn() && window.__admin.feedState().startsWith('live')`,
		10*time.Second, "the admin page did not accept the token")
	p.watchRoom(obj)
	postDanmaku(t, obj, "phone-user", "a rather long danmaku text that has to wrap on a phone screen", 1, 3)
	p.waitFor(`window.__admin.feed().length >= 1`, 5*time.Second, "the feed is empty")
	if over := eval[float64](p, overflowX); over > 0 {
		t.Errorf("the admin page scrolls %v px sideways at 390 px", over)
	}
	if small := eval[[]string](p, smallTargets); len(small) > 0 {
		t.Errorf("touch targets under 40 px: %q", small)
	}
	card := eval[bool](p, `(() => { const tr = document.querySelector('#feed-rows tr');
		return getComputedStyle(tr).display === 'flex' && tr.getBoundingClientRect().right <= window.innerWidth; })()`)
	if !card {
		t.Errorf("the feed rows are not cards that fit the screen")
	}
	b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(t, "admin-phone.png", b)
}
