// Package storetest is the conformance suite that every danmaku.Store
// implementation runs: ordering, paging, exactly-once across pages (also
// through danmaku.All), concurrent writers, the per-user index, not-found,
// limits, the heatmap's count by playback time, which leaves shadowed
// danmaku out (count.go), the settings (settings.go) and the live sessions
// (session.go).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Opener returns a new, empty store for one test; the suite closes it.
type Opener func(t *testing.T) danmaku.Store

// Run runs the whole suite against the stores that open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, danmaku.Store)
	}{
		{"PutGet", testPutGet},
		{"NeverOverwrites", testNeverOverwrites},
		{"ListOrder", testListOrder},
		{"StartIsInclusive", testStartIsInclusive},
		{"PagingExactlyOnce", testPagingExactlyOnce},
		{"AllReadsEveryPage", testAllReadsEveryPage},
		{"PagingWhileWriting", testPagingWhileWriting},
		{"ConcurrentWriters", testConcurrentWriters},
		{"UserIndex", testUserIndex},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"Limits", testLimits},
		{"VideosAreIsolated", testVideosAreIsolated},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"CountLeavesShadowsOut", testCountLeavesShadowsOut},
		{"Settings", testSettings},
		{"Sessions", testSessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}

// fixture makes danmaku with unique, realistic ids.
type fixture struct {
	gen *danmaku.IDGen
	n   int
	mu  sync.Mutex
}

func newFixture() *fixture {
	return &fixture{gen: danmaku.NewIDGen(nil)}
}

func (f *fixture) make(objectID, userID string, t danmaku.Time) *danmaku.Danmaku {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	id := f.gen.Next(t)
	return &danmaku.Danmaku{
		ID:       id,
		ObjectID: objectID,
		UserID:   userID,
		OwnerID:  "owner",
		Content: danmaku.Content{
			Text: fmt.Sprintf("弹幕 %d", n), Color: 0xffff00, Size: 25,
			Position: danmaku.ModeScroll, Time: t,
		},
		CreatedAt: id.UnixMs,
	}
}

func put(t *testing.T, s danmaku.Store, d *danmaku.Danmaku) {
	t.Helper()
	if err := s.Put(context.Background(), d); err != nil {
		t.Fatalf("Put(%s): %v", d.ID, err)
	}
}

// listAll pages through a video with the given page size.
func listAll(t *testing.T, s danmaku.Store, objectID string, start danmaku.ID, size int) []*danmaku.Danmaku {
	t.Helper()
	var out []*danmaku.Danmaku
	q := danmaku.Query{ObjectID: objectID, Start: start, Limit: size}
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("paging does not end")
		}
		page, err := s.List(context.Background(), q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(page.Items) > size {
			t.Fatalf("page has %d items, limit %d", len(page.Items), size)
		}
		out = append(out, page.Items...)
		if !page.More {
			return out
		}
		if page.Next != page.Items[len(page.Items)-1].ID {
			t.Fatalf("Next %s is not the last item %s", page.Next, page.Items[len(page.Items)-1].ID)
		}
		q.Start = page.Next.Successor()
	}
}

