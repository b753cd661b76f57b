package redis

import (
	"context"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// fakeClock is a manual clock shared by the limiters under comparison.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// step is one action in a limiter scenario: advance the clock, maybe set
// slow mode, then attempt a send. want is the expected RetryAfter (zero
// for allowed, -1 to leave it to the comparison with the local limiter).
type step struct {
	advance time.Duration
	slow    time.Duration // Set slow mode of room "r" to this when non-zero (negative: off).
	a       moderation.Attempt
	want    time.Duration
}

func outcome(err error) (code, msg string, retry time.Duration) {
	return danmaku.ErrorCode(err), danmaku.ErrorMessage(err), danmaku.ErrorRetryAfter(err)
}

// TestLimiterSameAsLocal runs scenarios against moderation.Limiter and the
// shared Limiter on one fake clock and requires identical answers.
func TestLimiterSameAsLocal(t *testing.T) {
	u := moderation.Attempt{UserID: "u1"}
	ip := func(user string) moderation.Attempt { return moderation.Attempt{UserID: user, IP: "192.0.2.7"} }
	text := func(s string) moderation.Attempt { return moderation.Attempt{UserID: "u1", Text: s} }
	slowA := moderation.Attempt{UserID: "u1", Room: "r"}
	slowB := moderation.Attempt{UserID: "u2", Room: "r"}
	tests := []struct {
		name  string
		cfg   moderation.LimitConfig
		steps []step
	}{
		{"burst then refill", moderation.LimitConfig{DuplicateWindow: -1}, []step{
			{0, 0, u, 0}, {0, 0, u, 0}, {0, 0, u, 0},
			{0, 0, u, 2 * time.Second},
			{1500 * time.Millisecond, 0, u, 500 * time.Millisecond},
			{500 * time.Millisecond, 0, u, 0},
			{0, 0, u, 2 * time.Second},
			{time.Hour, 0, u, 0}, {0, 0, u, 0}, {0, 0, u, 0}, {0, 0, u, 2 * time.Second},
		}},
		{"odd rate", moderation.LimitConfig{UserRate: 0.3, UserBurst: 2, DuplicateWindow: -1}, []step{
			{0, 0, u, 0}, {0, 0, u, 0}, {0, 0, u, -1},
			{333 * time.Millisecond, 0, u, -1}, {2 * time.Second, 0, u, -1},
			{1337 * time.Millisecond, 0, u, -1}, {7 * time.Millisecond, 0, u, -1},
		}},
		{"per IP", moderation.LimitConfig{IPRate: 1, IPBurst: 2, UserBurst: 10, DuplicateWindow: -1}, []step{
			{0, 0, ip("a"), 0}, {0, 0, ip("b"), 0}, {0, 0, ip("c"), time.Second},
			{250 * time.Millisecond, 0, ip("d"), 750 * time.Millisecond},
			{750 * time.Millisecond, 0, ip("e"), 0},
		}},
		{"slow mode", moderation.LimitConfig{UserBurst: 10, UserRate: 10, DuplicateWindow: -1}, []step{
			{0, 0, slowA, 0}, {0, 0, slowA, 0},
			{0, 5 * time.Second, slowA, 0}, {0, 0, slowB, 0},
			{time.Second, 0, slowA, 4 * time.Second},
			{4 * time.Second, 0, slowA, 0},
			{0, -1, slowA, 0},
		}},
		{"duplicate text", moderation.LimitConfig{UserBurst: 10, UserRate: 10, DuplicateWindow: 30 * time.Second}, []step{
			{0, 0, text("hello"), 0},
			{time.Second, 0, text("ＨＥＬＬＯ!"), 29 * time.Second},
			{0, 0, text("other"), 0},
			{29 * time.Second, 0, text("hello"), 0},
		}},
		{"longest wait wins", moderation.LimitConfig{UserBurst: 1, UserRate: 1, DuplicateWindow: 10 * time.Second}, []step{
			{0, 0, text("same"), 0},
			{0, 0, text("same"), 10 * time.Second},
			{0, 0, text("new"), time.Second},
		}},
		{"disabled", moderation.LimitConfig{UserBurst: 1, Disabled: true}, []step{
			{0, 0, u, 0}, {0, 0, u, 0}, {0, 0, u, 0},
		}},
	}
	addr := testAddr(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			cfg := tt.cfg
			cfg.Now = clk.Now
			local := moderation.NewLimiter(cfg)
			opts := testOptions(t)
			rooms := NewRooms(newClient(t, addr), opts)
			defer rooms.Close()
			shared := NewLimiter(newClient(t, addr), rooms, cfg, opts)
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if s.slow != 0 {
					local.SetSlowMode("r", s.slow)
					mustOK(t, rooms.SetSlowMode(context.Background(), "r", s.slow))
				}
				lc, lm, lr := outcome(local.Allow(s.a))
				sc, sm, sr := outcome(shared.Allow(s.a))
				if lc != sc || lm != sm || lr != sr {
					t.Fatalf("step %d: local %q %q %v; shared %q %q %v", i, lc, lm, lr, sc, sm, sr)
				}
				if s.want >= 0 && lr != s.want {
					t.Fatalf("step %d: RetryAfter %v, want %v", i, lr, s.want)
				}
				if lr > 0 && lc != danmaku.ERATELIMIT {
					t.Fatalf("step %d: code %q with RetryAfter", i, lc)
				}
			}
			if n := shared.Fallbacks(); n != 0 {
				t.Fatalf("%d attempts fell back to the local limiter with Redis up", n)
			}
		})
	}
}

// TestLimiterAcrossNodes checks that two nodes share one user's bucket.
func TestLimiterAcrossNodes(t *testing.T) {
	addr := testAddr(t)
	opts := testOptions(t)
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	cfg := moderation.LimitConfig{UserBurst: 3, UserRate: 0.5, DuplicateWindow: -1, Now: clk.Now}
	var nodes [2]*Limiter
	for i := range nodes {
		rooms := NewRooms(newClient(t, addr), opts)
		defer rooms.Close()
		nodes[i] = NewLimiter(newClient(t, addr), rooms, cfg, opts)
	}
	a := moderation.Attempt{UserID: "u1", IP: "198.51.100.1"}
	mustOK(t, nodes[0].Allow(a))
	mustOK(t, nodes[1].Allow(a))
	mustOK(t, nodes[0].Allow(a))
	e := wantCode(t, nodes[1].Allow(a), danmaku.ERATELIMIT)
	if e.RetryAfter != 2*time.Second {
		t.Fatalf("RetryAfter = %v, want 2s", e.RetryAfter)
	}
	// Slow mode set through one node's Rooms applies on the other.
	mustOK(t, nodes[0].SetSlowModeContext(context.Background(), "r", 10*time.Second))
	clk.Advance(time.Hour)
	s := moderation.Attempt{UserID: "u2", Room: "r"}
	mustOK(t, nodes[0].Allow(s))
	e = wantCode(t, nodes[1].Allow(s), danmaku.ERATELIMIT)
	if e.RetryAfter != 10*time.Second {
		t.Fatalf("slow mode RetryAfter = %v, want 10s", e.RetryAfter)
	}
	eventually(t, "node B's local copy of slow mode", func() bool { return nodes[1].SlowMode("r") == 10*time.Second })
}
