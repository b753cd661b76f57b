package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/danmakud/danmakud/moderation"
)

// Bans is the moderation.Bans shared through Redis. Each scope (the global
// bans, and each room's) is a Redis hash of user → "untilMillis|json",
// whose key expires with the last of its timed bans; a set lists the rooms
// that have bans. Check and List read a local moderation.BanList, updated
// on every node within a notification's delay and fully reloaded every
// ReloadEvery.
type Bans struct {
	client redis.UniversalClient
	opts   Options
	local  *moderation.BanList
	w      *watcher
}

var _ moderation.Bans = (*Bans)(nil)

// The scripts below keep a scope's hash and its expiry consistent: they
// drop expired bans and set the key to expire with the last timed ban, or
// never when one is permanent.
const banExpiryLua = `
local function fix(key, now)
  local all = redis.call('HGETALL', key)
  local maxUntil, permanent = 0, false
  for i = 1, #all, 2 do
    local untilMs = tonumber(string.match(all[i+1], '^(%d+)|'))
    if untilMs == nil or untilMs == 0 then
      permanent = true
    elseif untilMs <= now then
      redis.call('HDEL', key, all[i])
    elseif untilMs > maxUntil then
      maxUntil = untilMs
    end
  end
  if permanent then
    redis.call('PERSIST', key)
  elseif maxUntil > 0 then
    redis.call('PEXPIREAT', key, maxUntil)
  end
end
`

// banScript: KEYS[1] the scope's hash, KEYS[2] the rooms set; ARGV[1]
// user, ARGV[2] value, ARGV[3] now (ms), ARGV[4] room ("" global),
// ARGV[5] channel.
var banScript = redis.NewScript(banExpiryLua + `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] ~= '' then redis.call('SADD', KEYS[2], ARGV[4]) end
fix(KEYS[1], tonumber(ARGV[3]))
redis.call('PUBLISH', ARGV[5], ARGV[4])
return 1
`)

// unbanScript: KEYS[1] the scope's hash; ARGV[1] user, ARGV[2] now (ms),
// ARGV[3] room, ARGV[4] channel. It returns 1 if a ban was removed.
var unbanScript = redis.NewScript(banExpiryLua + `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
fix(KEYS[1], tonumber(ARGV[2]))
if n > 0 then redis.call('PUBLISH', ARGV[4], ARGV[3]) end
return n
`)

// dumpBansScript returns every ban value of every scope in one atomic
// read, and forgets rooms whose hash has expired. KEYS[1] the global
// hash, KEYS[2] the rooms set; ARGV[1] the room key prefix.
var dumpBansScript = redis.NewScript(`
local out = redis.call('HVALS', KEYS[1])
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local vals = redis.call('HVALS', ARGV[1] .. room)
  if #vals == 0 then
    redis.call('SREM', KEYS[2], room)
  end
  for _, v in ipairs(vals) do out[#out+1] = v end
end
return out
`)

// NewBans returns shared bans over client and starts the goroutine that
// keeps the local copy fresh; call Close to stop it. It does not wait for
// Redis: call Sync to load the bans at once.
func NewBans(client redis.UniversalClient, opts Options) *Bans {
	b := &Bans{client: client, opts: opts.withDefaults(), local: moderation.NewBanList()}
	b.w = startWatcher(client, b.channel(), b.opts, b.onMessage, b.Sync)
	return b
}

func (b *Bans) channel() string    { return b.opts.Prefix + "bans:changed" }
func (b *Bans) roomsKey() string   { return b.opts.Prefix + "bans:rooms" }
func (b *Bans) roomPrefix() string { return b.opts.Prefix + "bans:room:" }

func (b *Bans) scopeKey(room string) string {
	if room == "" {
		return b.opts.Prefix + "bans:global"
	}
	return b.roomPrefix() + room
}

// Close stops the goroutine started by NewBans. It does not close client.
func (b *Bans) Close() error { return b.w.close() }

