package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestStatsCountBadEntriesAndFolding(t *testing.T) {
	c := newCluster(t)
	m := c.start("a", "")
	v := m.view(t, "r8")
	ctx := context.Background()
	// An input entry that is not a danmaku, and an output entry that is
	// neither a batch nor a delete, as an older or broken writer might
	// leave them.
	if err := c.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: c.prefix + ":{r8}:in", Values: []any{"d", "{not json", "p", "0"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: c.prefix + ":{r8}:out", Values: []any{"junk", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	// Three danmaku with one text, sent at the start of a tick interval so
	// that the leader folds them into one item.
	time.Sleep(untilBoundary(time.Now(), 100*time.Millisecond) + 5*time.Millisecond)
	for _, u := range []string{"u1", "u2", "u3"} {
		if err := m.node.Publish(ctx, newDanmaku("r8", u, "same"), false); err != nil {
			t.Fatal(err)
		}
	}
	if typ, p := v.next(); typ != "batch" {
		t.Fatalf("got %s, want a batch", p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := m.node.Stats()
		if s.BadInput == 1 && s.BadOutput == 1 && s.Folded == 2 && s.Batches == 1 && s.Published == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: want 1 bad input entry, 1 bad output entry, 2 folded, 1 batch, 3 published", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := m.node.Stats(); s.LedRooms != 1 || s.FollowedRooms != 1 || s.CandidateRooms != 1 {
		t.Fatalf("stats %+v: want the one room followed and led", s)
	}
}
