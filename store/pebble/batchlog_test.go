package pebble_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/store/pebble"
)

// TestBatchLog checks the live rooms' batch log: reads by seq, deletions,
// pruning by time that keeps the last batches, and an epoch that survives
// a reopen but not a new directory.
func TestBatchLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := pebble.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	epoch := s.Epoch()
	if epoch == "" {
		t.Fatal("empty epoch")
	}
	t0 := time.UnixMilli(1_700_000_000_000)
	var entries []danmaku.LogEntry
	for seq := uint64(1); seq <= 30; seq++ {
		at := t0.Add(time.Duration(seq) * time.Second)
		for _, room := range []string{"a", "ab"} {
			entries = append(entries, danmaku.LogEntry{ObjectID: room, At: at,
				Batch: &danmaku.Batch{Seq: seq, Payload: fmt.Appendf(nil, `{"room":%q,"seq":%d}`, room, seq)}})
		}
	}
	id := danmaku.NewIDGen(nil).Next(0)
	entries = append(entries, danmaku.LogEntry{ObjectID: "a", At: t0.Add(20 * time.Second), Deleted: id})
	if err := s.AppendBatches(ctx, entries); err != nil {
		t.Fatal(err)
	}
	after, err := s.BatchesAfter(ctx, "a", 25, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 5 || after[0].Seq != 26 || after[4].Seq != 30 || string(after[0].Payload) != `{"room":"a","seq":26}` {
		t.Fatalf("BatchesAfter(25) = %v", after)
	}
	if after, _ := s.BatchesAfter(ctx, "a", 0, 3); len(after) != 3 || after[2].Seq != 3 {
		t.Fatalf("BatchesAfter(0, limit 3) = %v", after)
	}
	last, err := s.LastBatches(ctx, "ab", 10)
	if err != nil || len(last) != 10 || last[0].Seq != 21 || last[9].Seq != 30 || string(last[9].Payload) != `{"room":"ab","seq":30}` {
		t.Fatalf("LastBatches = %v, %v", last, err)
	}
	if del, err := s.Deleted(ctx, "a", t0); err != nil || len(del) != 1 || del[0] != id {
		t.Fatalf("Deleted = %v, %v", del, err)
	}
	if del, _ := s.Deleted(ctx, "ab", t0); len(del) != 0 {
		t.Fatalf("Deleted of another room = %v", del)
	}
	// Batches 1…24 are older than t0+25s; the last 10 (21…30) stay anyway.
	if err := s.PruneBatches(ctx, "a", t0.Add(25*time.Second), 10); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.BatchesAfter(ctx, "a", 0, 100); len(all) != 10 || all[0].Seq != 21 {
		t.Fatalf("after prune keeping 10: %d batches from %v", len(all), all)
	}
	if err := s.PruneBatches(ctx, "a", t0.Add(28*time.Second), 2); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.BatchesAfter(ctx, "a", 0, 100); len(all) != 3 || all[0].Seq != 28 {
		t.Fatalf("after prune by time: %v", all)
	}
	if del, _ := s.Deleted(ctx, "a", t0); len(del) != 0 {
		t.Fatalf("deletions older than the window were kept: %v", del)
	}
	if all, _ := s.BatchesAfter(ctx, "ab", 0, 100); len(all) != 30 {
		t.Fatalf("pruning room a left room ab %d batches", len(all))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = pebble.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Epoch() != epoch {
		t.Fatalf("epoch %q became %q on reopen", epoch, s.Epoch())
	}
	if last, _ := s.LastBatches(ctx, "a", 1); len(last) != 1 || last[0].Seq != 30 {
		t.Fatalf("after reopen LastBatches = %v", last)
	}
	if other := MustOpen(t); other.Epoch() == epoch {
		t.Fatal("a new store has the same epoch")
	} else {
		_ = other.Close()
	}
}
