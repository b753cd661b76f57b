package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	goredis "github.com/redis/go-redis/v9"
)

// maxRead bounds the input entries a leader reads per poll; the rest wait
// for the next poll.
const maxRead = 20_000

// acquireScript takes a room's lease if it is free, or extends it if this
// node holds it already (a node restarted under the same name).
// KEYS: lease. ARGV: node, ttl ms. Returns 1 if the caller holds it.
const acquireScript = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`

// commitScript is a leader's tick: it checks that the caller still holds
// the lease and that the room's state is the one it read, extends the
// lease, appends the new batches to the output stream, trims the stream
// to the history window and moves the consumed input position and last
// seq, all at once.
// KEYS: lease, state, out. ARGV: node, ttl ms, old pos, old seq, new pos,
// new seq, out maxlen, trim minid (empty: no trim by id), epoch, then
// payload and seq for each batch. Each batch entry carries the room's
// epoch, so that followers notice a history that Redis lost.
// Returns {1, ids of the new entries…} on success, {0} if the lease is
// lost, {-1} if the state moved (or was lost: its epoch differs).
const commitScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local st = redis.call('HMGET', KEYS[2], 'pos', 'seq', 'epoch')
local pos = st[1] or '0-0'
local seq = st[2] or '0'
if pos ~= ARGV[3] or seq ~= ARGV[4] or st[3] ~= ARGV[9] then return {-1} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local res = {1}
for i = 10, #ARGV, 2 do
  res[#res+1] = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'seq', ARGV[i+1], 'epoch', ARGV[9], 'batch', ARGV[i])
end
if #res > 1 and ARGV[8] ~= '' then
  redis.call('XTRIM', KEYS[3], 'MINID', ARGV[8])
end
if ARGV[5] ~= ARGV[3] then
  redis.call('HSET', KEYS[2], 'pos', ARGV[5], 'seq', ARGV[6])
end
return res
`

// releaseScript deletes a lease if the caller holds it.
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

// scripts holds the node's Lua scripts, loaded on first use.
type scripts struct {
	acquire, commit, release, endSession, epoch *goredis.Script
}

func newScripts() scripts {
	return scripts{
		acquire:    goredis.NewScript(acquireScript),
		commit:     goredis.NewScript(commitScript),
		release:    goredis.NewScript(releaseScript),
		endSession: goredis.NewScript(endSessionScript),
		epoch:      goredis.NewScript(epochScript),
	}
}

// roomRun is a room this node takes part in: it watches it (Follow) or
// received a send for it recently, so it is a candidate for its lease.
type roomRun struct {
	id       string
	followed bool
	lastSend time.Time
	running  bool               // The lead loop runs.
	unfollow context.CancelFunc // Stops the follow loop.
}

// leaderState is what a lead loop knows while it holds the lease.
type leaderState struct {
	leader bool
	pos    string        // Last input entry consumed.
	seq    uint64        // Last batch appended.
	tick   time.Duration // The room's shared tick interval, once read.
	epoch  string        // The room's history epoch.
	// recent holds the output stream ids of the last live.RingSize
	// batches this leader appended, oldest first: the history window
	// never trims those.
	recent []string
}

// runLocked returns the room's run, making it and starting its lead loop
// if needed. n.mu is held.
func (n *Node) runLocked(objectID string) *roomRun {
	rr := n.rooms[objectID]
	if rr == nil {
		rr = &roomRun{id: objectID}
		n.rooms[objectID] = rr
	}
	if !rr.running {
		rr.running = true
		n.wg.Go(func() { n.lead(rr) })
	}
	return rr
}

// touch makes this node a candidate for a room it received a send for.
func (n *Node) touch(objectID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.runLocked(objectID).lastSend = time.Now()
}

// lead is a room's candidate loop: it takes the lease when it is free and,
// while it holds it, runs the room's ticks.
func (n *Node) lead(rr *roomRun) {
	var st leaderState
	defer func() {
		if st.leader {
			n.release(rr.id)
			n.setLeader(&st, false)
		}
	}()
	for {
		tick := st.tick
		if tick == 0 {
			tick = n.hub.RoomConfig(rr.id).TickInterval
		}
		poll := min(n.cfg.Poll, tick)
		if st.leader {
			// Wake just after the current interval ends, so that its batch
			// goes out on time rather than up to a poll later.
			poll = min(poll, untilBoundary(time.Now(), tick)+boundaryMargin)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(poll):
		}
		drained := true
		if n.up.Load() {
			var err error
			drained, err = n.step(rr.id, &st)
			if err != nil {
				if n.ctx.Err() != nil {
					return // The deferred release gives the lease up.
				}
				n.loseLead(&st, &n.stats.lostRedis)
				n.markDown(opLead, err)
			}
		} else {
			n.loseLead(&st, &n.stats.lostRedis)
		}
		if n.retire(rr, drained) {
			return
		}
	}
}

