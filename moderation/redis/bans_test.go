package redis

import (
	"context"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// twoBans returns the bans of two nodes sharing one Redis.
func twoBans(t *testing.T) (a, b *Bans, opts Options) {
	addr := testAddr(t)
	opts = testOptions(t)
	a = NewBans(newClient(t, addr), opts)
	t.Cleanup(func() { a.Close() })
	b = NewBans(newClient(t, addr), opts)
	t.Cleanup(func() { b.Close() })
	syncAll(t, a.Sync, b.Sync)
	return a, b, opts
}

func TestBansAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b, _ := twoBans(t)
	now := time.Now()
	mustOK(t, a.Ban(ctx, moderation.Ban{UserID: "troll", Reason: "spam", By: "mod1"}))
	mustOK(t, a.Ban(ctx, moderation.Ban{UserID: "spoiler", Room: "r1", Until: now.Add(time.Hour)}))

	if _, ok := a.Check("troll", "r9", now); !ok {
		t.Fatal("the banning node does not see its own ban at once")
	}
	eventually(t, "node B to see both bans", func() bool {
		_, g := b.Check("troll", "r9", time.Now())
		_, r := b.Check("spoiler", "r1", time.Now())
		return g && r
	})
	got, _ := b.Check("troll", "r9", now)
	if got.Reason != "spam" || got.By != "mod1" || !got.Permanent() {
		t.Fatalf("node B has ban %+v", got)
	}
	if _, ok := b.Check("spoiler", "r2", now); ok {
		t.Fatal("a room ban applies in another room")
	}
	if l := b.List("*", now); len(l) != 2 || l[0].UserID != "spoiler" || l[1].UserID != "troll" {
		t.Fatalf("List(*) on B = %+v", l)
	}
	if l := b.List("r1", now); len(l) != 1 || l[0].UserID != "spoiler" {
		t.Fatalf("List(r1) on B = %+v", l)
	}

	ok, err := b.Unban(ctx, "troll", "")
	mustOK(t, err)
	if !ok {
		t.Fatal("Unban reported no ban")
	}
	eventually(t, "node A to see the unban", func() bool {
		_, banned := a.Check("troll", "r9", time.Now())
		return !banned
	})
	ok, err = a.Unban(ctx, "troll", "")
	mustOK(t, err)
	if ok {
		t.Fatal("second Unban reported a ban")
	}
}

func TestBansInvalid(t *testing.T) {
	a, _, _ := twoBans(t)
	err := a.Ban(context.Background(), moderation.Ban{UserID: ""})
	wantCode(t, err, danmaku.EINVALID)
}

func TestBansExpire(t *testing.T) {
	ctx := context.Background()
	a, b, opts := twoBans(t)
	start := time.Now()
	until := start.Add(300 * time.Millisecond)
	mustOK(t, a.Ban(ctx, moderation.Ban{UserID: "brief", Room: "r1", Since: start, Until: until}))
	eventually(t, "node B to see the timed ban", func() bool {
		_, ok := b.Check("brief", "r1", start)
		return ok
	})
	// The ban ends at Until on every node, from the local copy.
	if _, ok := b.Check("brief", "r1", until); ok {
		t.Fatal("the ban is still in force at its end")
	}
	// And the Redis hash expires with it.
	c := newClient(t, testAddr(t))
	eventually(t, "the room's ban hash to expire in Redis", func() bool {
		n, err := c.Exists(ctx, opts.Prefix+"bans:room:r1").Result()
		return err == nil && n == 0
	})
	// A permanent ban in the same scope keeps the hash.
	mustOK(t, a.Ban(ctx, moderation.Ban{UserID: "brief", Room: "r1", Until: time.Now().Add(200 * time.Millisecond)}))
	mustOK(t, a.Ban(ctx, moderation.Ban{UserID: "forever", Room: "r1"}))
	ttl, err := c.PTTL(ctx, opts.Prefix+"bans:room:r1").Result()
	mustOK(t, err)
	if ttl >= 0 {
		t.Fatalf("a scope with a permanent ban has TTL %v", ttl)
	}
	syncAll(t, b.Sync)
	if l := b.List("r1", time.Now().Add(time.Second)); len(l) != 1 || l[0].UserID != "forever" {
		t.Fatalf("List after expiry = %+v", l)
	}
}

// TestBansPeriodicReload checks that a change whose notification was
// missed reaches the local copy by the periodic reload.
func TestBansPeriodicReload(t *testing.T) {
	ctx := context.Background()
	addr := testAddr(t)
	opts := testOptions(t)
	opts.ReloadEvery = 200 * time.Millisecond
	a := NewBans(newClient(t, addr), opts)
	defer a.Close()
	// Write a ban the way Ban does, but without the notification.
	c := newClient(t, addr)
	mustOK(t, c.HSet(ctx, opts.Prefix+"bans:global", "quiet", `0|{"userId":"quiet","since":"2026-01-01T00:00:00Z"}`).Err())
	eventually(t, "the periodic reload to find the silent ban", func() bool {
		_, ok := a.Check("quiet", "r1", time.Now())
		return ok
	})
	mustOK(t, c.Del(ctx, opts.Prefix+"bans:global").Err())
	eventually(t, "the periodic reload to drop the silent ban", func() bool {
		_, ok := a.Check("quiet", "r1", time.Now())
		return !ok
	})
}
