package live

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// feed is a Remote whose batches the test hands over itself, as the
// cluster broker does from its output stream: recent are the last
// batches, older the ones before them that only a resume reads.
type feed struct {
	epoch   string
	older   []danmaku.Batch
	recent  []danmaku.Batch
	deleted []danmaku.ID
	mu      sync.Mutex
	follow  map[string]int
	resumes int // Calls of BatchesAfter.
}

func (f *feed) Follow(objectID string) (string, []danmaku.Batch, []danmaku.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.follow[objectID]++
	return f.epoch, f.recent, f.deleted
}

func (f *feed) BatchesAfter(objectID string, since uint64, limit int) ([]danmaku.Batch, []danmaku.ID, error) {
	f.mu.Lock()
	f.resumes++
	f.mu.Unlock()
	var out []danmaku.Batch
	for _, b := range append(slices.Clone(f.older), f.recent...) {
		if b.Seq > since && len(out) < limit {
			out = append(out, b)
		}
	}
	return out, f.deleted, nil
}

func (f *feed) Unfollow(objectID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.follow[objectID]--
}

// errNoState is the feed's answer to shared-state calls, which this
// test does not make.
var errNoState = danmaku.Errorf(danmaku.EUNAVAILABLE, "the test feed shares no state")

func (f *feed) SaveRoomConfig(string, RoomConfig) error { return errNoState }
func (f *feed) StartSession(string, time.Time) (Session, error) {
	return Session{}, errNoState
}
func (f *feed) EndSession(string, time.Time) (Session, error) { return Session{}, errNoState }
func (f *feed) LoadSession(string) (Session, bool, error)     { return Session{}, false, errNoState }

func remoteBatch(t *testing.T, seq uint64, texts ...string) danmaku.Batch {
	t.Helper()
	var items []*danmaku.Danmaku
	for i, s := range texts {
		items = append(items, &danmaku.Danmaku{ID: danmaku.ID{UnixMs: int64(seq*10) + int64(i)}, ObjectID: "r", UserID: "u", Content: danmaku.Content{Text: s, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll}})
	}
	p, err := EncodeBatch(seq, int64(seq)*1000, items)
	if err != nil {
		t.Fatal(err)
	}
	return danmaku.Batch{Seq: seq, Payload: p}
}

func TestRemoteBatches(t *testing.T) {
	e := newEnv(t, nil)
	f := &feed{recent: []danmaku.Batch{remoteBatch(t, 41, "old1"), remoteBatch(t, 42, "old2")}, follow: map[string]int{}}
	e.hub.SetRemote(f)
	c := e.dial("r", wsclient.Options{})
	w := readType(t, c, "welcome")
	if w.Room.Seq != 42 || len(w.Batches) != 2 || w.Batches[1].Seq != 42 {
		t.Fatalf("welcome %s: want the remote's recent batches up to seq 42", w.raw)
	}
	if f.follow["r"] != 1 {
		t.Fatalf("Follow called %d times", f.follow["r"])
	}
	// A duplicate is ignored; the next batch goes out as it came.
	b42, b43 := remoteBatch(t, 42, "old2"), remoteBatch(t, 43, "new")
	for _, b := range []danmaku.Batch{b42, b43} {
		if err := e.hub.HandleBatch("r", b); err != nil {
			t.Fatal(err)
		}
	}
	m := readType(t, c, "batch")
	if m.Seq != 43 || string(m.raw) != string(b43.Payload) {
		t.Fatalf("got %s, want the remote batch 43 as it is", m.raw)
	}
	// A payload whose seq does not match is refused.
	bad := remoteBatch(t, 44, "x")
	bad.Seq = 45
	if err := e.hub.HandleBatch("r", bad); err == nil {
		t.Fatal("a mismatched batch was accepted")
	}
	// After local batches (the cluster was unreachable) the cluster's seq
	// is delivered even though it is not above the local one.
	m0 := e.ticker()
	e.publish("r", "u", "local", false)
	e.tick(m0)
	if m := readType(t, c, "batch"); m.Seq != 44 || texts(m.Items) != "local" {
		t.Fatalf("local batch %s", m.raw)
	}
	b44 := remoteBatch(t, 44, "cluster")
	if err := e.hub.HandleBatch("r", b44); err != nil {
		t.Fatal(err)
	}
	if m := readType(t, c, "batch"); m.Seq != 44 || texts(m.Items) != "cluster" {
		t.Fatalf("got %s, want the cluster's batch 44", m.raw)
	}
}

