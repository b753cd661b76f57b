package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/danmakud/danmakud/live/wsclient"
	goredis "github.com/redis/go-redis/v9"
)

// redisProc is a private redis-server that the test may stop and start
// again on the same port and data directory (append-only file on).
type redisProc struct {
	t    *testing.T
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts a private redis-server on a free loopback port.
func startRedis(t *testing.T) *redisProc {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	r := &redisProc{t: t, addr: addr, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// start runs redis-server and waits until it answers PING.
func (r *redisProc) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "yes", "--dir", r.dir, "--daemonize", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server (apt-get install redis-server): %v", err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(r.done) }()
	c := goredis.NewClient(&goredis.Options{Addr: r.addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts redis-server down gracefully (SIGTERM writes the append-only
// file) and waits for it; it is safe to call twice.
func (r *redisProc) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
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
