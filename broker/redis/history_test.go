package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/live"
)

// sendTicks publishes one danmaku per tick to room through m, waiting
// for each one's batch, and returns them; want collects their texts.
func sendTicks(t *testing.T, c *cluster, m *member, room string, n int, want *[]string) []*danmaku.Danmaku {
	t.Helper()
	var out []*danmaku.Danmaku
	for range n {
		text := fmt.Sprintf("h%03d", len(*want))
		*want = append(*want, text)
		d := newDanmaku(room, "u", text)
		next := c.seq(room) + 1
		if err := m.node.Publish(context.Background(), d, false); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
		deadline := time.Now().Add(10 * time.Second)
		for c.seq(room) < next {
			if time.Now().After(deadline) {
				t.Fatalf("no batch %d", next)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

// seq returns the seq of room's last batch, from its state.
func (c *cluster) seq(room string) uint64 {
	c.t.Helper()
	s, _ := c.rdb.HGet(context.Background(), c.prefix+":{"+room+"}:state", "seq").Result()
	if s == "" {
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// seqsOf returns the seq of each batch.
func seqsOf(bs []outBatch) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

// span returns the seqs from, from+1, … to.
func span(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// TestHistoryAcrossNodes checks that every node names a room's history
// with the same epoch, that a node that never watched the room serves a
// resume from the output stream without the danmaku deleted meanwhile,
// and that BatchesAfter stops at its limit.
func TestHistoryAcrossNodes(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a", ""), c.start("b", "")
	a.view(t, "h1") // Node a follows the room; node b does not.
	var want []string
	ds := sendTicks(t, c, a, "h1", 15, &want)
	a.node.Delete("h1", ds[5].ID)

	bs, deleted, err := b.node.BatchesAfter("h1", 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, x := range bs {
		seqs = append(seqs, x.Seq)
	}
	wantSeqs := []uint64{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if !slices.Equal(seqs, wantSeqs) {
		t.Fatalf("BatchesAfter(3) = %v, want %v", seqs, wantSeqs)
	}
	if !slices.Contains(deleted, ds[5].ID) {
		t.Fatalf("BatchesAfter(3) deleted %v, want %s among them", deleted, ds[5].ID)
	}
	bs, _, err = b.node.BatchesAfter("h1", 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 5 || bs[0].Seq != 11 || bs[4].Seq != 15 {
		t.Fatalf("BatchesAfter(3) with limit 5 returned %d batches from %d, want the last 5", len(bs), bs[0].Seq)
	}

	ea, _ := a.node.epoch(context.Background(), "h1")
	eb, _ := b.node.epoch(context.Background(), "h1")
	if ea == "" || ea != eb {
		t.Fatalf("epochs %q and %q, want one epoch on both nodes", ea, eb)
	}
	w := rawWelcome(t, b, "h1?since=3&epoch="+ea)
	if !w.Recovered || w.Room.Epoch != ea || w.Room.Seq != 15 {
		t.Fatalf("resume on node b: recovered %v epoch %q seq %d, want recovered, epoch %q, seq 15", w.Recovered, w.Room.Epoch, w.Room.Seq, ea)
	}
	var got []string
	for i, x := range w.Batches {
		if x.Seq != wantSeqs[i] {
			t.Fatalf("resume on node b: batch %d has seq %d, want %d", i, x.Seq, wantSeqs[i])
		}
		for _, d := range x.Items {
			got = append(got, d.Content.Text)
		}
	}
	if exp := slices.Delete(slices.Clone(want[3:]), 2, 3); !slices.Equal(got, exp) {
		t.Fatalf("resume on node b: %v, want %v", got, exp)
	}
}

// welcomeMsg is a welcome as a viewer receives it.
type welcomeMsg struct {
	Room struct {
		Seq   uint64 `json:"seq"`
		Epoch string `json:"epoch"`
	} `json:"room"`
	Recovered bool       `json:"recovered"`
	Batches   []outBatch `json:"batches"`
}

// rawWelcome opens a viewer of m at path (a room and a query) and
// returns its welcome.
func rawWelcome(t *testing.T, m *member, path string) welcomeMsg {
	t.Helper()
	conn, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(m.srv.URL, "http")+"/danmu/ws/"+path, wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	typ, p := (&viewer{t: t, conn: conn}).next()
	if typ != "welcome" {
		t.Fatalf("first message %s, want a welcome", p)
	}
	var w welcomeMsg
	if err := json.Unmarshal(p, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestHistoryWindow checks that a leader trims its room's output stream
// to the history window but keeps the last live.RingSize batches, and
// that a longer window keeps more.
func TestHistoryWindow(t *testing.T) {
	c := newCluster(t)
	c.history = time.Second
	a := c.start("a", "")
	var want []string
	sendTicks(t, c, a, "h2", 14, &want)
	if got := seqsOf(c.batches("h2")); len(got) < live.RingSize || !slices.Equal(got, span(15-uint64(len(got)), 14)) {
		t.Fatalf("after 14 batches the stream holds %v, want at least the last %d", got, live.RingSize)
	}
	time.Sleep(1200 * time.Millisecond)
	sendTicks(t, c, a, "h2", 1, &want)
	if got := seqsOf(c.batches("h2")); !slices.Equal(got, span(6, 15)) {
		t.Fatalf("after the window: the stream holds %v, want the last %d (6…15)", got, live.RingSize)
	}

	long := newCluster(t)
	b := long.start("b", "")
	sendTicks(t, long, b, "h3", 14, &want)
	if got := seqsOf(long.batches("h3")); !slices.Equal(got, span(1, 14)) {
		t.Fatalf("with the default window the stream holds %v, want 1…14", got)
	}
}

func TestTrimID(t *testing.T) {
	now := time.UnixMilli(100_000)
	tests := []struct {
		keep, want string
	}{
		{"", ""},
		{"1000-0", "1000-0"},   // The last batches are older than the window: keep them.
		{"95000-3", "40000-0"}, // They are within it: trim at its start.
	}
	for _, tc := range tests {
		if got := trimID(now, time.Minute, tc.keep); got != tc.want {
			t.Errorf("trimID(%q) = %q, want %q", tc.keep, got, tc.want)
		}
	}
	var st leaderState
	if got := st.keepID(1); got != "" {
		t.Errorf("keepID without recent batches = %q, want none", got)
	}
	for i := range live.RingSize {
		st.recent = append(st.recent, strconv.Itoa(i)+"-0")
	}
	for _, tc := range []struct {
		added int
		want  string
	}{{1, "1-0"}, {3, "3-0"}, {live.RingSize + 5, strconv.Itoa(live.RingSize-1) + "-0"}} {
		if got := st.keepID(tc.added); got != tc.want {
			t.Errorf("keepID(%d) = %q, want %q", tc.added, got, tc.want)
		}
	}
}

// TestHistoryLost checks what happens when Redis loses a room's history
// (its keys are deleted, as a flush would): the next batch starts seq
// again under a new epoch, every node's viewers of the room are
// disconnected with live.CloseHistoryReset, and joiners get the new epoch.
func TestHistoryLost(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("a", ""), c.start("b", "")
	va, vb := a.view(t, "h4"), b.view(t, "h4")
	var want []string
	sendTicks(t, c, a, "h4", 3, &want)
	ctx := context.Background()
	old, err := a.node.epoch(ctx, "h4")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"state", "out", "in", "lease", "deleted"} {
		if err := c.rdb.Del(ctx, c.prefix+":{h4}:"+k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sendTicks(t, c, b, "h4", 1, &want)
	for name, v := range map[string]*viewer{"a": va, "b": vb} {
		_ = v.conn.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, _, err := v.conn.ReadMessage()
			if err == nil {
				continue
			}
			var ce *wsclient.CloseError
			if !errors.As(err, &ce) || ce.Code != live.CloseHistoryReset {
				t.Fatalf("viewer on node %s: %v, want the close %d", name, err, live.CloseHistoryReset)
			}
			break
		}
	}
	for _, m := range []*member{a, b} {
		w := rawWelcome(t, m, "h4")
		if w.Room.Epoch == "" || w.Room.Epoch == old || w.Room.Seq != 1 || len(w.Batches) != 1 || w.Batches[0].Items[0].Content.Text != want[3] {
			t.Fatalf("welcome after the loss: epoch %q (was %q), seq %d, %d batches; want a new epoch and batch 1 with %s", w.Room.Epoch, old, w.Room.Seq, len(w.Batches), want[3])
		}
	}
}
