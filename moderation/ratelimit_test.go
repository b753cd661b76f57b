package moderation

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// fakeClock is a manual clock for deterministic tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

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

// retryAfter returns the RetryAfter of an ERATELIMIT error, or fails.
func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var e *danmaku.Error
	if !errors.As(err, &e) || e.Code != danmaku.ERATELIMIT {
		t.Fatalf("err = %v, want ERATELIMIT", err)
	}
	if e.RetryAfter <= 0 {
		t.Fatalf("RetryAfter = %v, want > 0", e.RetryAfter)
	}
	return e.RetryAfter
}

func TestLimiterUserBucket(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now, DuplicateWindow: -1})
	a := Attempt{UserID: "u1"}
	// Default burst of 3, then one per 2 s.
	for i := range 3 {
		if err := l.Allow(a); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if d := retryAfter(t, l.Allow(a)); d != 2*time.Second {
		t.Fatalf("RetryAfter = %v, want 2s", d)
	}
	clk.Advance(1500 * time.Millisecond)
	if d := retryAfter(t, l.Allow(a)); d != 500*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want 500ms", d)
	}
	clk.Advance(500 * time.Millisecond)
	if err := l.Allow(a); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
	// Another user has their own bucket.
	if err := l.Allow(Attempt{UserID: "u2"}); err != nil {
		t.Fatalf("other user: %v", err)
	}
}

func TestLimiterIP(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now, IPRate: 1, IPBurst: 2, DuplicateWindow: -1})
	// Different users from one address share the address's bucket.
	for i := range 2 {
		if err := l.Allow(Attempt{UserID: fmt.Sprint("anon", i), IP: "10.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	if d := retryAfter(t, l.Allow(Attempt{UserID: "anon9", IP: "10.0.0.1"})); d != time.Second {
		t.Fatalf("RetryAfter = %v, want 1s", d)
	}
	// The refused attempt cost the user no token.
	if err := l.Allow(Attempt{UserID: "anon9", IP: "10.0.0.2"}); err != nil {
		t.Fatal(err)
	}
}

func TestLimiterSlowMode(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now, UserRate: 100, UserBurst: 100, DuplicateWindow: -1})
	l.SetSlowMode("room", 10*time.Second)
	if got := l.SlowMode("room"); got != 10*time.Second {
		t.Fatalf("SlowMode = %v", got)
	}
	a := Attempt{UserID: "u1", Room: "room"}
	if err := l.Allow(a); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Second)
	if d := retryAfter(t, l.Allow(a)); d != 7*time.Second {
		t.Fatalf("RetryAfter = %v, want 7s", d)
	}
	// Other rooms and other users are not slowed.
	if err := l.Allow(Attempt{UserID: "u1", Room: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Allow(Attempt{UserID: "u2", Room: "room"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(7 * time.Second)
	if err := l.Allow(a); err != nil {
		t.Fatal(err)
	}
	l.SetSlowMode("room", 0)
	if err := l.Allow(a); err != nil {
		t.Fatalf("slow mode off: %v", err)
	}
}

func TestLimiterDuplicate(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now, UserRate: 100, UserBurst: 100, DuplicateWindow: 30 * time.Second})
	if err := l.Allow(Attempt{UserID: "u1", Text: "666"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	// The same text in another form is the same text.
	if d := retryAfter(t, l.Allow(Attempt{UserID: "u1", Text: "６６６!"})); d != 20*time.Second {
		t.Fatalf("RetryAfter = %v, want 20s", d)
	}
	if err := l.Allow(Attempt{UserID: "u1", Text: "777"}); err != nil {
		t.Fatalf("different text: %v", err)
	}
	if err := l.Allow(Attempt{UserID: "u2", Text: "666"}); err != nil {
		t.Fatalf("different user: %v", err)
	}
	clk.Advance(20 * time.Second)
	if err := l.Allow(Attempt{UserID: "u1", Text: "666"}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestLimiterLongestWait(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now, UserRate: 1, UserBurst: 1})
	l.SetSlowMode("room", time.Minute)
	a := Attempt{UserID: "u1", Room: "room", Text: "hi"}
	if err := l.Allow(a); err != nil {
		t.Fatal(err)
	}
	// Bucket: 1 s; duplicate: 30 s; slow mode: 60 s. The longest wins.
	if d := retryAfter(t, l.Allow(a)); d != time.Minute {
		t.Fatalf("RetryAfter = %v, want 1m", d)
	}
}

func TestLimiterDisabled(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now, Disabled: true})
	l.SetSlowMode("room", time.Hour)
	a := Attempt{UserID: "u1", IP: "1.2.3.4", Room: "room", Text: "same"}
	for i := range 100 {
		if err := l.Allow(a); err != nil {
			t.Fatalf("send %d with limits off: %v", i, err)
		}
	}
	l.SetDisabled(false)
	if err := l.Allow(a); err != nil {
		t.Fatal(err)
	}
	retryAfter(t, l.Allow(a))
}

func TestLimiterSweep(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(LimitConfig{Now: clk.Now})
	l.SetSlowMode("room", 5*time.Second)
	for i := range 1000 {
		if err := l.Allow(Attempt{UserID: fmt.Sprint("u", i), IP: fmt.Sprint("ip", i), Room: "room", Text: "hello"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Size(); n != 4000 {
		t.Fatalf("Size = %d, want 4000", n)
	}
	// After a minute every bucket is full again and every stamp stale;
	// the next Allow sweeps them.
	clk.Advance(time.Minute)
	if err := l.Allow(Attempt{UserID: "late"}); err != nil {
		t.Fatal(err)
	}
	if n := l.Size(); n != 1 {
		t.Fatalf("Size after sweep = %d, want 1", n)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(LimitConfig{UserBurst: 10, UserRate: 0.001})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if l.Allow(Attempt{UserID: "shared", Text: fmt.Sprint(i, time.Now().UnixNano())}) == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ok != 10 {
		t.Fatalf("%d sends allowed, want exactly the burst of 10", ok)
	}
}
