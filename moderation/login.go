package moderation

import (
	"fmt"
	"sync"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// LoginLimitConfig configures a LoginLimiter. Zero fields take the
// defaults below.
type LoginLimitConfig struct {
	IPRate     float64 // Attempts a second from one address, sustained (default 0.2).
	IPBurst    int     // Attempts from one address in a burst (default 5).
	TotalRate  float64 // Attempts a second from all addresses together (default 1).
	TotalBurst int     // Attempts from all addresses in a burst (default 20).
	Now        func() time.Time
}

// maxLoginIPs bounds the addresses a LoginLimiter remembers; past it,
// addresses whose loginBucket is full again are forgotten.
const maxLoginIPs = 10_000

// LoginLimiter throttles admin sign-in attempts per address and in total,
// so that many addresses together cannot try passwords faster than one
// global rate. It implements RateLimiter (slow mode does not apply).
type LoginLimiter struct {
	cfg   LoginLimitConfig
	mu    sync.Mutex
	ips   map[string]loginBucket
	total loginBucket
}

var _ RateLimiter = (*LoginLimiter)(nil)

// loginBucket is a token bucket: tokens at time at.
type loginBucket struct {
	tokens float64
	at     time.Time
}

// wait refills b at rate up to burst and reports how long until it holds
// a token (zero when it does).
func (b *loginBucket) wait(now time.Time, rate float64, burst int) time.Duration {
	if b.at.IsZero() {
		b.tokens, b.at = float64(burst), now
	}
	b.tokens = min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// NewLoginLimiter returns a LoginLimiter for cfg.
func NewLoginLimiter(cfg LoginLimitConfig) *LoginLimiter {
	if cfg.IPRate <= 0 {
		cfg.IPRate = 0.2
	}
	if cfg.IPBurst <= 0 {
		cfg.IPBurst = 5
	}
	if cfg.TotalRate <= 0 {
		cfg.TotalRate = 1
	}
	if cfg.TotalBurst <= 0 {
		cfg.TotalBurst = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &LoginLimiter{cfg: cfg, ips: make(map[string]loginBucket)}
}

// Allow implements RateLimiter for a sign-in attempt from a.IP: it takes a
// token from the address's loginBucket and from the total one, or returns an
// ERATELIMIT error that says which limit was hit and takes nothing.
func (l *LoginLimiter) Allow(a Attempt) error {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	ip := l.ips[a.IP]
	ipWait := ip.wait(now, l.cfg.IPRate, l.cfg.IPBurst)
	totalWait := l.total.wait(now, l.cfg.TotalRate, l.cfg.TotalBurst)
	if ipWait > 0 || totalWait > 0 {
		l.ips[a.IP] = ip
		msg := "too many sign-in attempts from your address"
		wait := ipWait
		if totalWait > ipWait {
			msg, wait = "too many sign-in attempts on this server", totalWait
		}
		wait = max(wait.Round(time.Second), time.Second)
		return &danmaku.Error{
			Code:       danmaku.ERATELIMIT,
			Message:    fmt.Sprintf("%s; try again in %s", msg, wait),
			RetryAfter: wait,
		}
	}
	ip.tokens--
	l.total.tokens--
	if len(l.ips) >= maxLoginIPs {
		for k, b := range l.ips {
			if b.wait(now, l.cfg.IPRate, l.cfg.IPBurst) == 0 && b.tokens >= float64(l.cfg.IPBurst) {
				delete(l.ips, k)
			}
		}
	}
	l.ips[a.IP] = ip
	return nil
}

// SetSlowMode implements RateLimiter; it does nothing.
func (l *LoginLimiter) SetSlowMode(string, time.Duration) {}

// SlowMode implements RateLimiter; it is always zero.
func (l *LoginLimiter) SlowMode(string) time.Duration { return 0 }
