package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// manualTicker ticks only when the test sends on it. It records the delay
// its room asked for the first tick and whether the room stopped it.
type manualTicker struct {
	ch      chan time.Time
	first   time.Duration
	stopped atomic.Bool
}

func (m *manualTicker) C() <-chan time.Time { return m.ch }
func (m *manualTicker) Reset(time.Duration) {}
func (m *manualTicker) Stop()               { m.stopped.Store(true) }

// env is a hub behind a real HTTP server on loopback, with a fake clock and
// manual tickers.
type env struct {
	t       *testing.T
	hub     *Hub
	srv     *httptest.Server
	clock   *fakeClock
	tickers chan *manualTicker
	ids     *danmaku.IDGen
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	e := &env{
		t:       t,
		clock:   &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		tickers: make(chan *manualTicker, 16),
	}
	e.ids = danmaku.NewIDGenNode(7, e.clock.Now)
	cfg := Config{
		Now: e.clock.Now,
		NewTicker: func(d time.Duration) Ticker {
			m := &manualTicker{ch: make(chan time.Time), first: d}
			e.tickers <- m
			return m
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.hub = h
	mux := http.NewServeMux()
	mux.HandleFunc("GET /danmu/ws/{objectId}", h.ServeWS)
	mux.HandleFunc("GET /danmu/stream/{objectId}", h.ServeSSE)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		e.srv.Close()
	})
	return e
}

// ticker returns the ticker of the next room to start.
func (e *env) ticker() *manualTicker {
	e.t.Helper()
	select {
	case m := <-e.tickers:
		return m
	case <-time.After(10 * time.Second):
		e.t.Fatal("no room started")
		return nil
	}
}

// tick advances the clock by one default interval and fires m.
func (e *env) tick(m *manualTicker) {
	e.clock.Advance(DefaultTickInterval)
	select {
	case m.ch <- e.clock.Now():
	case <-time.After(10 * time.Second):
		e.t.Fatal("room did not take the tick")
	}
}

// publish makes and publishes one danmaku.
func (e *env) publish(room, user, text string, priority bool) *danmaku.Danmaku {
	e.t.Helper()
	d := &danmaku.Danmaku{
		ID:        e.ids.Next(0),
		ObjectID:  room,
		UserID:    user,
		Content:   danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll},
		CreatedAt: e.clock.Now().UnixMilli(),
	}
	if err := e.hub.Publish(context.Background(), d, priority); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// dial opens a WebSocket viewer of room.
func (e *env) dial(room string, opt wsclient.Options) *wsclient.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/danmu/ws/" + room
	c, err := wsclient.Dial(ctx, url, opt)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// wireMsg is any server message, decoded loosely.
type wireMsg struct {
	Type    string             `json:"type"`
	Seq     uint64             `json:"seq"`
	At      int64              `json:"at"`
	Items   []*danmaku.Danmaku `json:"items"`
	Room    *roomState         `json:"room"`
	Batches []wireMsg          `json:"batches"`
	IDs     []danmaku.ID       `json:"ids"`
	Count   int                `json:"count"`
	Next    uint64             `json:"next"`
	Ref     string             `json:"ref"`
	ID      danmaku.ID         `json:"id"`
	Code    string             `json:"code"`
	Message string             `json:"message"`
	Retry   int64              `json:"retryAfter"`
	raw     []byte
}

// read returns the next message from c, failing the test after 10 s.
func read(t *testing.T, c *wsclient.Conn) wireMsg {
	t.Helper()
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m wireMsg
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatalf("decode %s: %v", p, err)
	}
	m.raw = p
	return m
}

// readType reads a message and checks its type.
func readType(t *testing.T, c *wsclient.Conn, typ string) wireMsg {
	t.Helper()
	m := read(t, c)
	if m.Type != typ {
		t.Fatalf("got %s message %s, want %s", m.Type, m.raw, typ)
	}
	return m
}

func texts(items []*danmaku.Danmaku) string {
	var b strings.Builder
	for i, d := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.Content.Text)
		if d.Count > 1 {
			fmt.Fprintf(&b, "×%d", d.Count)
		}
	}
	return b.String()
}
