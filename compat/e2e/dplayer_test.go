package e2e_test

import (
	"bytes"
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

// dplayerDist is DPlayer's browser build, installed from the npm registry
// by npm ci (package.json pins the version).
const dplayerDist = "node_modules/dplayer/dist/DPlayer.min.js"

// silentWAV returns a WAV file of seconds of silence (8 kHz, 8-bit mono):
// a media file a <video> element plays, so that its currentTime advances
// and DPlayer draws the danmaku it loaded, without any download.
func silentWAV(seconds int) []byte {
	const rate = 8000
	n := rate * seconds
	le := binary.LittleEndian
	b := []byte("RIFF")
	b = le.AppendUint32(b, uint32(36+n))
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)   // Size of the format chunk.
	b = le.AppendUint16(b, 1)    // PCM.
	b = le.AppendUint16(b, 1)    // Mono.
	b = le.AppendUint32(b, rate) // Samples a second.
	b = le.AppendUint32(b, rate) // Bytes a second.
	b = le.AppendUint16(b, 1)    // Bytes a sample.
	b = le.AppendUint16(b, 8)    // Bits a sample.
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(n))
	return append(b, bytes.Repeat([]byte{128}, n)...) // 128 is silence in unsigned 8-bit PCM.
}

// playerPage is the page of a site that uses DPlayer, unmodified, with
// danmakud as its danmaku API. It is served from another origin than
// danmakud's.
const playerPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>DPlayer on danmakud</title></head>
<body>
<div id="dplayer" style="width: 800px; height: 450px"></div>
<script src="/DPlayer.min.js"></script>
<script>
  const q = new URLSearchParams(location.search);
  window.dp = new DPlayer({
    container: document.getElementById('dplayer'),
    autoplay: false,
    video: { url: '/silence.wav' },
    danmaku: { id: q.get('id'), api: q.get('api'), user: 'dplayer-user', maximum: 1000 },
  });
  window.notices = [];
  const notice = dp.notice.bind(dp);
  dp.notice = (text, ...rest) => { window.notices.push(String(text)); return notice(text, ...rest); };
