package pebble

import (
	"context"
	"errors"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

func fenceDanmaku(id danmaku.ID) *danmaku.Danmaku {
	return &danmaku.Danmaku{ID: id, ObjectID: "v", UserID: "u",
		Content: danmaku.Content{Text: "围栏", Size: 25, Position: 1, Time: danmaku.Time(id.PlayMs)}}
}

func mustPut(t *testing.T, s *Store, id danmaku.ID, want error) {
	t.Helper()
	if err := s.Put(context.Background(), fenceDanmaku(id)); !errors.Is(err, want) {
		t.Fatalf("Put %s: err = %v, want %v", id, err, want)
	}
}

func reopen(t *testing.T, s *Store, dir string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFenceNeverOverwrites checks every way a put can meet an id that is
// already stored: a repeat in the same session, a repeat that arrives out
// of order, a repeat after a restart (a clock that went back), and a
// repeat in a store written before the fence existed.
func TestFenceNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	a := danmaku.ID{PlayMs: 1000, UnixMs: now, Seq: 0, Node: 7}
	b := danmaku.ID{PlayMs: 500, UnixMs: now, Seq: 1, Node: 7}
	c := danmaku.ID{PlayMs: 800, UnixMs: now + 5, Seq: 0, Node: 7}

	mustPut(t, s, b, nil)
	mustPut(t, s, a, nil) // Out of order: earlier arrival than b.
	mustPut(t, s, a, danmaku.ErrConflict)
	mustPut(t, s, b, danmaku.ErrConflict)
	mustPut(t, s, c, nil)
	mustPut(t, s, c, danmaku.ErrConflict)
	if s.fence <= c.UnixMs {
		t.Fatalf("fence %d is not past the last arrival %d", s.fence, c.UnixMs)
	}

	// After a restart the same ids, as from a clock that went back, are
	// still refused; a new key at the same arrival is not.
	s = reopen(t, s, dir)
	if s.openFence <= c.UnixMs {
		t.Fatalf("fence read at open %d is not past the last arrival %d", s.openFence, c.UnixMs)
	}
	for _, id := range []danmaku.ID{a, b, c} {
		mustPut(t, s, id, danmaku.ErrConflict)
	}
	same := c
	same.PlayMs++
	mustPut(t, s, same, nil)

	// A store without a fence (written by an older danmakud) finds it
	// from the user index.
	if err := s.db.Delete(fenceKey, nil); err != nil {
		t.Fatal(err)
	}
	s.fence = 0 // Keep this session from writing it back before Close.
	s = reopen(t, s, dir)
	if s.openFence != c.UnixMs+1 {
		t.Fatalf("fence found from the user index = %d, want %d", s.openFence, c.UnixMs+1)
	}
	for _, id := range []danmaku.ID{a, b, c, same} {
		mustPut(t, s, id, danmaku.ErrConflict)
	}
}

// TestFenceFastPath checks that ids from one generator, past the fence,
// are proven absent without a lookup, and that imports keep the rule.
func TestFenceFastPath(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gen := danmaku.NewIDGen(nil)
	var vks [][]byte
	var arrivals []arrival
	for i := 0; i < 100; i++ {
		id := gen.Next(danmaku.Time(i * 10))
		vks, arrivals = append(vks, videoKey("v", id)), append(arrivals, arrivalOf(id))
	}
	got, fresh, err := s.claim(vks, arrivals)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vks {
		if !got[i] || !fresh[i] {
			t.Fatalf("key %d: got %v fresh %v, want both", i, got[i], fresh[i])
		}
	}
	// The same arrivals again (another key holding them is impossible
	// from one generator, but an import may try): not fresh.
	other := [][]byte{videoKey("w", danmaku.ID{UnixMs: arrivals[0].unixMs})}
	got2, fresh2, err := s.claim(other, arrivals[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !got2[0] || fresh2[0] {
		t.Fatalf("repeated arrival: got %v fresh %v, want got and not fresh", got2[0], fresh2[0])
	}
	s.release(other, got2)
	s.release(vks, got)
	if _, err := s.PutBatch(context.Background(), []*danmaku.Danmaku{fenceDanmaku(gen.Next(5)), fenceDanmaku(gen.Next(6))}); err != nil {
		t.Fatal(err)
	}
}

// TestCompactKeepsEverything checks that a full compaction keeps every
// danmaku, the user index and the fence.
func TestCompactKeepsEverything(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	gen := danmaku.NewIDGen(nil)
	for i := 0; i < 500; i++ {
		mustPut(t, s, gen.Next(danmaku.Time(i)), nil)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, danmaku.Query{ObjectID: "v", Limit: 1000})
	if err != nil || len(page.Items) != 500 {
		t.Fatalf("after Compact: %d danmaku, %v; want 500", len(page.Items), err)
	}
	byUser, err := s.ListByUser(ctx, danmaku.UserQuery{UserID: "u", Limit: 1000})
	if err != nil || len(byUser.Items) != 500 {
		t.Fatalf("after Compact: %d in the user index, %v; want 500", len(byUser.Items), err)
	}
	if f, err := loadFence(s.db); err != nil || f != s.fence {
		t.Fatalf("after Compact: fence %d, %v; want %d", f, err, s.fence)
	}
}