// retire ends a lead loop that is no longer needed: the room is not
// watched here, had no send here lately, and has nothing pending.
func (n *Node) retire(rr *roomRun, drained bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rr.followed || !drained || time.Since(rr.lastSend) < activeAfterSend {
		return false
	}
	rr.running = false
	delete(n.rooms, rr.id)
	return true
}

// release gives up a room's lease so that another node takes it at once.
func (n *Node) release(objectID string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_ = n.sc.release.Run(ctx, n.rdb, []string{n.key(objectID, "lease")}, n.cfg.NodeID).Err()
}

// step runs one poll of a room: it takes the lease if it is free and, as
// the leader, merges every complete tick interval pending in the input
// stream into batches. It reports whether the input holds nothing more.
func (n *Node) step(objectID string, st *leaderState) (drained bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, 2*opTimeout)
	defer cancel()
	sc := n.sc
	ttl := strconv.FormatInt(n.cfg.LeaseTTL.Milliseconds(), 10)
	lease, state := n.key(objectID, "lease"), n.key(objectID, "state")
	if !st.leader {
		got, err := sc.acquire.Run(ctx, n.rdb, []string{lease}, n.cfg.NodeID, ttl).Int()
		if err != nil {
			return true, fmt.Errorf("acquire lease of %s: %w", objectID, err)
		}
		if got != 1 {
			return true, nil
		}
		vals, err := n.rdb.HMGet(ctx, state, "pos", "seq").Result()
		if err != nil {
			return true, fmt.Errorf("read state of %s: %w", objectID, err)
		}
		st.pos, st.seq, st.recent = "0-0", 0, nil
		if s, ok := vals[0].(string); ok {
			st.pos = s
		}
		if s, ok := vals[1].(string); ok {
			if st.seq, err = strconv.ParseUint(s, 10, 64); err != nil {
				return true, fmt.Errorf("state of %s: bad seq %q", objectID, s)
			}
		}
		if st.epoch, err = n.epoch(ctx, objectID); err != nil {
			return true, err
		}
		n.setLeader(st, true)
		n.stats.takeovers.Add(1)
		n.log.Info("leading room", "objectId", objectID, "seq", st.seq, "pos", st.pos, "epoch", st.epoch)
	}

	pipe := n.rdb.Pipeline()
	setCmd := pipe.HMGet(ctx, n.key(objectID, "settings"), "tickMs", "maxPerTick")
	timeCmd := pipe.Time(ctx)
	rangeCmd := pipe.XRangeN(ctx, n.key(objectID, "in"), "("+st.pos, "+", maxRead)
	delCmd := pipe.SMembers(ctx, n.key(objectID, "deleted"))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return true, fmt.Errorf("read input of %s: %w", objectID, err)
	}
	now := timeCmd.Val()
	cfg := sharedConfig(n.hub.RoomConfig(objectID), setCmd.Val())
	st.tick = cfg.TickInterval
	entries := rangeCmd.Val()
	deleted := make(map[string]bool, len(delCmd.Val()))
	for _, id := range delCmd.Val() {
		deleted[id] = true
	}
	t := tick{interval: cfg.TickInterval.Milliseconds(), max: cfg.MaxPerTick, seq: st.seq}
	used := t.merge(entries, now.UnixMilli(), deleted, n.log)
	newPos := st.pos
	if used > 0 {
		newPos = entries[used-1].ID
	}
	args := []any{n.cfg.NodeID, ttl, st.pos, strconv.FormatUint(st.seq, 10), newPos, strconv.FormatUint(t.seq, 10), n.cfg.OutputMaxLen,
		trimID(now, n.cfg.History, st.keepID(len(t.batches))), st.epoch}
	for _, b := range t.batches {
		args = append(args, b.Payload, b.Seq)
	}
	out, err := sc.commit.Run(ctx, n.rdb, []string{lease, state, n.key(objectID, "out")}, args...).Slice()
	if err != nil {
		return true, fmt.Errorf("commit tick of %s: %w", objectID, err)
	}
	res, _ := out[0].(int64)
	switch res {
	case 1:
		st.pos, st.seq = newPos, t.seq
		for _, id := range out[1:] {
			if s, ok := id.(string); ok {
				st.recent = append(st.recent, s)
			}
		}
		if k := len(st.recent) - live.RingSize; k > 0 {
			st.recent = slices.Delete(st.recent, 0, k)
		}
		t.count(&n.stats)
		return used == len(entries) && len(entries) < maxRead, nil
	case 0:
		n.loseLead(st, &n.stats.lostLease)
		n.log.Warn("lost the lease of a room", "objectId", objectID)
	default:
		n.loseLead(st, &n.stats.lostState)
		n.log.Warn("room state moved under its leader; reloading", "objectId", objectID)
	}
	return true, nil
}

