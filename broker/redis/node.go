// Package redis runs danmakud nodes as one cluster through Redis: every
// node appends accepted danmaku to its room's input stream, one node at a
// time (the holder of the room's lease) merges each tick into a batch and
// appends it to the room's output stream, and every node fans the output
// stream out to its own viewers. The Node is the cluster's danmaku.Broker
// and the local hub's live.Remote; broker/brokertest is the suite it passes
// with the in-process hub. See "Running a cluster" in docs/operations.md.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults of Config.
const (
	DefaultLeaseTTL     = 2 * time.Second
	DefaultPoll         = 500 * time.Millisecond
	DefaultInputMaxLen  = 100_000
	DefaultOutputMaxLen = 1_000
	DefaultPrefix       = "danmakud"
	// activeAfterSend is how long a node that received a send for a room
	// it does not watch stays a candidate for the room's lease.
	activeAfterSend = 10 * time.Second
	// opTimeout bounds each Redis call that is not a blocking read.
	opTimeout = time.Second
)

// Config configures a Node. Client and Hub are required.
type Config struct {
	// Client is the process's Redis client; the node does not close it.
	// NewClient makes one with the short timeouts a node needs.
	Client *goredis.Client
	// Hub is this node's live hub: the node hands it the cluster's
	// batches and retractions (it is the node's BrokerEventHandler), and
	// publishes to it directly while Redis is unreachable.
	Hub *live.Hub
	// NodeID names this node in leases; empty means a random name.
	NodeID string
	Log    *slog.Logger // Nil discards.
	// Prefix starts every key (default "danmakud"); keys are
	// PREFIX:{objectId}:in, :out, :lease, :state (pos, seq and epoch),
	// :deleted and :settings.
	Prefix string
	// LeaseTTL is how long a room's lease outlives its holder's last
	// renewal (default 2 s): the takeover time after a leader dies.
	LeaseTTL time.Duration
	// Poll is how often a candidate tries to take a free lease and a
	// leader looks for complete ticks (default 500 ms; a room with a
	// shorter tick interval polls at that interval).
	Poll time.Duration
	// InputMaxLen and OutputMaxLen bound the streams, approximately
	// (defaults 100,000 danmaku and 1,000 entries).
	InputMaxLen  int64
	OutputMaxLen int64
	// History is how long a room's batches stay in its output stream for
	// viewers that resume on any node (default live.DefaultHistory); the
	// last live.RingSize batches stay however old, and OutputMaxLen
	// bounds the stream either way.
	History time.Duration
}

// Node is one danmakud node of a Redis cluster: the cluster's
// danmaku.Broker, and the hub's live.Remote. Create it with New, hand it
// to the hub with Hub.SetRemote, and release it with Close.
type Node struct {
	cfg Config
	rdb *goredis.Client
	hub *live.Hub
	log *slog.Logger
	sc  scripts

	up     atomic.Bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	rooms  map[string]*roomRun
	closed bool

	stats counters
}

var (
	_ danmaku.Broker = (*Node)(nil)
	_ live.Remote    = (*Node)(nil)
)

// New returns a running Node. It does not fail when Redis is unreachable:
// the node starts in local mode and joins the cluster once Redis answers.
func New(cfg Config) (*Node, error) {
	if cfg.Client == nil || cfg.Hub == nil {
		return nil, errors.New("redis broker: Client and Hub are required")
	}
	if cfg.NodeID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24.
		cfg.NodeID = "node-" + hex.EncodeToString(b[:])
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.InputMaxLen <= 0 {
		cfg.InputMaxLen = DefaultInputMaxLen
	}
	if cfg.OutputMaxLen <= 0 {
		cfg.OutputMaxLen = DefaultOutputMaxLen
	}
	cfg.OutputMaxLen = max(cfg.OutputMaxLen, 4*live.RingSize)
	if cfg.History <= 0 {
		cfg.History = live.DefaultHistory
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, rdb: cfg.Client, hub: cfg.Hub, log: cfg.Log, sc: newScripts(), ctx: ctx, cancel: cancel, rooms: make(map[string]*roomRun)}
	n.up.Store(true)
	if err := n.ping(); err != nil {
		n.markDown(opPing, err)
	}
	n.wg.Go(n.watchHealth)
	return n, nil
}

// NewClient returns a go-redis client for addr with the short timeouts a
// node needs to notice an outage quickly.
func NewClient(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr:         addr,
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		MaxRetries:   1,
		// One dial attempt per call: the health loop does the retrying.
		DialerRetries: 1,
		PoolSize:      256, // Each followed room holds one connection in XREAD BLOCK.
		PoolTimeout:   time.Second,
	})
}