// Ban implements moderation.Bans. It returns an EUNAVAILABLE
// *danmaku.Error when Redis cannot be reached.
func (b *Bans) Ban(ctx context.Context, ban moderation.Ban) error {
	if err := moderation.ValidateBan(ban); err != nil {
		return err
	}
	if ban.Since.IsZero() {
		ban.Since = time.Now()
	}
	body, err := json.Marshal(ban)
	if err != nil {
		return fmt.Errorf("encode ban: %w", err)
	}
	var until int64
	if !ban.Permanent() {
		until = max(ban.Until.UnixMilli(), 1)
	}
	value := strconv.FormatInt(until, 10) + "|" + string(body)
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	err = banScript.Run(ctx, b.client, []string{b.scopeKey(ban.Room), b.roomsKey()},
		ban.Subject(), value, time.Now().UnixMilli(), ban.Room, b.channel()).Err()
	if err != nil {
		return b.opts.unavailable("ban", err)
	}
	// Apply at once on this node; the notification does the same on others.
	_ = b.local.Ban(ctx, ban)
	return nil
}

// Unban implements moderation.Bans. It returns an EUNAVAILABLE
// *danmaku.Error when Redis cannot be reached.
func (b *Bans) Unban(ctx context.Context, user, room string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	n, err := unbanScript.Run(ctx, b.client, []string{b.scopeKey(room)},
		user, time.Now().UnixMilli(), room, b.channel()).Int()
	if err != nil {
		return false, b.opts.unavailable("unban", err)
	}
	_, _ = b.local.Unban(ctx, user, room)
	return n > 0, nil
}

// Check implements moderation.Bans from the local copy.
func (b *Bans) Check(user, room string, now time.Time) (moderation.Ban, bool) {
	return b.local.Check(user, room, now)
}

// CheckAddr implements moderation.AddrChecker from the local copy.
func (b *Bans) CheckAddr(ip, room string, now time.Time) (moderation.Ban, bool) {
	return b.local.CheckAddr(ip, room, now)
}

// List implements moderation.Bans from the local copy.
func (b *Bans) List(room string, now time.Time) []moderation.Ban {
	return b.local.List(room, now)
}

// Sync reloads every ban from Redis into the local copy.
func (b *Bans) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	vals, err := dumpBansScript.Run(ctx, b.client, []string{b.scopeKey(""), b.roomsKey()}, b.roomPrefix()).StringSlice()
	if err != nil {
		return fmt.Errorf("load bans: %w", err)
	}
	bans := make([]moderation.Ban, 0, len(vals))
	for _, v := range vals {
		ban, err := decodeBan(v)
		if err != nil {
			b.opts.Log.Warn("moderation: skipping a bad ban in redis", "err", err)
			continue
		}
		bans = append(bans, ban)
	}
	b.local.ReplaceAll(bans)
	return nil
}

// onMessage reloads the scope named by a notification.
func (b *Bans) onMessage(ctx context.Context, room string) {
	if err := b.syncScope(ctx, room); err != nil {
		b.opts.Log.Warn("moderation: reload of bans failed", "room", room, "err", err)
	}
}

func (b *Bans) syncScope(ctx context.Context, room string) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	vals, err := b.client.HVals(ctx, b.scopeKey(room)).Result()
	if err != nil {
		return fmt.Errorf("load bans of %q: %w", room, err)
	}
	bans := make([]moderation.Ban, 0, len(vals))
	for _, v := range vals {
		ban, err := decodeBan(v)
		if err != nil || ban.Room != room {
			continue
		}
		bans = append(bans, ban)
	}
	b.local.Replace(room, bans)
	return nil
}

func decodeBan(v string) (moderation.Ban, error) {
	_, body, ok := strings.Cut(v, "|")
	if !ok {
		return moderation.Ban{}, fmt.Errorf("ban value %.40q has no separator", v)
	}
	var ban moderation.Ban
	if err := json.Unmarshal([]byte(body), &ban); err != nil {
		return moderation.Ban{}, fmt.Errorf("decode ban: %w", err)
	}
	return ban, nil
}
