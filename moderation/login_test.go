package moderation

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

func TestLoginLimiterPerAddressAndTotal(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewLoginLimiter(LoginLimitConfig{IPRate: 0.2, IPBurst: 5, TotalRate: 1, TotalBurst: 20, Now: func() time.Time { return now }})

	// One address: five tries, then refused with a sign-in message.
	for i := range 5 {
		if err := l.Allow(Attempt{IP: "10.0.0.1"}); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	err := l.Allow(Attempt{IP: "10.0.0.1"})
	if danmaku.ErrorCode(err) != danmaku.ERATELIMIT || !strings.Contains(err.Error(), "too many sign-in attempts from your address") {
		t.Fatalf("sixth attempt: %v", err)
	}
	if strings.Contains(err.Error(), "danmaku") {
		t.Errorf("message %q speaks of danmaku", err)
	}

	// Twenty addresses together get only the total burst (20, of which 5
	// are spent), however many tries each has left.
	allowed := 0
	for i := range 20 {
		for range 5 {
			if l.Allow(Attempt{IP: fmt.Sprintf("10.0.1.%d", i)}) == nil {
				allowed++
			}
		}
	}
	if allowed != 15 {
		t.Fatalf("20 addresses × 5 tries: %d allowed, want 15", allowed)
	}
	err = l.Allow(Attempt{IP: "10.0.2.1"})
	var e *danmaku.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "too many sign-in attempts on this server") || e.RetryAfter <= 0 {
		t.Fatalf("fresh address over the total: %v", err)
	}

	// The total refills at its rate.
	now = now.Add(2 * time.Second)
	if err := l.Allow(Attempt{IP: "10.0.2.1"}); err != nil {
		t.Fatalf("after the total refilled: %v", err)
	}
}
