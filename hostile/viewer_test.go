package hostile

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// wsURL returns the WebSocket URL of room, with the token if not empty.
func (s *server) wsURL(room, tok string) string {
	u := "ws://" + s.addr + "/danmu/ws/" + room
	if tok != "" {
		u += "?token=" + tok
	}
	return u
}

// dialWS opens a WebSocket to room; it fails the test if refused.
func (s *server) dialWS(room, tok string, opt wsclient.Options) *wsclient.Conn {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, s.wsURL(room, tok), opt)
	if err != nil {
		s.t.Fatalf("dial websocket: %v", err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// wireMsg is any server message, decoded loosely.
type wireMsg struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq"`
	Ref   string `json:"ref"`
	Code  string `json:"code"`
	Items []struct {
		Content struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"items"`
	Room *struct {
		Seq uint64 `json:"seq"`
	} `json:"room"`
	Count int    `json:"count"`
	Next  uint64 `json:"next"`
}

// watcher is a well-behaved viewer that reads everything in the
// background and records each batch.
type watcher struct {
	c *wsclient.Conn

	mu      sync.Mutex
	start   uint64         // The welcome's seq; batches follow from start+1.
	seqs    []uint64       // Seq of every batch, in order received.
	texts   map[string]int // Texts delivered, with counts.
	dropped int            // Batches the server reported dropped.
	err     error          // Why reading stopped.
	done    chan struct{}
}

// watch connects a watcher to room.
func (s *server) watch(room string) *watcher {
	s.t.Helper()
	w := &watcher{c: s.dialWS(room, "", wsclient.Options{}), texts: map[string]int{}, done: make(chan struct{})}
	_ = w.c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := w.c.ReadMessage()
	if err != nil {
		s.t.Fatalf("read welcome: %v", err)
	}
	var m wireMsg
	if err := json.Unmarshal(p, &m); err != nil || m.Type != "welcome" || m.Room == nil {
		s.t.Fatalf("first message is not a welcome: %s", p)
	}
	w.start = m.Room.Seq
	_ = w.c.NetConn().SetReadDeadline(time.Time{})
	go w.run()
	return w
}

func (w *watcher) run() {
	defer close(w.done)
	for {
		_, p, err := w.c.ReadMessage()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		var m wireMsg
		if err := json.Unmarshal(p, &m); err != nil {
			w.mu.Lock()
			w.err = errors.New("undecodable message: " + string(p))
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		switch m.Type {
		case "batch":
			w.seqs = append(w.seqs, m.Seq)
			for _, it := range m.Items {
				w.texts[it.Content.Text]++
			}
		case "dropped":
			w.dropped += m.Count
		}
		w.mu.Unlock()
	}
}

// waitFor waits until the watcher has received every text in want, and
// fails the test after timeout.
func (w *watcher) waitFor(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		missing := 0
		for _, s := range want {
			if w.texts[s] == 0 {
				missing++
			}
		}
		err := w.err
		w.mu.Unlock()
		if missing == 0 {
			return
		}
		if err != nil {
			t.Fatalf("watcher stopped with %d of %d texts missing: %v", missing, len(want), err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher: %d of %d texts not delivered after %v", missing, len(want), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkContiguous fails the test unless the watcher received every batch
// from the one after its welcome, in order, none dropped.
func (w *watcher) checkContiguous(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dropped > 0 {
		t.Errorf("watcher was told %d batches were dropped", w.dropped)
	}
	for i, s := range w.seqs {
		if want := w.start + uint64(i) + 1; s != want {
			t.Fatalf("batch %d has seq %d, want %d (seqs %v)", i, s, want, w.seqs)
		}
	}
	if len(w.seqs) == 0 {
		t.Error("watcher received no batch")
	}
}

// upgradeStatus attempts a WebSocket upgrade with the given Origin and
// returns the status: 101 when upgraded.
func (s *server) upgradeStatus(room, origin string) int {
	s.t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, s.wsURL(room, ""), wsclient.Options{Header: h})
	if err == nil {
		c.Close()
		return http.StatusSwitchingProtocols
	}
	var he *wsclient.HandshakeError
	if errors.As(err, &he) {
		return he.Status
	}
	s.t.Fatalf("upgrade with origin %q: %v", origin, err)
	return 0
}

// isJSONError reports whether body is the API's JSON error form.
func isJSONError(body []byte) bool {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error.Code != "" && e.Error.Message != "" && !strings.Contains(e.Error.Code, "internal")
}
