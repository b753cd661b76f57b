package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// Limiter is the moderation.RateLimiter shared through Redis: per-user and
// per-IP token buckets, the room's slow mode and the duplicate-text window
// are checked and recorded by one Lua script per Allow (one round trip),
// with the same rules and RetryAfter as moderation.Limiter. Slow mode is
// read from Rooms.
//
// When Redis cannot be reached, Allow uses an in-memory moderation.Limiter
// instead (limits then hold per node, not per cluster) and tries Redis
// again every ProbeEvery, so it recovers by itself.
type Limiter struct {
	client   redis.UniversalClient
	opts     Options
	cfg      moderation.LimitConfig
	rooms    *Rooms
	disabled atomic.Bool

	mu        sync.Mutex
	local     *moderation.Limiter // The fallback.
	downUntil time.Time           // Use the fallback until then.
	fallbacks atomic.Int64
}

var (
	_ moderation.RateLimiter    = (*Limiter)(nil)
	_ moderation.SlowModeSetter = (*Limiter)(nil)
)

// ProbeEvery is how long Allow uses the local fallback after Redis failed
// before it tries Redis again.
const ProbeEvery = time.Second

// allowScript checks then records one attempt. KEYS: 1 user bucket, 2 IP
// bucket, 3 slow-mode hash, 4 last send in the slow room, 5 duplicate
// stamp. ARGV: 1 now (µs), 2 user rate, 3 user burst, 4 IP rate, 5 IP
// burst, 6 room, 7 duplicate window (µs), 8 use user, 9 use IP, 10 use
// slow mode, 11 use duplicate. It returns {wait in ns, reason, slow-mode
// interval in µs}; reason 0 means allowed. Times are microseconds so that
// they stay exact in Lua's doubles; elapsed seconds and the wait are
// computed with the same operations as moderation.Limiter.
var allowScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local function refill(key, rate, burst)
  local v = redis.call('HMGET', key, 't', 'l')
  if not v[1] then return burst end
  local d = now - tonumber(v[2])
  if d < 0 then d = 0 end
  local elapsed = math.floor(d / 1000000) + (d % 1000000) / 1000000
  return math.min(burst, tonumber(v[1]) + elapsed * rate)
end
local function bucketWait(tokens, rate)
  if tokens >= 1 then return 0 end
  return math.ceil((1 - tokens) / rate * 1e9)
end
local wait, reason = 0, 0
local function refuse(w, why)
  if w > wait then wait, reason = w, why end
end
local urate, uburst = tonumber(ARGV[2]), tonumber(ARGV[3])
local irate, iburst = tonumber(ARGV[4]), tonumber(ARGV[5])
local ut, it
if ARGV[8] == '1' then
  ut = refill(KEYS[1], urate, uburst)
  refuse(bucketWait(ut, urate), 1)
end
if ARGV[9] == '1' then
  it = refill(KEYS[2], irate, iburst)
  refuse(bucketWait(it, irate), 2)
end
local every = 0
if ARGV[10] == '1' then
  every = tonumber(redis.call('HGET', KEYS[3], ARGV[6]) or '0') or 0
  if every > 0 then
    local last = redis.call('GET', KEYS[4])
    if last then refuse((tonumber(last) + every - now) * 1000, 3) end
  end
end
local dupwin = tonumber(ARGV[7])
if ARGV[11] == '1' then
  local last = redis.call('GET', KEYS[5])
  if last then refuse((tonumber(last) + dupwin - now) * 1000, 4) end
end
if wait > 0 then return {wait, reason, every} end
local function take(key, tokens, rate, burst)
  tokens = tokens - 1
  redis.call('HSET', key, 't', string.format('%.17g', tokens), 'l', ARGV[1])
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate * 1000) + 1000)
end
if ARGV[8] == '1' then take(KEYS[1], ut, urate, uburst) end
if ARGV[9] == '1' then take(KEYS[2], it, irate, iburst) end
if every > 0 then
  redis.call('SET', KEYS[4], ARGV[1], 'PX', math.ceil(every / 1000))
end
if ARGV[11] == '1' then
  redis.call('SET', KEYS[5], ARGV[1], 'PX', math.ceil(dupwin / 1000))