// trimID returns the output stream id before which a commit trims the
// stream: the start of the history window, or keep, the id of the oldest
// batch that must stay, if that is older. It is empty, trimming nothing by
// id, when keep is unknown (the output stream's length bound still
// applies).
func trimID(now time.Time, window time.Duration, keep string) string {
	if keep == "" {
		return ""
	}
	cutoff := now.Add(-window).UnixMilli()
	if ms, err := entryMillis(keep); err == nil && ms < cutoff {
		return keep
	}
	return strconv.FormatInt(cutoff, 10) + "-0"
}

// keepID returns the id of the oldest of the last live.RingSize batches
// once a commit appended added more, or "" while the leader does not know
// it. With added ≥ live.RingSize it keeps a few more.
func (st *leaderState) keepID(added int) string {
	if len(st.recent) < live.RingSize {
		return ""
	}
	return st.recent[min(added, live.RingSize-1)]
}

// boundaryMargin is how long after an interval's end a leader merges it,
// for the clocks of Redis and the node to agree that it has ended.
const boundaryMargin = 15 * time.Millisecond

// untilBoundary returns the time from now to the end of the current tick
// interval (intervals are counted from the Unix epoch).
func untilBoundary(now time.Time, tick time.Duration) time.Duration {
	ms := tick.Milliseconds()
	if ms <= 0 {
		return tick
	}
	next := (now.UnixMilli()/ms + 1) * ms
	return time.Duration(next-now.UnixMilli()) * time.Millisecond
}

// tick merges input entries into batches.
type tick struct {
	interval int64 // Tick interval, ms.
	max      int   // Items per batch.
	seq      uint64
	batches  []danmaku.Batch

	// What the merge folded, left out and could not decode, counted once
	// the batches are committed.
	folded, droppedByCap, droppedPending, bad int
}

// count adds a committed tick's figures to the node's counters.
func (t *tick) count(c *counters) {
	c.batches.Add(uint64(len(t.batches)))
	c.folded.Add(uint64(t.folded))
	c.droppedByCap.Add(uint64(t.droppedByCap))
	c.droppedPending.Add(uint64(t.droppedPending))
	c.badInput.Add(uint64(t.bad))
}

// merge turns the entries of every complete tick interval (before the
// one holding nowMs) into one batch per interval, numbering them from
// t.seq+1. It returns how many entries it consumed: a prefix of entries.
func (t *tick) merge(entries []goredis.XMessage, nowMs int64, deleted map[string]bool, log interface {
	Error(string, ...any)
}) int {
	cur := nowMs / t.interval
	used := 0
	var idx int64 = -1
	var buf *live.TickBuffer
	flush := func() {
		sel := buf.Choose()
		buf = nil
		t.folded += sel.Folded
		t.droppedByCap += sel.DroppedByCap
		t.droppedPending += sel.DroppedPending
		if len(sel.Items) == 0 {
			return
		}
		payload, err := live.EncodeBatch(t.seq+1, (idx+1)*t.interval, sel.Items)
		if err != nil {
			log.Error("encode batch", "err", err)
			return
		}
		t.seq++
		t.batches = append(t.batches, danmaku.Batch{Seq: t.seq, Payload: payload})
	}
	for _, e := range entries {
		ms, err := entryMillis(e.ID)
		if err != nil {
			log.Error("bad input entry id", "id", e.ID, "err", err)
			t.bad++
			used++
			continue
		}
		i := ms / t.interval
		if i >= cur {
			break
		}
		if i != idx && buf != nil {
			flush()
		}
		idx = i
		used++
		d, prio, err := decodeInput(e)
		if err != nil {
			log.Error("bad input entry", "id", e.ID, "err", err)
			t.bad++
			continue
		}
		if deleted[d.ID.String()] {
			continue
		}
		if buf == nil {
			buf = live.NewTickBuffer(t.max)
		}
		buf.Add(d, prio)
	}
	if buf != nil {
		flush()
	}
	return used
}

// entryMillis returns the Unix milliseconds of a stream entry id "ms-n".
func entryMillis(id string) (int64, error) {
	ms, _, _ := strings.Cut(id, "-")
	return strconv.ParseInt(ms, 10, 64)
}

// decodeInput decodes an input entry: fields d (danmaku JSON) and p
// ("1" for priority).
func decodeInput(e goredis.XMessage) (*danmaku.Danmaku, bool, error) {
	s, ok := e.Values["d"].(string)
	if !ok {
		return nil, false, errors.New("no danmaku field")
	}
	var d danmaku.Danmaku
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, false, fmt.Errorf("decode danmaku: %w", err)
	}
	return &d, e.Values["p"] == "1", nil
}
