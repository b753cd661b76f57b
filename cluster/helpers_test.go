package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// startNodes starts one danmakud node a name, all on the Redis at redis
// with the same token secret, each with its own data directory, the load
// runs' flags (testenv.BaseArgs), a 250 ms tick and the extra flags. The
// nodes stop when the test ends.
func startNodes(ctx context.Context, t *testing.T, bin, redis, secret string, names []string, extra ...string) map[string]*testenv.Server {
	t.Helper()
	base, err := testenv.BaseArgs(bin)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*testenv.Server{}
	for _, name := range names {
		args := append(append(append([]string(nil), base...), extra...),
			"-redis", redis, "-node-id", name, "-secret", secret,
			"-data", filepath.Join(t.TempDir(), name), "-tick", "250ms", "-max-per-tick", "1000")
		s, err := testenv.StartServer(ctx, testenv.ServerConfig{Bin: bin, Args: args, Log: testenv.LogWriter(t, name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		nodes[name] = s
	}
	return nodes
}

// batch is one batch a viewer received.
type batch struct {
	Seq   uint64 `json:"seq"`
	Items []struct {
		Count   int `json:"count"`
		Content struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"items"`
	raw string
}

// watcher is a WebSocket viewer that records every batch it receives.
type watcher struct {
	name string
	conn *wsclient.Conn
	done chan struct{}

	mu      sync.Mutex
	batches []batch
	err     error
}

// watch connects a viewer to base's room and records its batches until
// the connection ends.
func watch(t *testing.T, name, base, room string) *watcher {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/danmu/ws/" + room
	conn, err := wsclient.Dial(context.Background(), url, wsclient.Options{})
	if err != nil {
		t.Fatalf("viewer %s: %v", name, err)
	}
	w := &watcher{name: name, conn: conn, done: make(chan struct{})}
	t.Cleanup(func() { _ = conn.Close(); <-w.done })
	go w.read()
	return w
}

func (w *watcher) read() {
	defer close(w.done)
	for {
		op, p, err := w.conn.ReadMessage()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		if op == wsclient.OpPing {
			_ = w.conn.WritePong(p)
			continue
		}
		if op != wsclient.OpText || !bytes.HasPrefix(p, []byte(`{"type":"batch"`)) {
			continue
		}
		var b batch
		if err := json.Unmarshal(p, &b); err != nil {
			w.mu.Lock()
			w.err = fmt.Errorf("decode batch: %w", err)
			w.mu.Unlock()
			return
		}
		b.raw = string(p)
		w.mu.Lock()
		w.batches = append(w.batches, b)
		w.mu.Unlock()
	}
}

// snapshot returns the batches so far.
func (w *watcher) snapshot() []batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]batch(nil), w.batches...)
}

// counts returns how many times each text was delivered, counting folded
// items by their count.
func counts(bs []batch) map[string]int {
	c := make(map[string]int)
	for _, b := range bs {
		for _, it := range b.Items {
			c[it.Content.Text] += max(it.Count, 1)
		}
	}
	return c
}

// sendResult is the answer to one POST /danmu/send.
type sendResult struct {
	ID, Text   string
	Status     int
	RetryAfter string // The Retry-After header of a refusal.
}

// send posts one danmaku to base.
func send(client *http.Client, base, room, user, text string) sendResult {
	body := fmt.Sprintf(`{"objectId":%q,"userId":%q,"content":{"text":%q,"time":1}}`, room, user, text)
	resp, err := client.Post(base+"/danmu/send", "application/json", strings.NewReader(body))
	if err != nil {
		return sendResult{Text: text}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &d)
	return sendResult{ID: d.ID, Text: text, Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
}

// redisHealth returns /healthz's dependencies.redis of base.
func redisHealth(client *http.Client, base string) (bool, error) {
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var h struct {
		Dependencies map[string]bool `json:"dependencies"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return false, err
	}
	up, ok := h.Dependencies["redis"]
	if !ok {
		return false, fmt.Errorf("/healthz has no dependencies.redis")
	}
	return up, nil
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
