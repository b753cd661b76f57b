package redis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// ownRedis is a redis-server child process that a test stops and restarts;
// it saves its data on stop so that a restart finds it again.
type ownRedis struct {
	t    *testing.T
	addr string
	dir  string
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	addr := ln.Addr().String()
	mustOK(t, ln.Close())
	r := &ownRedis{t: t, addr: addr, dir: t.TempDir()}
	r.start()
	t.Cleanup(func() {
		if r.cmd != nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

func (r *ownRedis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--dbfilename", "dump.rdb")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server (the Debian package redis-server): %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	eventually(r.t, "redis-server on "+r.addr+" to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// stop saves the data and shuts the server down.
func (r *ownRedis) stop() {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	_ = c.ShutdownSave(context.Background()).Err() // The connection closes: no reply.
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

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
	srv := startOwnRedis(t)
	opts := testOptions(t)
	opts.ReloadEvery = 300 * time.Millisecond
	opts.Timeout = 300 * time.Millisecond
	cfg := moderation.LimitConfig{UserBurst: 3, UserRate: 0.5, DuplicateWindow: -1}
	a := newNode(t, srv.addr, opts, cfg)
	b := newNode(t, srv.addr, opts, cfg)

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

	srv.stop()

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

	srv.start()

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
