package live

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/store/pebble"
)

// seqsOf returns the seq of each batch.
func seqsOf(bs []wireMsg) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

// epochOf reads the room epoch of a welcome.
func epochOf(t *testing.T, w wireMsg) string {
	t.Helper()
	if w.Room == nil || w.Room.Epoch == "" {
		t.Fatalf("welcome without an epoch: %s", w.raw)
	}
	return w.Room.Epoch
}

// TestResumeFromRing checks resumes that the room's recent batches can
// serve, without a BatchLog, and those it cannot.
func TestResumeFromRing(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("r", wsclient.Options{})
	tk := e.ticker()
	epoch := epochOf(t, readType(t, c, "welcome"))
	for i := range 3 {
		e.publish("r", "u", fmt.Sprint("n", i), false)
		e.tick(tk)
		readType(t, c, "batch")
	}
	cases := []struct {
		query     string
		recovered bool
		seqs      []uint64
	}{
		{"?since=1&epoch=" + epoch, true, []uint64{2, 3}},
		{"?since=3&epoch=" + epoch, true, []uint64{}},
		{"?since=0&epoch=" + epoch, true, []uint64{1, 2, 3}},
		{"?since=9&epoch=" + epoch, false, []uint64{1, 2, 3}},
		{"?since=1&epoch=other", false, []uint64{1, 2, 3}},
		{"?since=1", false, []uint64{1, 2, 3}},
		{"", false, []uint64{1, 2, 3}},
	}
	for _, tc := range cases {
		w := readType(t, e.dial("r"+tc.query, wsclient.Options{}), "welcome")
		if got := strings.Contains(string(w.raw), `"recovered":true`); got != tc.recovered || !slices.Equal(seqsOf(w.Batches), tc.seqs) {
			t.Errorf("%s: recovered %v batches %v, want %v %v", tc.query, got, seqsOf(w.Batches), tc.recovered, tc.seqs)
		}
	}
	res, err := http.Get(e.srv.URL + "/danmu/ws/r?since=x&epoch=" + epoch)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("since=x: %s, want 400", res.Status)
	}
}

// TestResumeFromLog checks that a resume older than the recent batches is
// served from the BatchLog, without danmaku deleted meanwhile, and that a
// room made again continues its seq.
func TestResumeFromLog(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, func(c *Config) { c.BatchLog = st })
	c := e.dial("r", wsclient.Options{})
	tk := e.ticker()
	epoch := epochOf(t, readType(t, c, "welcome"))
	if epoch != st.Epoch() {
		t.Fatalf("epoch %q, want the store's %q", epoch, st.Epoch())
	}
	var first []*danmaku.Danmaku
	for i := range 2 * RingSize {
		first = append(first, e.publish("r", "u", fmt.Sprint("n", i), false))
		e.tick(tk)
		readType(t, c, "batch")
	}
	e.hub.Delete("r", first[3].ID) // Batch 4, no longer in the ring.
	readType(t, c, "delete")
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs, err := st.BatchesAfter(context.Background(), "r", 0, 100)
		del, err2 := st.Deleted(context.Background(), "r", time.Time{})
		if err == nil && err2 == nil && len(bs) == 2*RingSize && len(del) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d batches and %d deletions (%v, %v)", len(bs), len(del), err, err2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w := readType(t, e.dial("r?since=2&epoch="+epoch, wsclient.Options{}), "welcome")
	want := make([]uint64, 0, 18)
	for s := uint64(3); s <= 2*RingSize; s++ {
		want = append(want, s)
	}
	if !strings.Contains(string(w.raw), `"recovered":true`) || !slices.Equal(seqsOf(w.Batches), want) {
		t.Fatalf("resume since 2: %v, want recovered %v", seqsOf(w.Batches), want)
	}
	if b := w.Batches[1]; b.Seq != 4 || len(b.Items) != 0 {
		t.Errorf("batch 4 replayed with %d items, want its deleted danmaku left out", len(b.Items))
	}
	if b := w.Batches[0]; len(b.Items) != 1 || b.Items[0].ID != first[2].ID {
		t.Errorf("batch 3 replayed with %v, want %s", b.Items, first[2].ID)
	}
}