// NodeID returns the node's name in leases.
func (n *Node) NodeID() string { return n.cfg.NodeID }

// Healthy reports whether Redis answered the node's last health check;
// false means the node serves its own viewers in local mode.
func (n *Node) Healthy() bool { return n.up.Load() }

// Close stops the node's loops and gives up the leases it holds. It does
// not close the Redis client.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	return nil
}

// Publish appends d to its room's input stream, from which the room's
// leader merges it into a tick. If Redis is unreachable it hands d to the
// local hub instead, so this node's own viewers still see it, and returns
// nil: the danmaku is stored either way.
func (n *Node) Publish(ctx context.Context, d *danmaku.Danmaku, priority bool) error {
	if d == nil || d.Shadow {
		return nil
	}
	if n.up.Load() {
		err := n.appendInput(d, priority)
		if err == nil {
			n.stats.published.Add(1)
			n.touch(d.ObjectID)
			return nil
		}
		n.markDown(opAppend, err)
	}
	n.stats.fallback.Add(1)
	if err := n.hub.Publish(ctx, d, priority); err != nil {
		return fmt.Errorf("redis broker: local fallback: %w", err)
	}
	return nil
}

// appendInput XADDs d to its room's input stream.
func (n *Node) appendInput(d *danmaku.Danmaku, priority bool) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode danmaku: %w", err)
	}
	p := "0"
	if priority {
		p = "1"
	}
	ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
	defer cancel()
	err = n.rdb.XAdd(ctx, &goredis.XAddArgs{
		Stream: n.key(d.ObjectID, "in"),
		MaxLen: n.cfg.InputMaxLen,
		Approx: true,
		Values: []any{"d", b, "p", p},
	}).Err()
	if err != nil {
		return fmt.Errorf("xadd %s: %w", d.ObjectID, err)
	}
	return nil
}

// Delete withdraws a danmaku from every node's viewers: a delete entry in
// the room's output stream, and a mark that keeps the leader from
// broadcasting it if it is still pending. If Redis is unreachable only
// this node's viewers are told.
func (n *Node) Delete(objectID string, id danmaku.ID) {
	if n.up.Load() {
		ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
		defer cancel()
		pipe := n.rdb.TxPipeline()
		del := n.key(objectID, "deleted")
		pipe.SAdd(ctx, del, id.String())
		pipe.PExpire(ctx, del, 5*time.Minute)
		pipe.XAdd(ctx, &goredis.XAddArgs{
			Stream: n.key(objectID, "out"),
			MaxLen: n.cfg.OutputMaxLen,
			Approx: true,
			Values: []any{"delete", id.String()},
		})
		_, err := pipe.Exec(ctx)
		if err == nil {
			return
		}
		n.markDown(opDelete, fmt.Errorf("delete %s from %s: %w", id, objectID, err))
	}
	n.hub.Delete(objectID, id)
}

// key returns the Redis key of one of a room's structures. The braces
// make every key of a room hash to the same Redis Cluster slot, which the
// leader's script needs.
func (n *Node) key(objectID, kind string) string {
	return n.cfg.Prefix + ":{" + objectID + "}:" + kind
}

// ping checks that Redis answers.
func (n *Node) ping() error {
	ctx, cancel := context.WithTimeout(n.ctx, opTimeout)
	defer cancel()
	if err := n.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// markDown records a failed Redis call of kind o; the health loop brings
// the node back once Redis answers again.
func (n *Node) markDown(o op, err error) {
	if n.ctx.Err() != nil {
		return
	}
	n.stats.errors[o].Add(1)
	if n.up.CompareAndSwap(true, false) {
		n.stats.outages.Add(1)
		n.log.Warn("redis unreachable: serving local viewers only until it returns", "err", err)
	}
}

// watchHealth pings Redis: every Poll while it is up, and with a backoff
// from 100 ms to 2 s while it is down, until the node closes.
func (n *Node) watchHealth() {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for {
		wait := n.cfg.Poll
		if !n.up.Load() {
			wait = backoff
			backoff = min(2*backoff, maxBackoff)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(wait):
		}
		err := n.ping()
		switch {
		case err != nil:
			n.markDown(opPing, err)
		case n.up.CompareAndSwap(false, true):
			backoff = minBackoff
			n.log.Info("redis is back: rejoined the cluster")
		}
	}
}