</script>
</body></html>`

// TestDPlayer loads an unmodified DPlayer in Chromium, on a page of
// another origin pointed at danmakud's /dplayer/ API, and checks both
// directions: danmaku sent through danmakud are loaded, shown (as text,
// not HTML) and reloaded by DPlayer; danmaku sent through DPlayer's API
// and through its comment box are stored by danmakud.
func TestDPlayer(t *testing.T) {
	browsertest.NeedChromium(t)
	root := testenv.RepoRoot(t)
	dist, err := os.ReadFile(filepath.Join(root, dplayerDist))
	if err != nil {
		testenv.Need(t, "DPlayer", fmt.Sprintf("not installed (%v): run scripts/services.sh start, which runs npm ci", err))
	}
	srv := testenv.Danmakud(t, "-data", t.TempDir(), "-rate-limits=false", "-cors-origins", "*")
	tab := browsertest.Browser(t)

	wav := silentWAV(30)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(playerPage))
	})
	mux.HandleFunc("GET /DPlayer.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(dist)
	})
	mux.HandleFunc("GET /silence.wav", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "silence.wav", time.Time{}, bytes.NewReader(wav))
	})
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)

	obj := fmt.Sprintf("dplayer-e2e-%d", time.Now().UnixNano())
	const tricky = `<img src=x onerror="window.pwned=1"> & "quotes" 弹幕`
	srv.Send(t, obj, "u1", map[string]any{"text": "first from danmakud", "time": 0.2, "color": "#ff0000", "position": 1})
	srv.Send(t, obj, "u2", map[string]any{"text": tricky, "time": 0.4, "color": "#00ff00", "position": 5})

	api := srv.URL() + "/dplayer/"
	page := site.URL + "/?id=" + obj + "&api=" + api
	if err := chromedp.Do(tab, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open the DPlayer page: %v", err)
	}
	browsertest.WaitFor(t, tab, `window.dp !== undefined && dp.danmaku.dan.length === 2`, 20*time.Second,
		"DPlayer did not load the two danmaku sent through danmakud")

	type dan struct {
		Time   float64 `json:"time"`
		Type   any     `json:"type"`
		Color  any     `json:"color"`
		Author string  `json:"author"`
		Text   string  `json:"text"`
	}
	loaded := browsertest.Eval[[]dan](t, tab, `dp.danmaku.dan`)
	if loaded[0].Text != "first from danmakud" || loaded[0].Time != 0.2 || loaded[0].Color != float64(0xff0000) || loaded[0].Type != float64(0) {
		t.Errorf("first loaded danmaku = %+v, want scroll (0), red (16711680) at 0.2 s", loaded[0])
	}
	if loaded[1].Type != float64(1) || loaded[1].Color != float64(0x00ff00) {
		t.Errorf("second loaded danmaku = %+v, want top (1), green (65280)", loaded[1])
	}
	if strings.Contains(loaded[1].Text, "<") || !strings.Contains(loaded[1].Text, "&lt;img") {
		t.Errorf("DPlayer puts text into innerHTML, so the API must escape it; loaded %q", loaded[1].Text)
	}

	// Play: DPlayer draws each danmaku when playback passes its time. The
	// screen shows the text as it was sent, and no element came from it.
	browsertest.Eval[bool](t, tab, `(() => { dp.play(); return true; })()`)
	onScreen := `[...document.querySelectorAll('.dplayer-danmaku .dplayer-danmaku-item')].map((e) => e.textContent)`
	browsertest.WaitFor(t, tab, onScreen+fmt.Sprintf(`.includes(%s)`, browsertest.JS(tricky)), 20*time.Second,
		"the danmaku with HTML characters was not drawn as text")
	top := `[...document.querySelectorAll('.dplayer-danmaku .dplayer-danmaku-top')].map((e) => e.textContent)`
	if !browsertest.Eval[bool](t, tab, top+fmt.Sprintf(`.includes(%s)`, browsertest.JS(tricky))) {
		t.Errorf("the danmaku sent at the top (position 5) was not drawn at the top")
	}
	browsertest.WaitFor(t, tab, onScreen+`.includes('first from danmakud')`, 5*time.Second, "the first danmaku was not drawn")
	if n := browsertest.Eval[int](t, tab, `document.querySelectorAll('.dplayer-danmaku img').length`); n != 0 {
		t.Errorf("danmaku text became HTML: %d <img> elements in the danmaku layer", n)
	}
	if browsertest.Eval[bool](t, tab, `window.pwned === 1`) {
		t.Errorf("a danmaku's text ran script in the page")
	}

	// A danmaku sent through danmakud later appears after a reload.
	srv.Send(t, obj, "u3", map[string]any{"text": "sent after load", "time": 1, "color": "#0000ff", "position": 4})
	browsertest.Eval[bool](t, tab, `(() => { dp.danmaku.reload(dp.danmaku.options.api); return true; })()`)
	// (DPlayer turns a drawn danmaku's type number into its name in place,
	// and playback is past 1 s, so the reloaded row may be drawn already.)
	browsertest.WaitFor(t, tab, `dp.danmaku.dan.some((d) => d.text === 'sent after load' && (d.type === 2 || d.type === 'bottom') && d.color === 255)`,
		15*time.Second, "DPlayer did not reload the danmaku sent through danmakud (bottom, blue)")
	browsertest.WaitFor(t, tab, `[...document.querySelectorAll('.dplayer-danmaku .dplayer-danmaku-bottom')].some((e) => e.textContent === 'sent after load')`,
		10*time.Second, "the reloaded danmaku was not drawn at the bottom")

	// DPlayer's API: dp.danmaku.send with a string colour and type, as
	// pages call it.
	sendAPI := `new Promise((resolve) => {
		dp.danmaku.send({ text: 'sent through DPlayer 你好', color: '#fe0302', type: 'top' }, () => resolve('ok'));
		setTimeout(() => resolve('timeout: ' + window.notices.join('; ')), 10000);
	})`
	if got := browsertest.Eval[string](t, tab, sendAPI); got != "ok" {
		t.Fatalf("dp.danmaku.send did not succeed: %s", got)
	}
	// DPlayer's comment box: the controller reads the colour and type
	// from its own settings (an integer colour, type 0).
	browsertest.Eval[bool](t, tab, `(() => { dp.template.commentInput.value = 'typed in the comment box'; dp.comment.send(); return true; })()`)

	deadline := time.Now().Add(15 * time.Second)
	for {
		stored := map[string]testenv.Danmaku{}
		for _, d := range srv.Stored(t, obj) {
			stored[d.Content.Text] = d
		}
		api, okAPI := stored["sent through DPlayer 你好"]
		box, okBox := stored["typed in the comment box"]
		if okAPI && okBox {
			if api.Content.Color != "#fe0302" || api.Content.Position != 5 {
				t.Errorf("dp.danmaku.send stored as %+v, want colour #fe0302 at the top (5)", api.Content)
			}
			if api.Content.Time < 0 || api.Content.Time > 30 {
				t.Errorf("dp.danmaku.send stored at %v s, want the playback time", api.Content.Time)
			}
			if box.Content.Position != 1 || box.UserID == "" {
				t.Errorf("comment box danmaku stored as %+v (user %q), want scrolling with a user id", box.Content, box.UserID)
			}
			if len(stored) != 5 {
				t.Errorf("stored %d danmaku, want 5", len(stored))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("danmakud did not store the danmaku sent through DPlayer; stored %v; notices %q", stored,
				browsertest.Eval[[]string](t, tab, `window.notices`))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if notices := browsertest.Eval[[]string](t, tab, `window.notices`); len(notices) > 0 {
		t.Errorf("DPlayer showed notices (errors): %q", notices)
	}
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}
