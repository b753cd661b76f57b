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

// Follow implements live.Remote: it returns the room's last batches from
// its output stream and starts feeding new ones to the hub. It also makes
// this node a candidate for the room's lease.
func (n *Node) Follow(objectID string) []danmaku.Batch {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	rr := n.runLocked(objectID)
	rr.followed = true
	if rr.unfollow != nil {
		rr.unfollow()
	}
	ctx, cancel := context.WithCancel(n.ctx)
	rr.unfollow = cancel
	n.mu.Unlock()

	var recent []danmaku.Batch
	last := ""
	if n.up.Load() {
		var err error
		recent, last, err = n.recent(ctx, objectID)
		if err != nil {
			n.markDown(opFollow, err)
			last = ""
		}
	}
	n.wg.Go(func() { n.follow(ctx, objectID, last) })
	return recent
}

// Unfollow implements live.Remote: it stops feeding the room's batches.
// The node stays a candidate until the room's input is drained.
func (n *Node) Unfollow(objectID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	rr := n.rooms[objectID]
	if rr == nil {
		return
	}
	rr.followed = false
	if rr.unfollow != nil {
		rr.unfollow()
		rr.unfollow = nil
	}
}

// recent returns the room's last live.RingSize batches, oldest first, and
// the id of the newest entry of its output stream ("0-0" if it is empty).
func (n *Node) recent(ctx context.Context, objectID string) ([]danmaku.Batch, string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	msgs, err := n.rdb.XRevRangeN(ctx, n.key(objectID, "out"), "+", "-", 4*live.RingSize).Result()
	if err != nil {
		return nil, "", fmt.Errorf("read recent batches of %s: %w", objectID, err)
	}
	if len(msgs) == 0 {
		return nil, "0-0", nil
	}
	var out []danmaku.Batch
	for _, m := range msgs {
		if b, ok := batchOf(m); ok {
			out = append(out, b)
			if len(out) == live.RingSize {
				break
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, msgs[0].ID, nil
}

// follow reads the room's output stream after last and hands every entry
// to the hub until ctx ends. An empty last means "from now on", once Redis
// answers.
func (n *Node) follow(ctx context.Context, objectID, last string) {
	out := n.key(objectID, "out")
	for ctx.Err() == nil {
		if !n.up.Load() {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		if last == "" {
			_, id, err := n.recent(ctx, objectID)
			if err != nil {
				n.markDown(opFollow, err)
				continue
			}
			last = id
		}
		res, err := n.rdb.XRead(ctx, &goredis.XReadArgs{Streams: []string{out, last}, Block: time.Second, Count: 100}).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.markDown(opFollow, fmt.Errorf("read batches of %s: %w", objectID, err))
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				n.apply(objectID, m)
			}
		}
	}
}

// apply hands one output entry to the hub. An entry that is neither a
// batch nor a delete, or that does not decode, is counted and skipped.
func (n *Node) apply(objectID string, m goredis.XMessage) {
	if b, ok := batchOf(m); ok {
		if err := n.hub.HandleBatch(objectID, b); err != nil {
			n.stats.badOutput.Add(1)
			n.log.Error("deliver batch", "objectId", objectID, "err", err)
		}
		return
	}
	s, ok := m.Values["delete"].(string)
	if !ok {
		n.stats.badOutput.Add(1)
		n.log.Error("bad output entry", "objectId", objectID, "entry", m.ID)
		return
	}
	id, err := danmaku.ParseID(s)
	if err != nil {
		n.stats.badOutput.Add(1)
		n.log.Error("bad delete entry", "objectId", objectID, "id", s)
		return
	}
	n.hub.HandleDelete(objectID, id)
}

// batchOf returns the batch an output entry carries, if it is one.
func batchOf(m goredis.XMessage) (danmaku.Batch, bool) {
	p, ok := m.Values["batch"].(string)
	if !ok {
		return danmaku.Batch{}, false
	}
	s, _ := m.Values["seq"].(string)
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return danmaku.Batch{}, false
	}
	return danmaku.Batch{Seq: seq, Payload: []byte(p)}, true
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
