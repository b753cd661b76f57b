package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danmakud/danmakud/internal/browsertest"
	"github.com/danmakud/danmakud/internal/testenv"
)

// socketIODist is socket.io-client's browser bundle, installed by npm ci.
const socketIODist = "node_modules/socket.io-client/dist/socket.io.min.js"

// sendRaw stores a danmaku through POST /danmu/send, as the first seed's
// curl example does, and returns the answer decoded loosely: the body a
// Socket.IO client must receive.
func sendRaw(t *testing.T, srv *testenv.Server, objectID, text string) any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"objectId": objectID, "userId": "1", "ownerId": "1",
		"content": map[string]any{"text": text, "color": "yellow", "size": "40px", "position": 1, "time": 14}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(srv.URL()+"/danmu/send", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /danmu/send: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST /danmu/send: %s %s (%v)", res.Status, b, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("POST /danmu/send: %s: %v", b, err)
	}
	return v
}

// sendMany sends n danmaku with distinct texts (so that none folds) and
// returns the answers in order.
func sendMany(t *testing.T, srv *testenv.Server, objectID string, n int) []any {
	t.Helper()
	want := make([]any, n)
	for i := range want {
		want[i] = sendRaw(t, srv, objectID, fmt.Sprintf("弹幕 %d <b>&amp;", i))
	}
	return want
}

// checkBodies fails the test unless got holds exactly the bodies of want,
// in order.
func checkBodies(t *testing.T, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d message events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			t.Errorf("message %d = %s, want the API's answer %s", i, g, w)
		}
	}
}

// nodeEvent is one line printed by testdata/socketio-client.mjs.
type nodeEvent struct {
	Event     string          `json:"event"`
	Transport string          `json:"transport"`
	Body      any             `json:"body"`
	Err       *string         `json:"err"`
	Answer    json.RawMessage `json:"answer"`
	Message   string          `json:"message"`
}

// TestSocketIONode runs the npm socket.io-client in Node with its default
// options against danmakud, as the first seed's page does: it must connect
// to /video/{objectId} over long-polling, upgrade to WebSocket, have its
// own emit refused, and receive every danmaku sent through POST
// /danmu/send as one "message" event with the API's body.
func TestSocketIONode(t *testing.T) {
	root := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, socketIODist)); err != nil {
		testenv.Need(t, "socket.io-client", fmt.Sprintf("not installed (%v): run npm ci", err))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Need(t, "Node.js", err.Error())
	}
	srv := testenv.Danmakud(t, "-data", t.TempDir(), "-rate-limits=false", "-cors-origins", "*", "-tick", "100ms")
	obj := fmt.Sprintf("sio-node-%d", time.Now().UnixNano())
	const n = 25

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "compat/e2e/testdata/socketio-client.mjs"), srv.URL(), obj, fmt.Sprint(n))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	events := make(chan nodeEvent)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e nodeEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = nodeEvent{Event: "garbage", Message: sc.Text()}
			}
			events <- e
		}
	}()
	next := func() nodeEvent {
		t.Helper()
		e, ok := <-events
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the Node client ended early: %s\nserver log:\n%s", stderr.String(), srv.Output())
		}
		return e
	}

	var opened, upgraded bool
	for ready := false; !ready; {
		e := next()
		switch e.Event {
		case "open":
			opened = e.Transport == "polling"
		case "upgrade":
			upgraded = e.Transport == "websocket"
		case "ack":
			var answer struct{ Code string }
			if e.Err != nil || json.Unmarshal(e.Answer, &answer) != nil || answer.Code != "forbidden" {
				t.Errorf("a client's emit was answered with %s (err %v), want a forbidden error", e.Answer, e.Err)
			}
		case "ready":
			ready = true
			if e.Transport != "websocket" {
				t.Errorf("ready on %q, want websocket", e.Transport)
			}
		default:
			t.Fatalf("unexpected event before ready: %+v\nserver log:\n%s", e, srv.Output())
		}
	}
	if !opened || !upgraded {
		t.Errorf("opened over polling %v, upgraded to websocket %v; want both (the client's defaults)", opened, upgraded)
	}

	want := sendMany(t, srv, obj, n)
	var got []any
	for {
		e := next()
		if e.Event == "done" {
			if e.Transport != "websocket" {
				t.Errorf("done on %q, want websocket", e.Transport)
			}
			break
		}
		if e.Event != "message" {
			t.Fatalf("unexpected event %+v", e)
		}
		got = append(got, e.Body)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("node: %v: %s", err, stderr.String())
	}
	checkBodies(t, got, want)
}

// socketIOPage is a page of another origin that loads socket.io-client's
// browser bundle and connects as the first seed's page does, with the
// default options.
const socketIOPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>socket.io</title>
<script src="/socket.io.min.js"></script></head>
<body><script>
  const q = new URLSearchParams(location.search);
  window.received = [];
  window.transports = [];
  window.ackAnswer = null;
  const socket = io(q.get('api') + '/video/' + q.get('id'));
  socket.io.on('open', () => {
    window.transports.push(socket.io.engine.transport.name);
    socket.io.engine.on('upgrade', (t) => window.transports.push(t.name));
  });
  socket.on('connect', () => {
    socket.emit('message', { text: 'from the page' }, (answer) => { window.ackAnswer = answer; });
  });
  socket.on('message', (body) => window.received.push(body));
  window.socket = socket;
</script></body></html>`

// TestSocketIOChromium does what TestSocketIONode does with the browser
// bundle of socket.io-client in Chromium, on a page served by the test
// (another origin than danmakud's).
func TestSocketIOChromium(t *testing.T) {
	browsertest.NeedChromium(t)
	root := testenv.RepoRoot(t)
	dist, err := os.ReadFile(filepath.Join(root, socketIODist))
	if err != nil {
		testenv.Need(t, "socket.io-client", fmt.Sprintf("not installed (%v): run npm ci", err))
	}
	srv := testenv.Danmakud(t, "-data", t.TempDir(), "-rate-limits=false", "-cors-origins", "*", "-tick", "100ms", "-origins", "*")
	tab := browsertest.Browser(t)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(socketIOPage))
	})
	mux.HandleFunc("GET /socket.io.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(dist)
	})
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)

	obj := fmt.Sprintf("sio-chromium-%d", time.Now().UnixNano())
	if err := chromedp.Do(tab, chromedp.Navigate(site.URL+"/?id="+obj+"&api="+srv.URL())); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	browsertest.WaitFor(t, tab, `window.socket && socket.connected && window.ackAnswer !== null && socket.io.engine.transport.name === 'websocket'`,
		30*time.Second, "socket.io-client did not connect and upgrade to WebSocket")
	if tr := browsertest.Eval[[]string](t, tab, `window.transports`); !reflect.DeepEqual(tr, []string{"polling", "websocket"}) {
		t.Errorf("transports %q, want polling then websocket", tr)
	}
	if code := browsertest.Eval[string](t, tab, `String(window.ackAnswer && window.ackAnswer.code)`); code != "forbidden" {
		t.Errorf("the page's emit was answered with code %q, want forbidden", code)
	}

	const n = 25
	want := sendMany(t, srv, obj, n)
	browsertest.WaitFor(t, tab, fmt.Sprintf(`window.received.length >= %d`, n), 30*time.Second, "the page did not receive every danmaku")
	got := browsertest.Eval[[]any](t, tab, `window.received`)
	checkBodies(t, got, want)
}
