// Package brokertest is the conformance suite of danmaku.Broker, as
// store/storetest is for stores: the in-process live hub and the Redis
// cluster broker both run it. It watches a room the way a player does, over
// the hub's Server-Sent Events endpoint, and checks what reaches it.
package brokertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
)

// Setup is one Broker under test and the live hub whose viewers it feeds:
// the hub itself on a single node, or the hub a cluster node delivers to.
type Setup struct {
	Broker danmaku.Broker
	Hub    *live.Hub
}

// Run runs the suite. newSetup returns a fresh Broker over a fresh hub
// for each subtest, closing both when the subtest ends (t.Cleanup).
func Run(t *testing.T, newSetup func(t *testing.T) Setup) {
	t.Run("PublishReachesViewers", func(t *testing.T) { testPublish(t, newSetup(t)) })
	t.Run("ShadowIsNotBroadcast", func(t *testing.T) { testShadow(t, newSetup(t)) })
	t.Run("DeleteReachesViewers", func(t *testing.T) { testDelete(t, newSetup(t)) })
	t.Run("JoinerGetsRecentBatches", func(t *testing.T) { testJoiner(t, newSetup(t)) })
}

// wait bounds each read from a viewer; a cluster takes a lease and a few
// ticks to answer.
const wait = 15 * time.Second

// event is one SSE event, decoded loosely.
type event struct {
	Type    string             `json:"type"`
	Seq     uint64             `json:"seq"`
	Items   []*danmaku.Danmaku `json:"items"`
	IDs     []danmaku.ID       `json:"ids"`
	Batches []event            `json:"batches"`
}

// viewer is one SSE connection to a room.
type viewer struct {
	t    *testing.T
	body *bufio.Reader
}

// watch opens an SSE viewer of objectID and returns it with its welcome.
func watch(t *testing.T, hub *live.Hub, objectID string) (*viewer, event) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /danmu/stream/{objectId}", hub.ServeSSE)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); srv.Close() })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/danmu/stream/"+objectID, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream %s: status %d", objectID, resp.StatusCode)
	}
	v := &viewer{t: t, body: bufio.NewReader(resp.Body)}
	w := v.next()
	if w.Type != "welcome" {
		t.Fatalf("first event is %q, want welcome", w.Type)
	}
	return v, w
}

// next returns the viewer's next event, failing the test after wait.
func (v *viewer) next() event {
	v.t.Helper()
	type result struct {
		e   event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			line, err := v.body.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: ")
			if !ok {
				continue
			}
			var e event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				ch <- result{err: fmt.Errorf("decode %s: %w", data, err)}
				return
			}
			ch <- result{e: e}
			return
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			v.t.Fatalf("read event: %v", r.err)
		}
		return r.e
	case <-time.After(wait):
		v.t.Fatalf("no event within %v", wait)
		return event{}
	}
}

// until reads events until one satisfies ok, and returns the events read
// before it.
func (v *viewer) until(what string, ok func(event) bool) []event {
	v.t.Helper()
	var before []event
	for range 100 {
		e := v.next()
		if ok(e) {
			return before
		}
		before = append(before, e)
	}
	v.t.Fatalf("no %s among 100 events", what)
	return nil
}

// has reports whether batch e carries the danmaku id.
func has(e event, id danmaku.ID) bool {
	return e.Type == "batch" && slices.ContainsFunc(e.Items, func(d *danmaku.Danmaku) bool { return d.ID == id })
}

// newDanmaku returns a valid danmaku of objectID with text.
func newDanmaku(g *danmaku.IDGen, objectID, user, text string) *danmaku.Danmaku {
	return &danmaku.Danmaku{
		ID: g.Next(0), ObjectID: objectID, UserID: user,
		Content: danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll},
	}
}

func testPublish(t *testing.T, s Setup) {
	v, _ := watch(t, s.Hub, "bt-publish")
	g := danmaku.NewIDGenNode(1, nil)
	d := newDanmaku(g, "bt-publish", "alice", "hello")
	if err := s.Broker.Publish(context.Background(), d, false); err != nil {
		t.Fatal(err)
	}
	v.until("batch with the published danmaku", func(e event) bool { return has(e, d.ID) })
}

func testShadow(t *testing.T, s Setup) {
	v, _ := watch(t, s.Hub, "bt-shadow")
	g := danmaku.NewIDGenNode(1, nil)
	hidden := newDanmaku(g, "bt-shadow", "troll", "hidden")
	hidden.Shadow = true
	shown := newDanmaku(g, "bt-shadow", "alice", "shown")
	for _, d := range []*danmaku.Danmaku{hidden, shown} {
		if err := s.Broker.Publish(context.Background(), d, false); err != nil {
			t.Fatal(err)
		}
	}
	var got event
	before := v.until("batch with the shown danmaku", func(e event) bool { got = e; return has(e, shown.ID) })
	for _, e := range append(before, got) {
		if has(e, hidden.ID) {
			t.Fatalf("a shadow danmaku was broadcast: %+v", e)
		}
	}
}

func testDelete(t *testing.T, s Setup) {
	v, _ := watch(t, s.Hub, "bt-delete")
	g := danmaku.NewIDGenNode(1, nil)
	d := newDanmaku(g, "bt-delete", "alice", "regret")
	if err := s.Broker.Publish(context.Background(), d, false); err != nil {
		t.Fatal(err)
	}
	v.until("batch with the danmaku", func(e event) bool { return has(e, d.ID) })
	s.Broker.Delete("bt-delete", d.ID)
	v.until("delete of the danmaku", func(e event) bool { return e.Type == "delete" && slices.Contains(e.IDs, d.ID) })
	// A joiner's recent batches no longer carry it.
	_, w := watch(t, s.Hub, "bt-delete")
	for _, b := range w.Batches {
		if has(b, d.ID) {
			t.Fatalf("a joiner's recent batch %d still carries the deleted danmaku", b.Seq)
		}
	}
}

func testJoiner(t *testing.T, s Setup) {
	v, _ := watch(t, s.Hub, "bt-join")
	g := danmaku.NewIDGenNode(1, nil)
	d := newDanmaku(g, "bt-join", "alice", "first")
	if err := s.Broker.Publish(context.Background(), d, true); err != nil {
		t.Fatal(err)
	}
	v.until("batch with the danmaku", func(e event) bool { return has(e, d.ID) })
	_, w := watch(t, s.Hub, "bt-join")
	if !slices.ContainsFunc(w.Batches, func(b event) bool { return has(b, d.ID) }) {
		t.Fatalf("a joiner's welcome lacks the recent batch: %+v", w)
	}
}
