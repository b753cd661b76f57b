package moderation

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// LimitConfig configures a Limiter. Every field has a default that suits a
// live room; a zero LimitConfig gives the defaults.
type LimitConfig struct {
	// UserRate is how many sends a user earns per second (default 0.5: one
	// every 2 s) and UserBurst how many may be sent at once (default 3).
	UserRate  float64
	UserBurst int
	// IPRate and IPBurst do the same per remote address, to bound users
	// that change their id (default 5 per second, burst 20: an office or a
	// campus behind one address).
	IPRate  float64
	IPBurst int
	// DuplicateWindow is how long the same user may not send the same
	// text again, compared in canonical form (default 30 s; negative
	// disables the check).
	DuplicateWindow time.Duration
	// IdleAfter is how long an unused entry is kept before it is swept
	// (default 10 min). Entries that carry no state (a full bucket, an
	// expired slow-mode or duplicate stamp) are swept whatever their age.
	IdleAfter time.Duration
	// Disabled turns every limit off, for load tests.
	Disabled bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults for LimitConfig.
const (
	DefaultUserRate        = 0.5
	DefaultUserBurst       = 3
	DefaultIPRate          = 5
	DefaultIPBurst         = 20
	DefaultDuplicateWindow = 30 * time.Second
	DefaultIdleAfter       = 10 * time.Minute
)

func (c LimitConfig) withDefaults() LimitConfig {
	if c.UserRate <= 0 || math.IsNaN(c.UserRate) || math.IsInf(c.UserRate, 0) {
		c.UserRate = DefaultUserRate
	}
	if c.UserBurst <= 0 {
		c.UserBurst = DefaultUserBurst
	}
	if c.IPRate <= 0 || math.IsNaN(c.IPRate) || math.IsInf(c.IPRate, 0) {
		c.IPRate = DefaultIPRate
	}
	if c.IPBurst <= 0 {
		c.IPBurst = DefaultIPBurst
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = DefaultIdleAfter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Attempt describes one send for the limits. Empty fields skip the limit
// that uses them: no IP, no per-IP limit; no Room, no slow mode; no Text,
// no duplicate check.
type Attempt struct {
	UserID string
	IP     string
	Room   string
	Text   string // The danmaku text; compared in canonical form.
}

// RateLimiter decides whether a send may go ahead. Implementations are
// safe for concurrent use. The in-memory Limiter holds the state of one
// process; a shared implementation can hold it in Redis.
type RateLimiter interface {
	// Allow records the attempt and returns nil, or returns an ERATELIMIT
	// *danmaku.Error with RetryAfter set and records nothing.
	Allow(a Attempt) error
	// SetSlowMode lets each user send at most once per every in room;
	// zero or negative turns slow mode off.
	SetSlowMode(room string, every time.Duration)
	// SlowMode returns the slow-mode interval of room, zero when off.
	SlowMode(room string) time.Duration
}

// Limiter is the in-memory RateLimiter: token buckets per user and per IP,
// slow mode per room, and a duplicate-text window per user.
//
// Its memory is bounded by activity: state that no longer restricts
// anything, and state idle for IdleAfter, is swept lazily during Allow,
// at most once per sweep interval, so Limiter starts no goroutine and needs
// no Close. One mutex guards all state; an Allow holds it for well under
// a microsecond apart from the occasional sweep.
//
// The zero Limiter is not usable; call NewLimiter.
type Limiter struct {
	cfg      LimitConfig
	disabled atomic.Bool
	seed     maphash.Seed

	mu        sync.Mutex
	users     map[string]*bucket
	ips       map[string]*bucket
	slowEvery map[string]time.Duration // Room → interval.
	slowLast  map[roomUser]time.Time   // Last accepted send in a slow room.
	dups      map[userText]time.Time   // Last accepted send of a text.
	nextSweep time.Time
}

var _ RateLimiter = (*Limiter)(nil)

type bucket struct {
	tokens float64
	last   time.Time
}

type roomUser struct{ room, user string }

type userText struct {
	user string
	text uint64 // maphash of the canonical text.
}

// NewLimiter returns a limiter with cfg's settings (defaults filled in).
func NewLimiter(cfg LimitConfig) *Limiter {
	l := &Limiter{
		cfg:       cfg.withDefaults(),
		seed:      maphash.MakeSeed(),
		users:     make(map[string]*bucket),
		ips:       make(map[string]*bucket),
		slowEvery: make(map[string]time.Duration),
		slowLast:  make(map[roomUser]time.Time),
		dups:      make(map[userText]time.Time),
	}
	l.disabled.Store(cfg.Disabled)
	return l
}

// Config returns the settings in use, defaults filled in.
func (l *Limiter) Config() LimitConfig { return l.cfg }

// SetDisabled turns every limit off (true) or on again (false).
func (l *Limiter) SetDisabled(off bool) { l.disabled.Store(off) }

// SetSlowMode implements RateLimiter.
func (l *Limiter) SetSlowMode(room string, every time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if every <= 0 {
		delete(l.slowEvery, room)
		return
	}
	l.slowEvery[room] = every
}

// SlowMode implements RateLimiter.
func (l *Limiter) SlowMode(room string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slowEvery[room]
}

// Allow implements RateLimiter. The checks are made first and the state
// updated only when all pass, so a refused attempt costs no token.
func (l *Limiter) Allow(a Attempt) error {
	if l.disabled.Load() {
		return nil
	}
	now := l.cfg.Now()
	var textKey userText
	if a.Text != "" && l.cfg.DuplicateWindow > 0 && a.UserID != "" {
		textKey = userText{a.UserID, maphash.String(l.seed, NormalizeString(a.Text))}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.maybeSweep(now)

	var wait time.Duration
	var reason string
	refuse := func(d time.Duration, why string) {
		if d > wait {
			wait, reason = d, why
		}
	}
	if a.UserID != "" {
		refuse(l.bucketWait(l.users[a.UserID], now, l.cfg.UserRate, l.cfg.UserBurst), "you are sending too fast")
	}
	if a.IP != "" {
		refuse(l.bucketWait(l.ips[a.IP], now, l.cfg.IPRate, l.cfg.IPBurst), "too many danmaku from your network")
	}
	every := l.slowEvery[a.Room]
	ru := roomUser{a.Room, a.UserID}
	if a.Room != "" && a.UserID != "" && every > 0 {
		if last, ok := l.slowLast[ru]; ok {
			refuse(last.Add(every).Sub(now), fmt.Sprintf("slow mode is on: one danmaku every %s", every))
		}
	}
	if textKey.user != "" {
		if last, ok := l.dups[textKey]; ok {
			refuse(last.Add(l.cfg.DuplicateWindow).Sub(now), "you sent the same text a moment ago")
		}
	}
	if wait > 0 {
		return &danmaku.Error{Code: danmaku.ERATELIMIT, Message: reason, RetryAfter: wait}
	}

	if a.UserID != "" {
		l.users[a.UserID] = l.take(l.users[a.UserID], now, l.cfg.UserRate, l.cfg.UserBurst)
	}
	if a.IP != "" {
		l.ips[a.IP] = l.take(l.ips[a.IP], now, l.cfg.IPRate, l.cfg.IPBurst)
	}
	if a.Room != "" && a.UserID != "" && every > 0 {
		l.slowLast[ru] = now
	}
	if textKey.user != "" {
		l.dups[textKey] = now
	}
	return nil
}

// refill returns the tokens of b at now.
func refill(b *bucket, now time.Time, rate float64, burst int) float64 {
	if b == nil {
		return float64(burst)
	}
	elapsed := now.Sub(b.last).Seconds()
	if elapsed < 0 {
		elapsed = 0 // The clock stepped back: earn nothing.
	}
	return math.Min(float64(burst), b.tokens+elapsed*rate)
}

// bucketWait returns how long until b holds a token, zero if it holds one.
func (l *Limiter) bucketWait(b *bucket, now time.Time, rate float64, burst int) time.Duration {
	tokens := refill(b, now, rate, burst)
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) / rate * float64(time.Second)))
}

// take removes one token from b (creating it if needed) and returns it.
func (l *Limiter) take(b *bucket, now time.Time, rate float64, burst int) *bucket {
	tokens := refill(b, now, rate, burst)
	if b == nil {
		b = &bucket{}
	}
	b.tokens, b.last = tokens-1, now
	return b
}

// sweepInterval is how often Allow sweeps; a sweep visits every entry.
func (l *Limiter) sweepInterval() time.Duration {
	return min(l.cfg.IdleAfter, time.Minute)
}

// maybeSweep drops entries that no longer restrict anything or that have
// been idle for IdleAfter. l.mu must be held.
func (l *Limiter) maybeSweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(l.sweepInterval())
	l.sweepBuckets(l.users, now, l.cfg.UserRate, l.cfg.UserBurst)
	l.sweepBuckets(l.ips, now, l.cfg.IPRate, l.cfg.IPBurst)
	for k, last := range l.slowLast {
		every := l.slowEvery[k.room]
		if every <= 0 || now.Sub(last) >= every || now.Sub(last) >= l.cfg.IdleAfter {
			delete(l.slowLast, k)
		}
	}
	for k, last := range l.dups {
		if age := now.Sub(last); age >= l.cfg.DuplicateWindow || age >= l.cfg.IdleAfter {
			delete(l.dups, k)
		}
	}
}

func (l *Limiter) sweepBuckets(m map[string]*bucket, now time.Time, rate float64, burst int) {
	for k, b := range m {
		if refill(b, now, rate, burst) >= float64(burst) || now.Sub(b.last) >= l.cfg.IdleAfter {
			delete(m, k)
		}
	}
}

// Size returns the number of entries held, for metrics and tests.
func (l *Limiter) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.users) + len(l.ips) + len(l.slowLast) + len(l.dups)
}
