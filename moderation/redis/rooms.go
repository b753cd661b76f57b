package redis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/danmakud/danmakud/moderation"
)

// Rooms holds the room settings shared through Redis: which rooms are
// paused (it implements moderation.RoomPauses) and each room's slow-mode
// interval, which the Limiter's script reads in Redis. Paused and SlowMode
// read a local copy, reloaded on every change notification and every
// ReloadEvery.
type Rooms struct {
	client redis.UniversalClient
	opts   Options
	w      *watcher

	mu     sync.RWMutex
	paused map[string]bool
	slow   map[string]time.Duration
}

var _ moderation.RoomPauses = (*Rooms)(nil)

// NewRooms returns shared room settings over client and starts the
// goroutine that keeps the local copy fresh; call Close to stop it. It
// does not wait for Redis: call Sync to load the settings at once.
func NewRooms(client redis.UniversalClient, opts Options) *Rooms {
	r := &Rooms{client: client, opts: opts.withDefaults(), paused: map[string]bool{}, slow: map[string]time.Duration{}}
	r.w = startWatcher(client, r.channel(), r.opts, func(ctx context.Context, _ string) {
		if err := r.Sync(ctx); err != nil {
			r.opts.Log.Warn("moderation: reload of room settings failed", "err", err)
		}
	}, r.Sync)
	return r
}

func (r *Rooms) channel() string   { return r.opts.Prefix + "rooms:changed" }
func (r *Rooms) pausedKey() string { return r.opts.Prefix + "rooms:paused" }

// slowKey is the hash of room → slow-mode interval in microseconds.
func (r *Rooms) slowKey() string { return r.opts.Prefix + "rooms:slow" }

// Close stops the goroutine started by NewRooms. It does not close client.
func (r *Rooms) Close() error { return r.w.close() }

// SetPaused implements moderation.RoomPauses. It returns an EUNAVAILABLE
// *danmaku.Error when Redis cannot be reached.
func (r *Rooms) SetPaused(ctx context.Context, room string, paused bool) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if paused {
			p.HSet(ctx, r.pausedKey(), room, "1")
		} else {
			p.HDel(ctx, r.pausedKey(), room)
		}
		p.Publish(ctx, r.channel(), room)
		return nil
	})
	if err != nil {
		return r.opts.unavailable("pause room", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if paused {
		r.paused[room] = true
	} else {
		delete(r.paused, room)
	}
	return nil
}

// Paused implements moderation.RoomPauses from the local copy.
func (r *Rooms) Paused(room string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.paused[room]
}

// SetSlowMode lets each user send at most once per every in room; zero or
// negative turns slow mode off. It returns an EUNAVAILABLE *danmaku.Error
// when Redis cannot be reached.
func (r *Rooms) SetSlowMode(ctx context.Context, room string, every time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if every > 0 {
			p.HSet(ctx, r.slowKey(), room, slowMicros(every))
		} else {
			p.HDel(ctx, r.slowKey(), room)
		}
		p.Publish(ctx, r.channel(), room)
		return nil
	})
	if err != nil {
		return r.opts.unavailable("set slow mode", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if every > 0 {
		r.slow[room] = time.Duration(slowMicros(every)) * time.Microsecond
	} else {
		delete(r.slow, room)
	}
	return nil
}

// SlowMode returns the slow-mode interval of room from the local copy,
// zero when off.
func (r *Rooms) SlowMode(room string) time.Duration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.slow[room]
}

// Sync reloads the settings from Redis into the local copy.
func (r *Rooms) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	var pausedCmd, slowCmd *redis.MapStringStringCmd
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		pausedCmd = p.HGetAll(ctx, r.pausedKey())
		slowCmd = p.HGetAll(ctx, r.slowKey())
		return nil
	})
	if err != nil {
		return fmt.Errorf("load room settings: %w", err)
	}
	paused := make(map[string]bool, len(pausedCmd.Val()))
	for room := range pausedCmd.Val() {
		paused[room] = true
	}
	slow := make(map[string]time.Duration, len(slowCmd.Val()))
	for room, v := range slowCmd.Val() {
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil || us <= 0 {
			continue
		}
		slow[room] = time.Duration(us) * time.Microsecond
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paused, r.slow = paused, slow
	return nil
}

// slowMicros is a positive slow-mode interval in whole microseconds, as
// stored in Redis.
func slowMicros(every time.Duration) int64 { return max(every.Microseconds(), 1) }
