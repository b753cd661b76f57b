package live

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/webapi"
)

func TestSSEAndWebSocketGetTheSameBatches(t *testing.T) {
	e := newEnv(t, nil)
	ws := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, ws, "welcome")
	resp, err := http.Get(e.srv.URL + "/danmu/stream/v1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan [3]string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev [3]string // id, event, data
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev[1] != "" {
					events <- ev
				}
				ev = [3]string{}
			case strings.HasPrefix(line, "id: "):
				ev[0] = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev[1] = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev[2] = line[6:]
			}
		}
		close(events)
	}()
	next := func() [3]string {
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no SSE event")
			return [3]string{}
		}
	}
	welcome := next()
	if welcome[1] != "welcome" {
		t.Fatalf("first event %v", welcome)
	}
	var w struct {
		Room struct {
			Epoch string `json:"epoch"`
		} `json:"room"`
	}
	if err := json.Unmarshal([]byte(welcome[2]), &w); err != nil || w.Room.Epoch == "" || welcome[0] != w.Room.Epoch+":0" {
		t.Fatalf("welcome id %q does not name the epoch of %s (%v)", welcome[0], welcome[2], err)
	}
	for i := range 3 {
		e.publish("v1", "alice", fmt.Sprintf("n%d", i), false)
		e.publish("v1", "bob", "same", false)
		e.publish("v1", "carol", "same", false)
		e.tick(tk)
		wsb := readType(t, ws, "batch")
		ev := next()
		if ev[1] != "batch" || ev[0] != fmt.Sprintf("%s:%d", w.Room.Epoch, i+1) || ev[2] != string(wsb.raw) {
			t.Fatalf("SSE %v differs from WebSocket %s", ev, wsb.raw)
		}
	}
}

// sender is a minimal Sender for tests: it validates like the service
// would not, but stores nothing; it publishes what it accepts.
type sender struct {
	e      *env
	mu     sync.Mutex
	actors []danmaku.Actor
}

func (s *sender) Send(ctx context.Context, a danmaku.Actor, req danmaku.SendRequest) (*danmaku.Danmaku, error) {
	s.mu.Lock()
	s.actors = append(s.actors, a)
	s.mu.Unlock()
	if req.Content.Text == "slow down" {
		return nil, &danmaku.Error{Code: danmaku.ERATELIMIT, Message: "too many danmaku", RetryAfter: 1500 * time.Millisecond}
	}
	d := &danmaku.Danmaku{ID: s.e.ids.Next(req.Content.Time), ObjectID: req.ObjectID, UserID: a.UserID, Content: req.Content}
	return d, s.e.hub.Publish(ctx, d, false)
}

func TestSendOverWebSocket(t *testing.T) {
	s := &sender{}
	e := newEnv(t, func(c *Config) {
		c.Auth = webapi.AuthFunc(func(r *http.Request) (danmaku.Actor, error) {
			if r.URL.Query().Get("token") != "ok" {
				return danmaku.Actor{}, danmaku.Errorf(danmaku.EUNAUTHORIZED, "bad token")
			}
			return danmaku.Actor{UserID: "alice"}, nil
		})
	})
	s.e = e
	e.hub.SetSender(s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/danmu/ws/v1"
	var he *wsclient.HandshakeError
	if _, err := wsclient.Dial(ctx, base+"?token=no", wsclient.Options{}); !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
	c, err := wsclient.Dial(ctx, base+"?token=ok", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tk := e.ticker()
	readType(t, c, "welcome")

	steps := []struct {
		send, typ, code string
		retry           int64
	}{
		{`{"type":"send","ref":"r1","content":{"text":"hi there","color":"red","time":3}}`, "ack", "", 0},
		{`{"type":"send","ref":"r2","content":{"text":"   "}}`, "error", danmaku.EINVALID, 0},
		{`{"type":"send","ref":"r3","content":{"text":"slow down"}}`, "error", danmaku.ERATELIMIT, 1500},
		{`{"type":"send","ref":"r4"}`, "error", danmaku.EINVALID, 0},
		{`{"type":"ping","ref":"r5"}`, "pong", "", 0},
		{`{"type":"dance","ref":"r6"}`, "error", danmaku.EINVALID, 0},
	}
	for _, st := range steps {
		if err := c.WriteText([]byte(st.send)); err != nil {
			t.Fatal(err)
		}
		m := readType(t, c, st.typ)
		if m.Code != st.code || m.Retry != st.retry || m.Ref == "" {
			t.Errorf("%s: got %s", st.send, m.raw)
		}
		if st.typ == "ack" && m.ID.IsZero() {
			t.Errorf("ack without id: %s", m.raw)
		}
	}
	if err := c.WriteText([]byte("not json")); err != nil {
		t.Fatal(err)
	}
	if m := readType(t, c, "error"); m.Code != danmaku.EINVALID {
		t.Errorf("bad JSON: %s", m.raw)
	}
	e.tick(tk)
	b := readType(t, c, "batch")
	if texts(b.Items) != "hi there" || b.Items[0].UserID != "alice" || b.Items[0].Content.Color != 0xff0000 || b.Items[0].ObjectID != "v1" {
		t.Fatalf("batch = %s", b.raw)
	}
	if len(s.actors) == 0 || s.actors[0].UserID != "alice" {
		t.Errorf("actors = %+v", s.actors)
	}
}

func TestOversizedClientMessageCloses(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxMessageBytes = 256 })
	c := e.dial("v1", wsclient.Options{})
	readType(t, c, "welcome")
	if err := c.WriteText([]byte(`{"type":"ping","ref":"` + strings.Repeat("x", 1000) + `"}`)); err != nil {
		t.Fatal(err)
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("connection still open after an oversized message")
	}
}

// TestBadObjectID checks that a refused WebSocket or SSE request gets the
// status and JSON body that the HTTP API gives for the same error.
func TestBadObjectID(t *testing.T) {
	e := newEnv(t, nil)
	want := webapi.ErrorJSON(danmaku.ValidateObjectID("bad id"))
	for _, path := range []string{"/danmu/ws/bad%20id", "/danmu/stream/bad%20id"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.StatusCode != webapi.Status(danmaku.EINVALID) {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s: body %s, want %s", path, body, want)
		}
	}
}

// TestDeflateSharedFrame checks that a viewer offering permessage-deflate
// gets the batch compressed (RSV1) and that it inflates to exactly what a
// plain viewer gets.
func TestDeflateSharedFrame(t *testing.T) {
	e := newEnv(t, nil)
	plain := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	zipped := e.dial("v1", wsclient.Options{Header: http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"}}})
	readType(t, plain, "welcome")
	readType(t, zipped, "welcome")
	for i := range 20 {
		e.publish("v1", fmt.Sprintf("u%d", i), fmt.Sprintf("前方高能预警 %d", i), false)
	}
	e.tick(tk)
	want := readType(t, plain, "batch")
	if plain.LastCompressed {
		t.Fatal("plain viewer got a compressed frame")
	}
	_ = zipped.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	_, z, err := zipped.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !zipped.LastCompressed || len(z) >= len(want.raw)/2 {
		t.Fatalf("compressed = %v, %d bytes for %d", zipped.LastCompressed, len(z), len(want.raw))
	}
	got, err := wsclient.Inflate(z)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want.raw) {
		t.Fatalf("inflated batch differs:\n%s\n%s", got, want.raw)
	}
}
