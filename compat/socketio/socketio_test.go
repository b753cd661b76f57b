package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/compat/socketio"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/live"
)

// env is a real live hub and the Socket.IO server on loopback.
type env struct {
	t   *testing.T
	hub *live.Hub
	sio *socketio.Server
	url string
	ids *danmaku.IDGen
}

func newEnv(t *testing.T, cfg socketio.Config) *env {
	t.Helper()
	hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: live.MinTickInterval}})
	if err != nil {
		t.Fatal(err)
	}
	sio, err := socketio.New(hub, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /socket.io/", sio)
	mux.Handle("POST /socket.io/", sio)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := sio.Close(); err != nil {
			t.Error(err)
		}
		if err := hub.Close(); err != nil {
			t.Error(err)
		}
	})
	return &env{t: t, hub: hub, sio: sio, url: srv.URL + "/socket.io/?EIO=4", ids: danmaku.NewIDGenNode(3, time.Now)}
}

// do sends a request and returns the status and body.
func (e *env) do(method, query, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+query, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, query, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// handshake opens a polling session and returns its sid.
func (e *env) handshake() string {
	e.t.Helper()
	status, body := e.do("GET", "&transport=polling", "")
	var open struct {
		SID        string   `json:"sid"`
		Upgrades   []string `json:"upgrades"`
		MaxPayload int      `json:"maxPayload"`
	}
	if status != 200 || !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil || open.SID == "" {
		e.t.Fatalf("handshake: %d %q", status, body)
	}
	if len(open.Upgrades) != 1 || open.Upgrades[0] != "websocket" || open.MaxPayload <= 0 {
		e.t.Errorf("open packet %q: want upgrades [websocket] and maxPayload", body)
	}
	return open.SID
}

// post sends packets over polling and fails unless they are accepted.
func (e *env) post(sid string, pkts ...string) {
	e.t.Helper()
	if status, body := e.do("POST", "&transport=polling&sid="+sid, strings.Join(pkts, "\x1e")); status != 200 || body != "ok" {
		e.t.Fatalf("post %q: %d %q", pkts, status, body)
	}
}

// poll returns the packets of one long-poll.
func (e *env) poll(sid string) []string {
	e.t.Helper()
	status, body := e.do("GET", "&transport=polling&sid="+sid, "")
	if status != 200 {
		e.t.Fatalf("poll: %d %q", status, body)
	}
	return strings.Split(body, "\x1e")
}

// publish queues a danmaku for room's next tick.
func (e *env) publish(room, text string) *danmaku.Danmaku {
	e.t.Helper()
	d := &danmaku.Danmaku{ID: e.ids.Next(0), ObjectID: room, UserID: "u-" + text, CreatedAt: time.Now().UnixMilli(),
		Content: danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll}}
	if err := e.hub.Publish(context.Background(), d, false); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// readWS returns the next text message of c.
func readWS(t *testing.T, c *wsclient.Conn) string {
	t.Helper()
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return string(p)
}

// TestPollingThenUpgrade walks the path of socket.io-client's defaults:
// handshake over polling, namespace connect, probe and upgrade, then one
// message event per danmaku over the WebSocket, each body the danmaku's
// JSON; an emit asking for an ack is refused.
func TestPollingThenUpgrade(t *testing.T) {
	e := newEnv(t, socketio.Config{})
	sid := e.handshake()
	e.post(sid, "40/video/room1,")
	got := e.poll(sid)
	if len(got) != 1 || !strings.HasPrefix(got[0], `40/video/room1,{"sid":"`) {
		t.Fatalf("connect answer %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.url, "http") + "&transport=websocket&sid=" + sid
	c, err := wsclient.Dial(ctx, wsURL, wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteText([]byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if p := readWS(t, c); p != "3probe" {
		t.Fatalf("probe answer %q", p)
	}
	if p := e.poll(sid); len(p) != 1 || p[0] != "6" {
		t.Fatalf("the poll during the upgrade got %q, want a noop", p)
	}
	if err := c.WriteText([]byte("5")); err != nil {
		t.Fatal(err)
	}

	want := map[string]bool{}
	for i := range 3 {
		d := e.publish("room1", fmt.Sprintf("hello %d", i))
		want[`42/video/room1,["message",`+string(d.AppendJSON(nil))+`]`] = true
	}
	e.publish("other", "not for room1")
	if err := c.WriteText([]byte(`42/video/room1,7["message",{"text":"from a client"}]`)); err != nil {
		t.Fatal(err)
	}
	acked := false
	for len(want) > 0 || !acked {
		p := readWS(t, c)
		switch {
		case want[p]:
			delete(want, p)
		case strings.HasPrefix(p, `43/video/room1,7[{"code":"forbidden"`):
			acked = true
		case p == "2":
		default:
			t.Fatalf("unexpected packet %q (still waiting for %d messages, acked %v)", p, len(want), acked)
		}
	}
	if status, _ := e.do("GET", "&transport=polling&sid="+sid, ""); status != 400 {
		t.Errorf("a poll after the upgrade got %d, want 400", status)
	}
}

// TestWebSocketFirst opens the session over WebSocket directly
// (transports: ['websocket']).
func TestWebSocketFirst(t *testing.T) {
	e := newEnv(t, socketio.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"&transport=websocket", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := readWS(t, c); !strings.HasPrefix(p, `0{"sid":"`) || !strings.Contains(p, `"upgrades":[]`) {
		t.Fatalf("open packet %q", p)
	}
	if err := c.WriteText([]byte("40/video/ws1,")); err != nil {
		t.Fatal(err)
	}
	if p := readWS(t, c); !strings.HasPrefix(p, `40/video/ws1,{"sid":"`) {
		t.Fatalf("connect answer %q", p)
	}
	d := e.publish("ws1", "direct")
	if p, want := readWS(t, c), `42/video/ws1,["message",`+string(d.AppendJSON(nil))+`]`; p != want {
		t.Fatalf("got %q, want %q", p, want)
	}
}

// TestRefusals checks the limits: protocol version, transport, unknown
// session, namespaces, payload size and the number of sessions.
func TestRefusals(t *testing.T) {
	e := newEnv(t, socketio.Config{MaxSessions: 2, MaxNamespaces: 1, MaxPayload: 64})
	engineError := func(status int, body string, wantStatus, wantCode int) {
		t.Helper()
		var v struct {
			Code    *int   `json:"code"`
			Message string `json:"message"`
		}
		if status != wantStatus || json.Unmarshal([]byte(body), &v) != nil || v.Code == nil || *v.Code != wantCode || v.Message == "" {
			t.Errorf("got %d %q, want %d with Engine.IO error code %d", status, body, wantStatus, wantCode)
		}
	}
	s, b := e.do("GET", "&transport=polling", "")
	if s != 200 {
		t.Fatalf("handshake: %d %s", s, b)
	}
	status, body := func() (int, string) {
		res, err := http.Get(strings.Replace(e.url, "EIO=4", "EIO=3", 1) + "&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		x, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(x)
	}()
	engineError(status, body, 400, 5)
	s, b = e.do("GET", "&transport=flash", "")
	engineError(s, b, 400, 0)
	s, b = e.do("GET", "&transport=polling&sid=nope", "")
	engineError(s, b, 400, 1)

	sid := e.handshake() // The second session: the cap.
	s, b = e.do("GET", "&transport=polling", "")
	engineError(s, b, 503, 4)

	e.post(sid, "40/chat,", `40/video/bad id!,`, "40/video/ok1,", "40/video/ok2,")
	got := e.poll(sid)
	if len(got) != 4 ||
		!strings.HasPrefix(got[0], `44/chat,{"message":"Invalid namespace`) ||
		!strings.HasPrefix(got[1], `44/video/bad id!,{"message":"Invalid namespace`) ||
		!strings.HasPrefix(got[2], `40/video/ok1,{"sid":`) ||
		!strings.HasPrefix(got[3], `44/video/ok2,{"message":"too many namespaces`) {
		t.Errorf("connect answers %q", got)
	}

	s, b = e.do("POST", "&transport=polling&sid="+sid, "42/video/ok1,"+strings.Repeat("x", 64))
	engineError(s, b, 413, 3)
	s, b = e.do("GET", "&transport=polling&sid="+sid, "")
	engineError(s, b, 400, 1) // The session was closed.
	if n := e.sio.Sessions(); n != 1 {
		t.Errorf("%d sessions open, want 1", n)
	}
}

// TestHeartbeat closes a session whose client does not answer pings.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t, socketio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	sid := e.handshake()
	if p := e.poll(sid); len(p) != 1 || p[0] != "2" {
		t.Fatalf("poll got %q, want a ping", p)
	}
	e.post(sid, "3") // One pong: the session lives on.
	if p := e.poll(sid); len(p) != 1 || p[0] != "2" {
		t.Fatalf("poll got %q, want the next ping", p)
	}
	// No pong this time: the next poll ends with the close packet, or the
	// session is already gone.
	status, body := e.do("GET", "&transport=polling&sid="+sid, "")
	if !(status == 200 && body == "1") && status != 400 {
		t.Fatalf("poll after a missed pong: %d %q", status, body)
	}
	for e.sio.Sessions() != 0 {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlowSessionClosed lets one session stop polling while another keeps
// up: the first is closed once more than MaxQueuedBytes wait for it, and
// the room goes on for the second, which receives every danmaku.
func TestSlowSessionClosed(t *testing.T) {
	e := newEnv(t, socketio.Config{MaxQueuedBytes: 4096})
	slow, good := e.handshake(), e.handshake()
	for _, sid := range []string{slow, good} {
		e.post(sid, "40/video/q1,")
		if p := e.poll(sid); len(p) != 1 || !strings.HasPrefix(p[0], "40/video/q1,") {
			t.Fatalf("connect answer %q", p)
		}
	}
	pad := strings.Repeat("x", 90)
	received := map[string]bool{}
	for round := 0; e.sio.Sessions() == 2 || round < 3; round++ {
		if round == 100 {
			t.Fatal("the session that stopped polling is still open after 100 rounds")
		}
		var want []string
		for i := range 3 {
			d := e.publish("q1", fmt.Sprintf("%d.%d %s", round, i, pad))
			want = append(want, `42/video/q1,["message",`+string(d.AppendJSON(nil))+`]`)
		}
		for _, w := range want {
			for !received[w] {
				for _, p := range e.poll(good) {
					if p == "2" {
						e.post(good, "3")
					}
					received[p] = true
				}
			}
		}
	}
	if status, body := e.do("GET", "&transport=polling&sid="+slow, ""); status != 400 {
		t.Errorf("the slow session's poll got %d %q, want 400: it was closed", status, body)
	}
}