end
return {0, 0, every}
`)

// NewLimiter returns a shared limiter with cfg's settings (defaults filled
// in as moderation.NewLimiter does), reading slow mode from rooms. It
// starts no goroutine.
func NewLimiter(client redis.UniversalClient, rooms *Rooms, cfg moderation.LimitConfig, opts Options) *Limiter {
	local := moderation.NewLimiter(cfg)
	l := &Limiter{client: client, opts: opts.withDefaults(), cfg: local.Config(), rooms: rooms, local: local}
	l.disabled.Store(cfg.Disabled)
	return l
}

// SetDisabled turns every limit off (true) or on again (false), on this
// node.
func (l *Limiter) SetDisabled(off bool) {
	l.disabled.Store(off)
	l.local.SetDisabled(off)
}

// Fallbacks returns how many Allow calls used the local fallback, for
// metrics and tests.
func (l *Limiter) Fallbacks() int64 { return l.fallbacks.Load() }

// SetSlowMode implements moderation.RateLimiter through Rooms; an error is
// logged. Callers that can report errors use Rooms.SetSlowMode.
func (l *Limiter) SetSlowMode(room string, every time.Duration) {
	if err := l.rooms.SetSlowMode(context.Background(), room, every); err != nil {
		l.opts.Log.Warn("moderation: slow mode not saved", "room", room, "err", err)
	}
}

// SetSlowModeContext implements moderation.SlowModeSetter through Rooms:
// it returns an EUNAVAILABLE *danmaku.Error when Redis cannot be reached.
func (l *Limiter) SetSlowModeContext(ctx context.Context, room string, every time.Duration) error {
	return l.rooms.SetSlowMode(ctx, room, every)
}

// SlowMode implements moderation.RateLimiter from Rooms' local copy.
func (l *Limiter) SlowMode(room string) time.Duration { return l.rooms.SlowMode(room) }

// Allow implements moderation.RateLimiter.
func (l *Limiter) Allow(a moderation.Attempt) error {
	if l.disabled.Load() {
		return nil
	}
	now := l.cfg.Now()
	l.mu.Lock()
	down := now.Before(l.downUntil)
	l.mu.Unlock()
	if !down {
		err, ok := l.allowRedis(now, a)
		if ok {
			return err
		}
		l.mu.Lock()
		l.downUntil = now.Add(ProbeEvery)
		l.mu.Unlock()
	}
	l.fallbacks.Add(1)
	// The fallback follows the room's slow mode as last seen.
	if a.Room != "" {
		if every := l.rooms.SlowMode(a.Room); every != l.local.SlowMode(a.Room) {
			l.local.SetSlowMode(a.Room, every)
		}
	}
	return l.local.Allow(a)
}

// allowRedis runs the script; ok is false when Redis could not answer.
func (l *Limiter) allowRedis(now time.Time, a moderation.Attempt) (err error, ok bool) {
	useUser := a.UserID != ""
	useIP := a.IP != ""
	useSlow := a.Room != "" && a.UserID != ""
	useDup := a.Text != "" && l.cfg.DuplicateWindow > 0 && a.UserID != ""
	p := l.opts.Prefix + "rl:"
	keys := []string{
		p + "user:" + a.UserID,
		p + "ip:" + a.IP,
		l.rooms.slowKey(),
		p + "slow:" + strconv.Itoa(len(a.Room)) + ":" + a.Room + ":" + a.UserID,
		p + "dup:" + a.UserID + ":" + textHash(a.Text),
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	res, rerr := allowScript.Run(ctx, l.client, keys,
		now.UnixMicro(), l.cfg.UserRate, l.cfg.UserBurst, l.cfg.IPRate, l.cfg.IPBurst,
		a.Room, l.cfg.DuplicateWindow.Microseconds(),
		flag(useUser), flag(useIP), flag(useSlow), flag(useDup)).Int64Slice()
	if rerr != nil || len(res) != 3 {
		l.opts.Log.Warn("moderation: shared rate limit unavailable; using the local limiter", "err", rerr)
		return nil, false
	}
	wait, reason, every := time.Duration(res[0]), res[1], time.Duration(res[2])*time.Microsecond
	var msg string
	switch reason {
	case 0:
		return nil, true
	case 1:
		msg = "you are sending too fast"
	case 2:
		msg = "too many danmaku from your network"
	case 3:
		msg = fmt.Sprintf("slow mode is on: one danmaku every %s", every)
	default:
		msg = "you sent the same text a moment ago"
	}
	return &danmaku.Error{Code: danmaku.ERATELIMIT, Message: msg, RetryAfter: wait}, true
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// textHash names a text by its canonical form.
func textHash(text string) string {
	if text == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(moderation.NormalizeString(text)))
	return hex.EncodeToString(sum[:12])
}
