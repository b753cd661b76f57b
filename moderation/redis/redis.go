// Package redis shares the moderation state of danmakud between nodes
// through Redis: bans (Bans), word lists (Words), room pauses and slow mode
// (Rooms), and rate limits (Limiter).
//
// Every check on a send's path reads a local copy and never waits on the
// network, apart from Limiter.Allow, which makes one round trip (one Lua
// script) and falls back to an in-memory limiter while Redis is
// unreachable. Writes go to Redis first and are then announced on a
// pub/sub channel; every node reloads the changed part on the
// announcement, and reloads everything periodically and after each
// reconnection to heal missed announcements. While Redis is down, checks
// use the last copy and writes fail with an EUNAVAILABLE *danmaku.Error.
package redis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// Options configures the components of this package. A zero Options gives
// the defaults.
type Options struct {
	// Prefix starts every Redis key and channel name (default
	// "danmakud:mod:"); nodes of one cluster share it.
	Prefix string
	// ReloadEvery is the period of the full reload that heals missed
	// notifications (default 10 s).
	ReloadEvery time.Duration
	// Timeout bounds each Redis operation (default 500 ms).
	Timeout time.Duration
	// RetryAfter is what a write that could not reach Redis tells the
	// client (default 5 s).
	RetryAfter time.Duration
	// Log receives reload and fallback errors; nil discards them.
	Log *slog.Logger
	// Normalizer normalises texts and words for the local word-list copy
	// (default: the default leetspeak table).
	Normalizer *moderation.Normalizer
}

// Defaults for Options.
const (
	DefaultPrefix      = "danmakud:mod:"
	DefaultReloadEvery = 10 * time.Second
	DefaultTimeout     = 500 * time.Millisecond
	DefaultRetryAfter  = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.ReloadEvery <= 0 {
		o.ReloadEvery = DefaultReloadEvery
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// unavailable wraps a Redis error into the EUNAVAILABLE error that clients
// see; the cause goes to the log.
func (o Options) unavailable(what string, err error) error {
	o.Log.Warn("moderation: redis write failed", "op", what, "err", err)
	return &danmaku.Error{Code: danmaku.EUNAVAILABLE, Message: "moderation state is unavailable; try again later", RetryAfter: o.RetryAfter}
}

// watcher keeps a local copy fresh: it subscribes to one channel, calls
// onMessage for every notification, and reload after each (re)subscription
// and every ReloadEvery. Both run on the watcher's goroutine, one at a
// time, so a component needs no extra ordering.
type watcher struct {
	opts      Options
	ps        *redis.PubSub
	onMessage func(ctx context.Context, payload string)
	reload    func(ctx context.Context) error
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// startWatcher subscribes to channel and starts the watcher's goroutine.
func startWatcher(client redis.UniversalClient, channel string, opts Options,
	onMessage func(context.Context, string), reload func(context.Context) error) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{
		opts:      opts,
		ps:        client.Subscribe(ctx),
		onMessage: onMessage,
		reload:    reload,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	go w.run(ctx, channel)
	return w
}

func (w *watcher) run(ctx context.Context, channel string) {
	defer close(w.done)
	subscribed := false
	next := time.Now().Add(w.opts.ReloadEvery)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if !subscribed {
			// Subscribe sends the command at once; while Redis is down it
			// fails and is retried after a pause. go-redis resubscribes by
			// itself after a later reconnection.
			if err := w.ps.Subscribe(ctx, channel); err != nil {
				if ctx.Err() == nil {
					w.opts.Log.Debug("moderation: subscribe failed", "channel", channel, "err", err)
				}
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, time.Second)
				w.maybeReload(ctx, &next)
				continue
			}
			subscribed = true
		}
		wait := time.Until(next)
		if wait <= 0 {
			w.maybeReload(ctx, &next)
			continue
		}
		msg, err := w.ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// The connection failed: go-redis reconnects and resubscribes
			// on the next receive. Pause so that an outage does not spin.
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// A new subscription, first or after a reconnection:
				// notifications may have been missed meanwhile.
				w.doReload(ctx)
				next = time.Now().Add(w.opts.ReloadEvery)
			}
		case *redis.Message:
			w.onMessage(ctx, m.Payload)
		}
	}
}

func (w *watcher) maybeReload(ctx context.Context, next *time.Time) {
	if time.Until(*next) <= 0 {
		w.doReload(ctx)
		*next = time.Now().Add(w.opts.ReloadEvery)
	}
}

func (w *watcher) doReload(ctx context.Context) {
	if err := w.reload(ctx); err != nil && ctx.Err() == nil {
		w.opts.Log.Warn("moderation: reload from redis failed; using the local copy", "err", err)
	}
}

// close stops the goroutine and waits for it.
func (w *watcher) close() error {
	var err error
	w.closeOnce.Do(func() {
		w.cancel()
		err = w.ps.Close()
		<-w.done
	})
	return err
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
