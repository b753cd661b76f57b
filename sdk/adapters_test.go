package sdk_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/internal/browsertest"
	"github.com/danmakud/danmakud/internal/testenv"
)

// silence returns a WAV file of seconds of silence: media a <video> plays
// without any download.
func silence(seconds int) []byte {
	const rate = 8000
	n := rate * seconds
	le := binary.LittleEndian
	b := le.AppendUint32([]byte("RIFF"), uint32(36+n))
	b = le.AppendUint32(append(b, "WAVEfmt "...), 16)
	b = le.AppendUint16(le.AppendUint16(b, 1), 1)        // PCM, mono.
	b = le.AppendUint32(le.AppendUint32(b, rate), rate)  // Samples and bytes a second.
	b = le.AppendUint16(le.AppendUint16(b, 1), 8)        // Bytes a sample, bits a sample.
	b = le.AppendUint32(append(b, "data"...), uint32(n)) // The samples' chunk.
	return append(b, bytes.Repeat([]byte{128}, n)...)    // 128 is silence in 8-bit PCM.
}

// site serves a page of another origin than danmakud's: files from the
// repository (the example pages, the players' dist files from
// node_modules), a silent video, and pages given as strings.
func site(t *testing.T, files map[string]string, pages map[string]string) *httptest.Server {
	t.Helper()
	root := testenv.RepoRoot(t)
	wav := silence(60)
	mux := http.NewServeMux()
	for name, path := range files {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatalf("%s is missing (%v): run npm ci", path, err)
		}
		ct := "text/javascript; charset=utf-8"
		if strings.HasSuffix(name, ".html") {
			ct = "text/html; charset=utf-8"
		}
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			_, _ = w.Write(b)
		})
	}
	for name, html := range pages {
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(html))
		})
	}
	mux.HandleFunc("GET /silence.wav", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "silence.wav", time.Time{}, bytes.NewReader(wav))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// mountPage mounts danmakud's player with the SDK's mount.
const mountPage = `<!doctype html><html><head><meta charset="utf-8"><title>mount</title></head><body>
<div id="box" style="width: 640px"></div>
<script type="module">
  const q = new URLSearchParams(location.search);
  const { mount } = await import(q.get('server') + '/sdk/danmaku.js');
  window.mounted = mount(document.getElementById('box'), { baseUrl: q.get('server'), objectId: q.get('room'), src: location.origin + '/silence.wav' });
</script></body></html>`

// refusedPage connects with the SDK and records its errors and statuses.
const refusedPage = `<!doctype html><html><head><meta charset="utf-8"><title>refused</title></head><body>
<script type="module">
  const q = new URLSearchParams(location.search);
  const { connect } = await import(q.get('server') + '/sdk/danmaku.js');
  window.errors = [];
  window.statuses = [];
  window.room = connect(q.get('server'), 'refused', {
    minBackoffMs: 50, maxBackoffMs: 100,
    onError: (e) => window.errors.push(e.code + ': ' + e.message),
    onStatus: (s) => window.statuses.push(s),
  });
</script></body></html>`