func ids(ds []*danmaku.Danmaku) []danmaku.ID {
	out := make([]danmaku.ID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func testPutGet(t *testing.T, s danmaku.Store) {
	f := newFixture()
	d := f.make("v1", "u1", 14000)
	d.Source = &danmaku.Source{Pool: 1, Hash: "a16fe0dd", DMID: "29950852386521095", Weight: 11}
	d.Shadow = true
	put(t, s, d)
	got, err := s.Get(context.Background(), "v1", d.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.ID != d.ID || got.ObjectID != d.ObjectID || got.UserID != d.UserID || got.OwnerID != d.OwnerID ||
		got.Content != d.Content || got.CreatedAt != d.CreatedAt || got.Shadow != d.Shadow ||
		got.Source == nil || *got.Source != *d.Source {
		t.Fatalf("Get = %+v, want %+v", got, d)
	}
}

func testNeverOverwrites(t *testing.T, s danmaku.Store) {
	f := newFixture()
	d := f.make("v1", "u1", 1000)
	put(t, s, d)
	other := *d
	other.Content.Text = "overwrite attempt"
	err := s.Put(context.Background(), &other)
	if !errors.Is(err, danmaku.ErrConflict) {
		t.Fatalf("second Put with the same id: err = %v, want ErrConflict", err)
	}
	got, err := s.Get(context.Background(), "v1", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Content.Text != d.Content.Text {
		t.Fatalf("stored text = %q, want the first %q", got.Content.Text, d.Content.Text)
	}
}

func testListOrder(t *testing.T, s danmaku.Store) {
	f := newFixture()
	var want []danmaku.ID
	for i := 0; i < 200; i++ {
		d := f.make("v1", fmt.Sprintf("u%d", i%7), danmaku.Time(rand.IntN(600_000)))
		want = append(want, d.ID)
		put(t, s, d)
	}
	slices.SortFunc(want, danmaku.ID.Compare)
	got := ids(listAll(t, s, "v1", danmaku.ID{}, 1000))
	if !slices.Equal(got, want) {
		t.Fatalf("List order differs:\n got %v\nwant %v", got, want)
	}
}

func testStartIsInclusive(t *testing.T, s danmaku.Store) {
	f := newFixture()
	before := f.make("v1", "u", 19_999)
	at := f.make("v1", "u", 20_000)
	after := f.make("v1", "u", 20_001)
	for _, d := range []*danmaku.Danmaku{after, at, before} {
		put(t, s, d)
	}
	page, err := s.List(context.Background(), danmaku.Query{ObjectID: "v1", Start: danmaku.FirstAt(20_000), Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(page.Items), []danmaku.ID{at.ID, after.ID}; !slices.Equal(got, want) {
		t.Fatalf("List from 20 s = %v, want %v (the danmaku at exactly 20 s included)", got, want)
	}
	if page.More {
		t.Fatal("More is true on the last page")
	}
}

func testPagingExactlyOnce(t *testing.T, s danmaku.Store) {
	f := newFixture()
	var want []danmaku.ID
	// Many danmaku at the same playback time exercise the tie-break.
	for i := 0; i < 137; i++ {
		d := f.make("v1", "u", danmaku.Time(1000*(i%5)))
		want = append(want, d.ID)
		put(t, s, d)
	}
	slices.SortFunc(want, danmaku.ID.Compare)
	for _, size := range []int{1, 7, 20, 136, 137, 138} {
		got := ids(listAll(t, s, "v1", danmaku.ID{}, size))
		if !slices.Equal(got, want) {
			t.Fatalf("page size %d: got %d ids, want %d, or order differs", size, len(got), len(want))
		}
	}
}

// testAllReadsEveryPage checks danmaku.All, the one loop that pages
// through a whole video, against the store: every danmaku once, in order,
// from an inclusive start, whatever the page size.
func testAllReadsEveryPage(t *testing.T, s danmaku.Store) {
	f := newFixture()
	var want []danmaku.ID
	for i := 0; i < 57; i++ {
		d := f.make("v1", "u", danmaku.Time(1000*(i%4)))
		want = append(want, d.ID)
		put(t, s, d)
	}
	put(t, s, f.make("v2", "u", 0))
	slices.SortFunc(want, danmaku.ID.Compare)
	for _, size := range []int{0, 1, 7, 57, 58, danmaku.MaxPageSize + 1} {
		for _, from := range []int{0, 20} {
			var got []danmaku.ID
			for d, err := range danmaku.All(context.Background(), s, danmaku.Query{ObjectID: "v1", Start: want[from], Limit: size}) {
				if err != nil {
					t.Fatalf("All: %v", err)
				}
				got = append(got, d.ID)
			}
			if !slices.Equal(got, want[from:]) {
				t.Fatalf("page size %d from %d: got %d ids, want %d, or order differs", size, from, len(got), len(want)-from)
			}
		}
	}
}

func testPagingWhileWriting(t *testing.T, s danmaku.Store) {
	f := newFixture()
	existing := map[danmaku.ID]bool{}
	for i := 0; i < 150; i++ {
		d := f.make("v1", "u", danmaku.Time(rand.IntN(100_000)))
		existing[d.ID] = true
		put(t, s, d)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Put(context.Background(), f.make("v1", "w", danmaku.Time(rand.IntN(100_000)))); err != nil {
				t.Errorf("concurrent Put: %v", err)
				return
			}
		}
	}()
	got := listAll(t, s, "v1", danmaku.ID{}, 9)
	close(stop)
	wg.Wait()
	seen := map[danmaku.ID]bool{}
	for i, d := range got {
		if seen[d.ID] {
			t.Fatalf("id %s returned twice", d.ID)
		}
		seen[d.ID] = true
		if i > 0 && got[i-1].ID.Compare(d.ID) >= 0 {
			t.Fatalf("out of order at %d", i)
		}
	}
	for id := range existing {
		if !seen[id] {
			t.Fatalf("id %s that existed before paging was not returned", id)
		}
	}
}

func testConcurrentWriters(t *testing.T, s danmaku.Store) {
	f := newFixture()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var want []danmaku.ID
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d := f.make("v1", fmt.Sprintf("u%d", w), danmaku.Time(rand.IntN(10_000)))
				if err := s.Put(context.Background(), d); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				mu.Lock()
				want = append(want, d.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(want, danmaku.ID.Compare)
	if got := ids(listAll(t, s, "v1", danmaku.ID{}, 50)); !slices.Equal(got, want) {
		t.Fatalf("after concurrent writers: got %d ids, want %d", len(got), len(want))
	}
}

func testUserIndex(t *testing.T, s danmaku.Store) {
	f := newFixture()
	var mine []*danmaku.Danmaku
	for i := 0; i < 45; i++ {
		// Playback times deliberately out of arrival order and across videos.
		d := f.make(fmt.Sprintf("v%d", i%3), "me", danmaku.Time(rand.IntN(1_000_000)))
		mine = append(mine, d)
		put(t, s, d)
		put(t, s, f.make("v0", "someone-else", 5))
		if i%10 == 0 {
			time.Sleep(2 * time.Millisecond) // Spread over several clock milliseconds.
		}
	}
	slices.Reverse(mine) // Newest first.
	var got []*danmaku.Danmaku
	q := danmaku.UserQuery{UserID: "me", Limit: 10}
	for {
		page, err := s.ListByUser(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if !page.More {
			break
		}
		q.Before = page.Next
	}
	if !slices.Equal(ids(got), ids(mine)) {
		t.Fatalf("ListByUser newest first:\n got %v\nwant %v", ids(got), ids(mine))
	}
	for _, d := range got {
		if d.UserID != "me" || d.Content.Text == "" {
			t.Fatalf("user index returned %+v", d)
		}
	}
	page, err := s.ListByUser(context.Background(), danmaku.UserQuery{UserID: "m", Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("a user id that is a prefix of another: %d items, err %v", len(page.Items), err)
	}
}

func testDelete(t *testing.T, s danmaku.Store) {
	f := newFixture()
	a, b := f.make("v1", "u", 1), f.make("v1", "u", 2)
	put(t, s, a)
	put(t, s, b)
	got, err := s.Delete(context.Background(), "v1", a.ID)
	if err != nil || got.ID != a.ID {
		t.Fatalf("Delete = %v, %v", got, err)
	}
	if _, err := s.Get(context.Background(), "v1", a.ID); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if got := ids(listAll(t, s, "v1", danmaku.ID{}, 10)); !slices.Equal(got, []danmaku.ID{b.ID}) {
		t.Fatalf("List after Delete = %v", got)
	}
	page, err := s.ListByUser(context.Background(), danmaku.UserQuery{UserID: "u", Limit: 10})
	if err != nil || !slices.Equal(ids(page.Items), []danmaku.ID{b.ID}) {
		t.Fatalf("ListByUser after Delete = %v, %v", ids(page.Items), err)
	}
}

func testNotFound(t *testing.T, s danmaku.Store) {
	ctx := context.Background()
	id := danmaku.NewIDGen(nil).Next(5)
	if _, err := s.Get(ctx, "nothing", id); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Get on empty store: %v", err)
	}
	if _, err := s.Delete(ctx, "nothing", id); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("Delete on empty store: %v", err)
	}
	page, err := s.List(ctx, danmaku.Query{ObjectID: "nothing", Limit: 20})
	if err != nil || len(page.Items) != 0 || page.More {
		t.Fatalf("List of an empty video = %+v, %v", page, err)
	}
	upage, err := s.ListByUser(ctx, danmaku.UserQuery{UserID: "nobody", Limit: 20})
	if err != nil || len(upage.Items) != 0 || upage.More {
		t.Fatalf("ListByUser of an unknown user = %+v, %v", upage, err)
	}
}

func testLimits(t *testing.T, s danmaku.Store) {
	f := newFixture()
	for i := 0; i < danmaku.MaxPageSize+5; i++ {
		put(t, s, f.make("v1", "u", danmaku.Time(i)))
	}
	page, err := s.List(context.Background(), danmaku.Query{ObjectID: "v1", Limit: 1_000_000})
	if err != nil || len(page.Items) != danmaku.MaxPageSize || !page.More {
		t.Fatalf("huge limit: %d items, more %v, err %v; want %d and more", len(page.Items), page.More, err, danmaku.MaxPageSize)
	}
	page, err = s.List(context.Background(), danmaku.Query{ObjectID: "v1", Limit: 0})
	if err != nil || len(page.Items) != 1 || !page.More {
		t.Fatalf("zero limit: %d items, err %v; want 1", len(page.Items), err)
	}
}

func testVideosAreIsolated(t *testing.T, s danmaku.Store) {
	f := newFixture()
	// "1" is a prefix of "12": keys must not bleed from one into the other.
	a, b := f.make("1", "u", 7), f.make("12", "u", 7)
	put(t, s, a)
	put(t, s, b)
	for _, tc := range []struct {
		video string
		want  danmaku.ID
	}{{"1", a.ID}, {"12", b.ID}} {
		got := ids(listAll(t, s, tc.video, danmaku.ID{}, 10))
		if !slices.Equal(got, []danmaku.ID{tc.want}) {
			t.Fatalf("video %q lists %v, want [%s]", tc.video, got, tc.want)
		}
	}
}

// testIdempotencyKeys checks that a key is reserved once, for good, also
// when many requests race for it, and that reservations are not danmaku.
func testIdempotencyKeys(t *testing.T, s danmaku.Store) {
	idem, ok := s.(danmaku.Idempotency)
	if !ok {
		t.Fatalf("%T does not implement danmaku.Idempotency", s)
	}
	ctx := context.Background()
	f := newFixture()
	ref1 := danmaku.Ref{ObjectID: "idem-v", ID: f.make("idem-v", "u", 1000).ID}
	ref2 := danmaku.Ref{ObjectID: "idem-w", ID: f.make("idem-w", "u", 2000).ID}
	if _, err := idem.LookupKey(ctx, "u\x00k1"); !errors.Is(err, danmaku.ErrNotFound) {
		t.Fatalf("LookupKey of an unknown key: %v, want ErrNotFound", err)
	}
	if got, found, err := idem.ReserveKey(ctx, "u\x00k1", ref1); err != nil || found || got != ref1 {
		t.Fatalf("first ReserveKey = %+v, %v, %v; want %+v, false, nil", got, found, err, ref1)
	}
	if got, err := idem.LookupKey(ctx, "u\x00k1"); err != nil || got != ref1 {
		t.Fatalf("LookupKey = %+v, %v; want %+v", got, err, ref1)
	}
	if got, found, err := idem.ReserveKey(ctx, "u\x00k1", ref2); err != nil || !found || got != ref1 {
		t.Fatalf("second ReserveKey = %+v, %v, %v; want %+v, true, nil", got, found, err, ref1)
	}
	if got, found, err := idem.ReserveKey(ctx, "v\x00k1", ref2); err != nil || found || got != ref2 {
		t.Fatalf("the same key for another sender = %+v, %v, %v; want %+v, false, nil", got, found, err, ref2)
	}
	for _, v := range []string{"idem-v", "idem-w"} {
		if page, err := s.List(ctx, danmaku.Query{ObjectID: v, Limit: 10}); err != nil || len(page.Items) != 0 {
			t.Fatalf("List(%s) after reservations = %d items, %v; want none", v, len(page.Items), err)
		}
	}

	// Racing requests: one wins, the others get the winner's danmaku or
	// are told that the key is busy.
	const racers = 8
	type result struct {
		ref   danmaku.Ref
		found bool
		err   error
	}
	results := make([]result, racers)
	refs := make([]danmaku.Ref, racers)
	for i := range refs {
		refs[i] = danmaku.Ref{ObjectID: "idem-race", ID: f.make("idem-race", "u", danmaku.Time(i)).ID}
	}
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, found, err := idem.ReserveKey(ctx, "u\x00race", refs[i])
			results[i] = result{r, found, err}
		}()
	}
	wg.Wait()
	winner, err := idem.LookupKey(ctx, "u\x00race")
	if err != nil {
		t.Fatalf("LookupKey after the race: %v", err)
	}
	wins := 0
	for i, r := range results {
		switch {
		case errors.Is(r.err, danmaku.ErrKeyBusy):
		case r.err != nil:
			t.Fatalf("racer %d: %v", i, r.err)
		case !r.found:
			wins++
			if r.ref != refs[i] || refs[i] != winner {
				t.Fatalf("racer %d won with %+v, but the key names %+v", i, r.ref, winner)
			}
		case r.ref != winner:
			t.Fatalf("racer %d was given %+v, but the key names %+v", i, r.ref, winner)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers reserved the key, want exactly 1", wins)
	}
}