// TestRemoteResume checks that a room fed by a Remote takes the Remote's
// epoch and serves a resume from the Remote's batches, older than its
// recent ones, without the danmaku deleted meanwhile.
func TestRemoteResume(t *testing.T) {
	e := newEnv(t, nil)
	var older []danmaku.Batch
	for seq := uint64(1); seq <= 12; seq++ {
		older = append(older, remoteBatch(t, seq, fmt.Sprint("t", seq)))
	}
	gone := older[3].Payload // Batch 4, whose danmaku is deleted.
	var d struct {
		Items []*danmaku.Danmaku `json:"items"`
	}
	if err := json.Unmarshal(gone, &d); err != nil {
		t.Fatal(err)
	}
	f := &feed{epoch: "cluster-epoch", older: older[:2], recent: older[2:], deleted: []danmaku.ID{d.Items[0].ID}, follow: map[string]int{}}
	e.hub.SetRemote(f)
	w := readType(t, e.dial("r", wsclient.Options{}), "welcome")
	if epochOf(t, w) != "cluster-epoch" || w.Room.Seq != 12 {
		t.Fatalf("welcome %s: want the Remote's epoch and seq 12", w.raw)
	}
	w = readType(t, e.dial("r?since=1&epoch=cluster-epoch", wsclient.Options{}), "welcome")
	if !strings.Contains(string(w.raw), `"recovered":true`) || !slices.Equal(seqsOf(w.Batches), []uint64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("resume since 1: %s, want recovered batches 2…12", w.raw)
	}
	if len(w.Batches[2].Items) != 0 || texts(w.Batches[3].Items) != "t5" {
		t.Fatalf("resume since 1: batch 4 has %q, batch 5 %q; want batch 4 without its deleted danmaku", texts(w.Batches[2].Items), texts(w.Batches[3].Items))
	}
	// A resume that the recent batches serve does not ask the Remote.
	f.mu.Lock()
	asked := f.resumes
	f.mu.Unlock()
	w = readType(t, e.dial("r?since=10&epoch=cluster-epoch", wsclient.Options{}), "welcome")
	if !strings.Contains(string(w.raw), `"recovered":true`) || !slices.Equal(seqsOf(w.Batches), []uint64{11, 12}) {
		t.Fatalf("resume since 10: %s, want recovered batches 11, 12", w.raw)
	}
	f.mu.Lock()
	resumes := f.resumes
	f.mu.Unlock()
	if resumes != asked {
		t.Fatalf("a resume from the recent batches asked the Remote")
	}
	w = readType(t, e.dial("r?since=1&epoch=another", wsclient.Options{}), "welcome")
	if strings.Contains(string(w.raw), `"recovered":true`) || len(w.Batches) != RingSize {
		t.Fatalf("resume from another epoch: %s, want not recovered and the last %d batches", w.raw, RingSize)
	}
}

// TestTickBufferBounds checks the pending bounds and the counts of the one
// tick buffer that a room and a cluster leader share.
func TestTickBufferBounds(t *testing.T) {
	tests := []struct {
		max                    int
		want                   string
		folded, byCap, pending int
	}{
		{10, "a×3,b,c,a", 2, 0, 0},
		{2, "a×2,a", 1, 2, 1}, // A user gives at most max danmaku to one tick.
	}
	for _, tc := range tests {
		b := NewTickBuffer(tc.max)
		for i, s := range []string{"a", "b", "a", "c", "a"} {
			b.Add(&danmaku.Danmaku{ID: danmaku.ID{UnixMs: int64(i)}, UserID: "u" + s, Content: danmaku.Content{Text: s}}, false)
		}
		b.Add(&danmaku.Danmaku{ID: danmaku.ID{UnixMs: 9}, UserID: "mod", Content: danmaku.Content{Text: "a"}}, true)
		if !b.Add(&danmaku.Danmaku{ID: danmaku.ID{UnixMs: 10}, UserID: "s", Shadow: true, Content: danmaku.Content{Text: "hidden"}}, false) {
			t.Errorf("max %d: a shadow danmaku counted as left out", tc.max)
		}
		sel := b.Choose()
		if got := texts(sel.Items); got != tc.want {
			t.Errorf("Choose(max %d) = %s, want %s", tc.max, got, tc.want)
		}
		if sel.Folded != tc.folded || sel.DroppedByCap != tc.byCap || sel.DroppedPending != tc.pending {
			t.Errorf("Choose(max %d) counts folded %d, by cap %d, pending %d; want %d, %d, %d",
				tc.max, sel.Folded, sel.DroppedByCap, sel.DroppedPending, tc.folded, tc.byCap, tc.pending)
		}
	}
}