// TestAdaptersInChromium runs the SDK's mount and its DPlayer and ArtPlayer
// adapters in Chromium, on a site of another origin, with the real npm
// packages and the real server.
func TestAdaptersInChromium(t *testing.T) {
	browsertest.NeedChromium(t)
	files := map[string]string{
		"dplayer.html":                "sdk/static/dplayer.html",
		"artplayer.html":              "sdk/static/artplayer.html",
		"DPlayer.min.js":              "node_modules/dplayer/dist/DPlayer.min.js",
		"artplayer.js":                "node_modules/artplayer/dist/artplayer.js",
		"artplayer-plugin-danmuku.js": "node_modules/artplayer-plugin-danmuku/dist/artplayer-plugin-danmuku.js",
	}
	pages := map[string]string{"mount.html": mountPage, "refused.html": refusedPage}
	allowed := site(t, files, pages)
	other := site(t, nil, pages)
	// The mounting site is on localhost and danmakud on 127.0.0.1: two
	// sites, so that Chromium shows the embed page in its own frame
	// target. The player pages are on 127.0.0.1 with another port: same
	// site, another origin, so that the browser keeps danmakud's
	// anonymous-id cookie (SameSite=Lax) and viewers can send.
	allowedURL := strings.Replace(allowed.URL, "127.0.0.1", "localhost", 1)
	srv := testenv.Danmakud(t, "-data", t.TempDir(), "-rate-limits=false", "-cors-origins", "*", "-tick", "200ms", "-origins", allowedURL+","+allowed.URL, "-frame-ancestors", allowedURL)
	browser := browsertest.Browser(t)
	tab := func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		return ctx
	}
	t.Run("mount", func(t *testing.T) { testMount(t, srv, allowedURL, other.URL, tab(t)) })
	t.Run("refused", func(t *testing.T) { testRefused(t, srv, other.URL, tab(t)) })
	t.Run("dplayer", func(t *testing.T) { testDPlayer(t, srv, allowed.URL, tab(t)) })
	t.Run("artplayer", func(t *testing.T) { testArtPlayer(t, srv, allowed.URL, tab(t)) })
}

// embedFrame returns a context on the iframe showing danmakud's embed
// page, or nil when none has loaded.
func embedFrame(t *testing.T, tab context.Context) context.Context {
	t.Helper()
	infos, err := chromedp.Targets(tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Type == "iframe" && strings.Contains(info.URL, "/embed/") {
			ctx, cancel := chromedp.NewContext(tab, chromedp.WithTargetID(info.TargetID))
			t.Cleanup(cancel)
			return ctx
		}
	}
	return nil
}

// waitEmbedded reports whether expr becomes true in the embed page's
// iframe within timeout. It attaches to the iframe's target afresh on each
// try, each bounded by a few seconds: an attach made while the frame is
// still navigating can hang.
func waitEmbedded(t *testing.T, tab context.Context, expr string, timeout time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		frame := embedFrame(t, tab)
		if frame == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(frame, 3*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return true
		}
	}
	return false
}

func testMount(t *testing.T, srv *testenv.Server, allowed, other string, tab context.Context) {
	obj := fmt.Sprintf("mount-%d", time.Now().UnixNano())
	srv.Send(t, obj, "u1", map[string]any{"text": "mounted danmaku", "time": 0.5})
	if err := chromedp.Do(tab, chromedp.Navigate(allowed+"/mount.html?server="+srv.URL()+"&room="+obj)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, tab, `window.mounted !== undefined && document.querySelector('#box iframe') !== null`, 20*time.Second, "mount made no iframe")
	src := browsertest.Eval[string](t, tab, `document.querySelector('#box iframe').src`)
	if !strings.HasPrefix(src, srv.URL()+"/embed/"+obj+"?src=") {
		t.Fatalf("the iframe shows %q, want the embed page of %s", src, obj)
	}
	if !waitEmbedded(t, tab, `document.body !== null && document.body.hasAttribute('data-embed') && window.__danmaku !== undefined &&
		getComputedStyle(document.querySelector('header')).display === 'none'`, 40*time.Second) {
		t.Fatal("the iframe of an allowed origin does not show danmakud's embedded player without the page's header")
	}
	if !browsertest.Eval[bool](t, tab, `(() => { window.mounted.destroy(); return document.querySelector('#box iframe') === null; })()`) {
		t.Errorf("destroy left the iframe")
	}

	// A page of an origin not in -frame-ancestors gets no player: the
	// browser refuses to frame it.
	other2 := tab
	if err := chromedp.Do(other2, chromedp.Navigate(other+"/mount.html?server="+srv.URL()+"&room="+obj)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, other2, `document.querySelector('#box iframe') !== null`, 20*time.Second, "mount made no iframe")
	time.Sleep(2 * time.Second) // Give a framed page time to load, if the browser let it.
	if f := embedFrame(t, other2); f != nil {
		if ok := browsertest.Eval[bool](t, f, `document.body !== null && document.body.hasAttribute('data-embed')`); ok {
			t.Errorf("a page of an origin not in -frame-ancestors framed the player")
		}
	}
}

