package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	goredis "github.com/redis/go-redis/v9"
)

// Room settings and live sessions live in one hash per room,
// PREFIX:{objectId}:settings, with the fields tickMs, maxPerTick and
// liveStart (Unix milliseconds of the running session's start).

// endSessionScript removes the running session and returns its start.
// KEYS: settings. Returns the start, or nil if none runs.
const endSessionScript = `
local v = redis.call('HGET', KEYS[1], 'liveStart')
if v then redis.call('HDEL', KEYS[1], 'liveStart') end
return v
`

// errUnreachable refuses a shared change while Redis is unreachable.
func errUnreachable() error {
	return &danmaku.Error{Code: danmaku.EUNAVAILABLE, Message: "the cluster's shared state (Redis) is unreachable; try again shortly", RetryAfter: 2 * time.Second}
}

// stateCtx returns the context of a shared-state call, or an error when
// Redis is known to be down.
func (n *Node) stateCtx() (context.Context, context.CancelFunc, error) {
	if !n.up.Load() {
		return nil, nil, errUnreachable()
	}
	ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
	return ctx, cancel, nil
}

// failed turns a Redis error into the client-facing error and notes the
// outage.
func (n *Node) failed(what string, err error) error {
	n.markDown(opState, fmt.Errorf("%s: %w", what, err))
	n.log.Warn("shared room state", "op", what, "err", err)
	return errUnreachable()
}

// SaveRoomConfig implements live.Remote: the room's leader, on any
// node, uses these settings from its next poll.
func (n *Node) SaveRoomConfig(objectID string, c live.RoomConfig) error {
	ctx, cancel, err := n.stateCtx()
	if err != nil {
		return err
	}
	defer cancel()
	key := n.key(objectID, "settings")
	pipe := n.rdb.TxPipeline()
	pipe.HDel(ctx, key, "tickMs", "maxPerTick")
	if c.TickInterval > 0 {
		pipe.HSet(ctx, key, "tickMs", c.TickInterval.Milliseconds())
	}
	if c.MaxPerTick > 0 {
		pipe.HSet(ctx, key, "maxPerTick", c.MaxPerTick)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return n.failed("save settings", err)
	}
	return nil
}

// StartSession implements live.Remote.
func (n *Node) StartSession(objectID string, now time.Time) (live.Session, error) {
	ctx, cancel, err := n.stateCtx()
	if err != nil {
		return live.Session{}, err
	}
	defer cancel()
	key := n.key(objectID, "settings")
	ok, err := n.rdb.HSetNX(ctx, key, "liveStart", now.UnixMilli()).Result()
	if err != nil {
		return live.Session{}, n.failed("start session", err)
	}
	if ok {
		return live.Session{ObjectID: objectID, StartedAt: time.UnixMilli(now.UnixMilli())}, nil
	}
	s, _, err := n.LoadSession(objectID)
	if err != nil {
		return live.Session{}, err
	}
	return s, danmaku.Errorf(danmaku.ECONFLICT, "a live session is already running for %s since %s", objectID, s.StartedAt.UTC().Format(time.RFC3339))
}

// EndSession implements live.Remote.
func (n *Node) EndSession(objectID string, now time.Time) (live.Session, error) {
	ctx, cancel, err := n.stateCtx()
	if err != nil {
		return live.Session{}, err
	}
	defer cancel()
	v, err := n.sc.endSession.Run(ctx, n.rdb, []string{n.key(objectID, "settings")}).Text()
	if errors.Is(err, goredis.Nil) {
		return live.Session{}, danmaku.Errorf(danmaku.ENOTFOUND, "no live session is running for %s", objectID)
	}
	if err != nil {
		return live.Session{}, n.failed("end session", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return live.Session{}, fmt.Errorf("redis broker: session of %s: bad start %q", objectID, v)
	}
	return live.Session{ObjectID: objectID, StartedAt: time.UnixMilli(ms), EndedAt: now}, nil
}

// LoadSession implements live.Remote.
func (n *Node) LoadSession(objectID string) (live.Session, bool, error) {
	ctx, cancel, err := n.stateCtx()
	if err != nil {
		return live.Session{}, false, err
	}
	defer cancel()
	v, err := n.rdb.HGet(ctx, n.key(objectID, "settings"), "liveStart").Result()
	if errors.Is(err, goredis.Nil) {
		return live.Session{}, false, nil
	}
	if err != nil {
		return live.Session{}, false, n.failed("load session", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return live.Session{}, false, fmt.Errorf("redis broker: session of %s: bad start %q", objectID, v)
	}
	return live.Session{ObjectID: objectID, StartedAt: time.UnixMilli(ms)}, true, nil
}

// sharedConfig merges the room's shared settings (HMGET tickMs,
// maxPerTick) over the local defaults.
func sharedConfig(c live.RoomConfig, vals []any) live.RoomConfig {
	if s, ok := vals[0].(string); ok {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
			c.TickInterval = time.Duration(ms) * time.Millisecond
		}
	}
	if s, ok := vals[1].(string); ok {
		if m, err := strconv.Atoi(s); err == nil && m > 0 {
			c.MaxPerTick = m
		}
	}
	return c
}
