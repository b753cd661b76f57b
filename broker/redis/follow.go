package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	goredis "github.com/redis/go-redis/v9"
)

// Follow implements live.Remote: it returns the room's history epoch,
// last batches and recent deletions from Redis and starts feeding new
// batches to the hub. It also makes this node a candidate for the room's
// lease. While Redis is unreachable it returns nothing.
func (n *Node) Follow(objectID string) (string, []danmaku.Batch, []danmaku.ID) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return "", nil, nil
	}
	rr := n.runLocked(objectID)
	rr.followed = true
	if rr.unfollow != nil {
		rr.unfollow()
	}
	ctx, cancel := context.WithCancel(n.ctx)
	rr.unfollow = cancel
	n.mu.Unlock()

	var epoch string
	var recent []danmaku.Batch
	var deleted []danmaku.ID
	last := ""
	if n.up.Load() {
		var err error
		epoch, err = n.epoch(ctx, objectID)
		if err == nil {
			recent, last, err = n.recent(ctx, objectID)
		}
		if err == nil {
			deleted, err = n.recentlyDeleted(ctx, objectID)
		}
		if err != nil {
			n.markDown(opFollow, err)
			epoch, recent, deleted, last = "", nil, nil, ""
		}
	}
	n.wg.Go(func() { n.follow(ctx, objectID, last, epoch) })
	return epoch, recent, deleted
}

// recentlyDeleted returns the danmaku of the room deleted lately: its set
// of deletions, which lives 5 minutes after the last one.
func (n *Node) recentlyDeleted(ctx context.Context, objectID string) ([]danmaku.ID, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ids, err := n.rdb.SMembers(ctx, n.key(objectID, "deleted")).Result()
	if err != nil {
		return nil, fmt.Errorf("read deletions of %s: %w", objectID, err)
	}
	out := make([]danmaku.ID, 0, len(ids))
	for _, s := range ids {
		if id, err := danmaku.ParseID(s); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// epochScript returns a room's history epoch, naming it ARGV[1] if it has
// none yet: a new room, or one whose history Redis lost.
// KEYS: state. ARGV: a new epoch.
const epochScript = `
local e = redis.call('HGET', KEYS[1], 'epoch')
if e then return e end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1])
return ARGV[1]
`

// epoch returns the room's history epoch, the same for every node: it is
// kept in the room's state next to its seq, so that it survives leader
// failovers and node restarts and changes only when Redis loses the
// state, and with it the seq.
func (n *Node) epoch(ctx context.Context, objectID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24.
	e, err := n.sc.epoch.Run(ctx, n.rdb, []string{n.key(objectID, "state")}, hex.EncodeToString(b[:])).Text()
	if err != nil {
		return "", fmt.Errorf("read history epoch of %s: %w", objectID, err)
	}
	return e, nil
}

// BatchesAfter reads the output stream in pages of firstResumePage
// entries, then four times as many each time up to maxResumePage: most
// resumes need a few batches, a few need thousands.
const (
	firstResumePage = 32
	maxResumePage   = 1024
)

// BatchesAfter implements live.Remote: it reads the room's output stream
// back from its newest entry to the batch with seq since, or to limit
// batches, and returns the batches after since, oldest first, with the
// danmaku deleted meanwhile (the stream's delete entries and the room's
// set of recent deletions). It fails while Redis is unreachable.
func (n *Node) BatchesAfter(objectID string, since uint64, limit int) ([]danmaku.Batch, []danmaku.ID, error) {
	if !n.up.Load() {
		return nil, nil, errors.New("redis broker: redis is unreachable")
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*opTimeout)
	defer cancel()
	key := n.key(objectID, "out")
	var bs []danmaku.Batch // Newest first.
	var deleted []danmaku.ID
	end := "+"
	page := int64(firstResumePage)
read:
	for {
		msgs, err := n.rdb.XRevRangeN(ctx, key, end, "-", page).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("redis broker: read batches of %s: %w", objectID, err)
		}
		for _, m := range msgs {
			if b, ok := batchOf(m); ok {
				if b.Seq <= since || len(bs) == limit {
					break read
				}
				bs = append(bs, b)
				continue
			}
			if s, ok := m.Values["delete"].(string); ok {
				if id, err := danmaku.ParseID(s); err == nil {
					deleted = append(deleted, id)
				}
			}
		}
		if int64(len(msgs)) < page {
			break
		}
		end = "(" + msgs[len(msgs)-1].ID
		page = min(4*page, maxResumePage)
	}
	slices.Reverse(bs)
	ids, err := n.recentlyDeleted(ctx, objectID)
	if err != nil {
		return nil, nil, fmt.Errorf("redis broker: %w", err)
	}
	deleted = append(deleted, ids...)
	return bs, deleted, nil
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
// answers. A batch whose epoch is not epoch (the room's history was lost,
// or the room was made while Redis was unreachable) goes to the hub's
// HandleEpoch first.
func (n *Node) follow(ctx context.Context, objectID, last, epoch string) {
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
				if e, ok := m.Values["epoch"].(string); ok && e != epoch {
					epoch = e
					n.hub.HandleEpoch(objectID, e)
				}
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