func testRefused(t *testing.T, srv *testenv.Server, other string, tab context.Context) {
	if err := chromedp.Do(tab, chromedp.Navigate(other+"/refused.html?server="+srv.URL())); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, tab, `window.room?.status === 'closed'`, 20*time.Second, "the SDK kept retrying a refused origin")
	errs := browsertest.Eval[[]string](t, tab, `window.errors`)
	if len(errs) == 0 || !strings.Contains(errs[len(errs)-1], "-origins") || !strings.HasPrefix(errs[len(errs)-1], "forbidden") {
		t.Fatalf("errors %q, want a forbidden error naming -origins", errs)
	}
	statuses := browsertest.Eval[[]string](t, tab, `window.statuses`)
	if n := strings.Count(strings.Join(statuses, " "), "reconnecting"); n != 0 {
		t.Errorf("statuses %q: the SDK retried after a 403", statuses)
	}
}

func testDPlayer(t *testing.T, srv *testenv.Server, allowed string, tab context.Context) {
	obj := fmt.Sprintf("dp-adapter-%d", time.Now().UnixNano())
	srv.Send(t, obj, "u1", map[string]any{"text": "stored before", "time": 0.3})
	page := allowed + "/dplayer.html?server=" + srv.URL() + "&room=" + obj + "&src=" + allowed + "/silence.wav"
	if err := chromedp.Do(tab, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, tab, `window.dm?.room?.status === 'open' && window.dp.danmaku.dan.length === 1`, 20*time.Second,
		"DPlayer did not load the stored danmaku or the adapter did not connect")
	const live = "live from another viewer"
	srv.Send(t, obj, "u2", map[string]any{"text": live, "time": 1, "color": "#ff0000", "position": 5})
	drawn := fmt.Sprintf(`[...document.querySelectorAll('.dplayer-danmaku-item')].filter((e) => e.textContent === %s)`, browsertest.JS(live))
	browsertest.WaitFor(t, tab, drawn+`.length === 1`, 10*time.Second, "the adapter did not draw a live danmaku in DPlayer")
	if cls := browsertest.Eval[string](t, tab, drawn+`[0].className`); !strings.Contains(cls, "dplayer-danmaku-top") {
		t.Errorf("a top danmaku was drawn as %q", cls)
	}
	if color := browsertest.Eval[string](t, tab, drawn+`[0].style.color`); color != "rgb(255, 0, 0)" {
		t.Errorf("a red danmaku was drawn in %q", color)
	}
	const tricky = `<img src=x onerror="window.pwned=1"><b>bold?</b>`
	srv.Send(t, obj, "u2", map[string]any{"text": tricky, "time": 1})
	browsertest.WaitFor(t, tab, fmt.Sprintf(`[...document.querySelectorAll('.dplayer-danmaku-item')].some((e) => e.textContent === %s)`, browsertest.JS(tricky)),
		10*time.Second, "a danmaku with markup was not drawn as text")
	if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('.dplayer-danmaku-item b, .dplayer-danmaku-item img').length + (window.pwned ? 100 : 0)`); n != 0 {
		t.Errorf("danmaku text became HTML in DPlayer (%d)", n)
	}
	// DPlayer's own send goes through danmakud's DPlayer API; its live
	// copy is not drawn a second time.
	const own = "sent from DPlayer"
	browsertest.Eval[bool](t, tab, fmt.Sprintf(`(() => { dp.danmaku.send({ text: %s, color: '#ffffff', type: 'right' }); return true; })()`, browsertest.JS(own)))
	const after = "after my own"
	browsertest.WaitFor(t, tab, fmt.Sprintf(`[...document.querySelectorAll('.dplayer-danmaku-item')].some((e) => e.textContent === %s)`, browsertest.JS(own)),
		10*time.Second, "DPlayer did not draw its own send")
	storedOwn := func() bool {
		for _, d := range srv.Stored(t, obj) {
			if d.Content.Text == own {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !storedOwn(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("DPlayer's send was not stored")
		}
	}
	srv.Send(t, obj, "u2", map[string]any{"text": after, "time": 2})
	browsertest.WaitFor(t, tab, fmt.Sprintf(`[...document.querySelectorAll('.dplayer-danmaku-item')].some((e) => e.textContent === %s)`, browsertest.JS(after)),
		10*time.Second, "a later live danmaku was not drawn")
	if n := browsertest.Eval[int](t, tab, fmt.Sprintf(`[...document.querySelectorAll('.dplayer-danmaku-item')].filter((e) => e.textContent === %s).length`, browsertest.JS(own))); n != 1 {
		t.Errorf("DPlayer's own send is drawn %d times, want once", n)
	}
}

func testArtPlayer(t *testing.T, srv *testenv.Server, allowed string, tab context.Context) {
	obj := fmt.Sprintf("art-adapter-%d", time.Now().UnixNano())
	srv.Send(t, obj, "u1", map[string]any{"text": "stored for art", "time": 0.3, "position": 4})
	page := allowed + "/artplayer.html?server=" + srv.URL() + "&room=" + obj + "&src=" + allowed + "/silence.wav"
	if err := chromedp.Do(tab, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, tab, `window.dm?.room?.status === 'open' && window.art?.plugins?.artplayerPluginDanmuku !== undefined`,
		20*time.Second, "ArtPlayer or the adapter did not start")
	type danmu struct {
		Text  string  `json:"text"`
		Mode  int     `json:"mode"`
		Color string  `json:"color"`
		Time  float64 `json:"time"`
	}
	loaded := browsertest.Eval[[]danmu](t, tab, `dm.danmuku()`)
	if len(loaded) != 1 || loaded[0].Text != "stored for art" || loaded[0].Mode != 2 || loaded[0].Time != 0.3 || loaded[0].Color != "#ffffff" {
		t.Errorf("the adapter loads %+v, want the stored bottom danmaku at 0.3 s", loaded)
	}
	// Record what the adapter hands the plugin.
	browsertest.Eval[bool](t, tab, `(() => { const p = art.plugins.artplayerPluginDanmuku; const emit = p.emit; window.emitted = [];
		p.emit = (d) => { window.emitted.push(d); return emit(d); }; return true; })()`)
	const live = "live into ArtPlayer"
	srv.Send(t, obj, "u2", map[string]any{"text": live, "time": 1, "position": 5, "color": "#00ff00"})
	browsertest.WaitFor(t, tab, fmt.Sprintf(`window.emitted.some((d) => d.text === %s)`, browsertest.JS(live)), 10*time.Second, "the adapter did not emit a live danmaku")
	got := browsertest.Eval[danmu](t, tab, fmt.Sprintf(`window.emitted.find((d) => d.text === %s)`, browsertest.JS(live)))
	if got.Mode != 1 || got.Color != "#00ff00" {
		t.Errorf("a green top danmaku was emitted as %+v", got)
	}
	// The plugin's send goes through beforeEmit to danmakud.
	const own = "sent from ArtPlayer"
	ok := browsertest.Eval[bool](t, tab, fmt.Sprintf(`dm.beforeEmit({ text: %s, mode: 1, color: '#00FF00', time: 2 })`, browsertest.JS(own)))
	if !ok {
		t.Fatal("beforeEmit refused a good danmaku")
	}
	var found bool
	for _, d := range srv.Stored(t, obj) {
		if d.Content.Text == own {
			found = true
		}
	}
	if !found {
		t.Fatalf("ArtPlayer's send was not stored")
	}
	if browsertest.Eval[bool](t, tab, fmt.Sprintf(`dm.beforeEmit({ text: %s, mode: 0, time: 2 })`, browsertest.JS(strings.Repeat("x", 101)))) {
		t.Errorf("beforeEmit let the plugin show a danmaku the server refused")
	}
}
