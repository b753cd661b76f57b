package redis

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/moderation"
)

// node is one danmakud node's shared moderation state.
type node struct {
	bans  *Bans
	words *Words
	rooms *Rooms
	limit *Limiter
}

func newNode(t *testing.T, addr string, opts Options, cfg moderation.LimitConfig) *node {
	c := newClient(t, addr)
	n := &node{bans: NewBans(c, opts), words: NewWords(c, opts), rooms: NewRooms(c, opts)}
	n.limit = NewLimiter(c, n.rooms, cfg, opts)
	t.Cleanup(func() {
		n.bans.Close()
		n.words.Close()
		n.rooms.Close()
	})
	return n
}

func TestOutageAndRecovery(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	opts := testOptions(t)
	opts.ReloadEvery = 300 * time.Millisecond
	opts.Timeout = 300 * time.Millisecond
	cfg := moderation.LimitConfig{UserBurst: 3, UserRate: 0.5, DuplicateWindow: -1}
	a := newNode(t, srv.Addr(), opts, cfg)
	b := newNode(t, srv.Addr(), opts, cfg)

	mustOK(t, a.bans.Ban(ctx, moderation.Ban{UserID: "troll", Reason: "spam"}))
	mustOK(t, a.words.Add(moderation.Rule{Word: "badword", Action: moderation.Reject}))
	mustOK(t, a.rooms.SetPaused(ctx, "p", true))
	eventually(t, "node B to see the state", func() bool {
		_, banned := b.bans.Check("troll", "r", time.Now())
		return banned && b.words.Check("", "badword").Action == moderation.Reject && b.rooms.Paused("p")
	})
	mustOK(t, b.limit.Allow(moderation.Attempt{UserID: "warm"}))
	if b.limit.Fallbacks() != 0 {
		t.Fatal("the limiter fell back with Redis up")
	}

	srv.Stop()

	// Checks keep working from the local copies.
	if _, banned := b.bans.Check("troll", "r", time.Now()); !banned {
		t.Fatal("node B forgot the ban during the outage")
	}
	if b.words.Check("", "a badword").Action != moderation.Reject || !b.rooms.Paused("p") {
		t.Fatal("node B forgot the words or the pause during the outage")
	}
	// Writes fail with EUNAVAILABLE and a RetryAfter.
	writes := map[string]error{
		"ban":       b.bans.Ban(ctx, moderation.Ban{UserID: "x"}),
		"add word":  b.words.Add(moderation.Rule{Word: "other", Action: moderation.Mask}),
		"pause":     b.rooms.SetPaused(ctx, "q", true),
		"slow mode": b.rooms.SetSlowMode(ctx, "q", time.Second),
	}
	_, err := b.bans.Unban(ctx, "troll", "")
	writes["unban"] = err
	_, err = b.words.Remove("", "badword")
	writes["remove word"] = err
	for what, err := range writes {
		if e := wantCode(t, err, danmaku.EUNAVAILABLE); e.RetryAfter <= 0 {
			t.Fatalf("%s: RetryAfter %v", what, e.RetryAfter)
		}
	}
	if _, banned := b.bans.Check("x", "r", time.Now()); banned {
		t.Fatal("a failed Ban changed the local copy")
	}
	// The limiter falls back to the local one, which still limits.
	fb := moderation.Attempt{UserID: "fallback"}
	for i := range 3 {
		if err := b.limit.Allow(fb); err != nil {
			t.Fatalf("fallback send %d: %v", i, err)
		}
	}
	wantCode(t, b.limit.Allow(fb), danmaku.ERATELIMIT)
	if b.limit.Fallbacks() < 4 {
		t.Fatalf("Fallbacks = %d, want at least 4", b.limit.Fallbacks())
	}

	srv.Start()

	// Writes work again, and node B's subscription came back.
	eventually(t, "a ban to go through after the restart", func() bool {
		return a.bans.Ban(ctx, moderation.Ban{UserID: "newbie"}) == nil
	})
	eventually(t, "node B to see the ban made after the restart", func() bool {
		_, banned := b.bans.Check("newbie", "r", time.Now())
		return banned
	})
	mustOK(t, a.words.Add(moderation.Rule{Word: "fresh", Action: moderation.Shadow}))
	mustOK(t, a.rooms.SetPaused(ctx, "p", false))
	eventually(t, "node B to see the word and the resume", func() bool {
		return b.words.Check("", "fresh").Action == moderation.Shadow && !b.rooms.Paused("p")
	})
	// The state from before the outage is still shared.
	if _, banned := b.bans.Check("troll", "r", time.Now()); !banned {
		t.Fatal("the ban from before the outage is gone")
	}
	// The limiter uses Redis again by itself.
	i := 0
	eventually(t, "the limiter to leave the fallback", func() bool {
		i++
		before := b.limit.Fallbacks()
		err := b.limit.Allow(moderation.Attempt{UserID: "probe" + strconv.Itoa(i)})
		return err == nil && b.limit.Fallbacks() == before
	})
	shared := moderation.Attempt{UserID: "after"}
	for i := range 3 {
		lim := []*Limiter{a.limit, b.limit}[i%2]
		if err := lim.Allow(shared); err != nil {
			t.Fatalf("shared send %d: %v", i, fmt.Errorf("node %d: %w", i%2, err))
		}
	}
	// Node A may still be in its probe interval if it met the outage; the
	// bucket in Redis holds either way once both use it.
	eventually(t, "node B to refuse the fourth shared send", func() bool {
		return danmaku.ErrorCode(b.limit.Allow(shared)) == danmaku.ERATELIMIT
	})
}
