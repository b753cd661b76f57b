package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/danmakud/danmakud/moderation"
)

// Words is the moderation.WordList shared through Redis. Each list (the
// global one, and each room's) is a Redis hash of canonical word → rule
// JSON; a set lists the rooms that have a list and a counter is bumped on
// every edit. Check reads a local moderation.Filter, rebuilt for the
// changed list on every node when an edit is announced, and fully
// reloaded every ReloadEvery when the counter moved.
type Words struct {
	client redis.UniversalClient
	opts   Options
	local  *moderation.Filter
	w      *watcher

	mu      sync.Mutex // Serialises reloads of the local copy.
	version int64      // Counter value of the last full reload; -1 forces one.
}

var _ moderation.WordList = (*Words)(nil)

// addWordsScript: KEYS[1] the rooms set, KEYS[2] the version counter;
// ARGV[1] channel, then triples of list key, room, canonical word and
// rule JSON (four values per rule). It announces each changed list once.
var addWordsScript = redis.NewScript(`
local changed = {}
for i = 2, #ARGV, 4 do
  redis.call('HSET', ARGV[i], ARGV[i+2], ARGV[i+3])
  if ARGV[i+1] ~= '' then redis.call('SADD', KEYS[1], ARGV[i+1]) end
  changed[ARGV[i+1]] = true
end
redis.call('INCR', KEYS[2])
for room in pairs(changed) do redis.call('PUBLISH', ARGV[1], room) end
return 1
`)

// removeWordScript: KEYS[1] the list, KEYS[2] the rooms set, KEYS[3] the
// version counter; ARGV[1] canonical word, ARGV[2] room, ARGV[3] channel.
var removeWordScript = redis.NewScript(`
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if n > 0 then
  if ARGV[2] ~= '' and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], ARGV[2])
  end
  redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[3], ARGV[2])
end
return n
`)

// dumpWordsScript returns the version, then room and rule JSON pairs of
// every list, in one atomic read. KEYS[1] the global list, KEYS[2] the
// rooms set, KEYS[3] the version; ARGV[1] the room list key prefix.
var dumpWordsScript = redis.NewScript(`
local out = {redis.call('GET', KEYS[3]) or '0'}
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  out[#out+1] = ''
  out[#out+1] = v
end
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  for _, v in ipairs(redis.call('HVALS', ARGV[1] .. room)) do
    out[#out+1] = room
    out[#out+1] = v
  end
end
return out
`)

// NewWords returns shared word lists over client and starts the goroutine
// that keeps the local copy fresh; call Close to stop it. It does not wait
// for Redis: call Sync to load the lists at once.
func NewWords(client redis.UniversalClient, opts Options) *Words {
	ws := &Words{client: client, opts: opts.withDefaults(), local: moderation.NewFilterWith(opts.Normalizer), version: -1}
	ws.w = startWatcher(client, ws.channel(), ws.opts, ws.onMessage, ws.reload)
	return ws
}

func (ws *Words) channel() string    { return ws.opts.Prefix + "words:changed" }
func (ws *Words) roomsKey() string   { return ws.opts.Prefix + "words:rooms" }
func (ws *Words) versionKey() string { return ws.opts.Prefix + "words:version" }
func (ws *Words) roomPrefix() string { return ws.opts.Prefix + "words:room:" }

func (ws *Words) listKey(room string) string {
	if room == "" {
		return ws.opts.Prefix + "words:global"
	}
	return ws.roomPrefix() + room
}

// Close stops the goroutine started by NewWords. It does not close client.
func (ws *Words) Close() error { return ws.w.close() }

// Check implements moderation.WordList from the local copy.
func (ws *Words) Check(room, text string) moderation.Verdict { return ws.local.Check(room, text) }

// List implements moderation.WordList from the local copy.
func (ws *Words) List(room string) []moderation.Rule { return ws.local.List(room) }

// Add implements moderation.WordList. It returns an EINVALID
// *danmaku.Error for a bad rule and an EUNAVAILABLE one when Redis cannot
// be reached; in both cases nothing is added.
func (ws *Words) Add(rules ...moderation.Rule) error {
	if len(rules) == 0 {
		return nil
	}
	rules = slices.Clone(rules)
	args := make([]any, 0, 1+4*len(rules))
	args = append(args, ws.channel())
	for i, r := range rules {
		r.Word = strings.TrimSpace(r.Word)
		rules[i] = r
		w, err := moderation.CanonicalRule(r)
		if err != nil {
			return err
		}
		body, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode rule: %w", err)
		}
		args = append(args, ws.listKey(r.Room), r.Room, w, string(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), ws.opts.Timeout)
	defer cancel()
	if err := addWordsScript.Run(ctx, ws.client, []string{ws.roomsKey(), ws.versionKey()}, args...).Err(); err != nil {
		return ws.opts.unavailable("add words", err)
	}
	// Apply at once on this node, so that the next send here sees it.
	return ws.local.Add(rules...)
}

// Remove implements moderation.WordList. It returns an EUNAVAILABLE
// *danmaku.Error when Redis cannot be reached.
func (ws *Words) Remove(room, word string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ws.opts.Timeout)
	defer cancel()
	n, err := removeWordScript.Run(ctx, ws.client, []string{ws.listKey(room), ws.roomsKey(), ws.versionKey()},
		moderation.NormalizeString(word), room, ws.channel()).Int()
	if err != nil {
		return false, ws.opts.unavailable("remove word", err)
	}
	if _, err := ws.local.Remove(room, word); err != nil {
		return false, fmt.Errorf("remove word locally: %w", err)
	}
	return n > 0, nil
}

// Sync reloads every list from Redis into the local copy.
func (ws *Words) Sync(ctx context.Context) error {
	ws.mu.Lock()
	ws.version = -1
	ws.mu.Unlock()
	return ws.reload(ctx)
}

// reload rebuilds the local copy from Redis when the version counter moved
// since the last reload.
func (ws *Words) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ws.opts.Timeout)
	defer cancel()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.version >= 0 {
		v, err := ws.client.Get(ctx, ws.versionKey()).Int64()
		if errors.Is(err, redis.Nil) {
			v, err = 0, nil
		}
		if err != nil {
			return fmt.Errorf("load word list version: %w", err)
		}
		if v == ws.version {
			return nil
		}
	}
	vals, err := dumpWordsScript.Run(ctx, ws.client, []string{ws.listKey(""), ws.roomsKey(), ws.versionKey()}, ws.roomPrefix()).StringSlice()
	if err != nil {
		return fmt.Errorf("load word lists: %w", err)
	}
	var version int64
	if _, err := fmt.Sscan(vals[0], &version); err != nil {
		return fmt.Errorf("word list version %q: %w", vals[0], err)
	}
	lists := map[string][]moderation.Rule{"": nil}
	for i := 1; i+1 < len(vals); i += 2 {
		r, err := decodeRule(vals[i], vals[i+1])
		if err != nil {
			ws.opts.Log.Warn("moderation: skipping a bad word rule in redis", "err", err)
			continue
		}
		lists[r.Room] = append(lists[r.Room], r)
	}
	for _, room := range ws.local.Rooms() {
		if _, ok := lists[room]; !ok {
			lists[room] = nil
		}
	}
	for _, room := range slices.Sorted(maps.Keys(lists)) {
		if err := ws.replace(room, lists[room]); err != nil {
			return err
		}
	}
	ws.version = version
	return nil
}

// replace swaps in the rules of one list, skipping the rebuild when they
// are unchanged.
func (ws *Words) replace(room string, rules []moderation.Rule) error {
	old := ws.local.List(room)
	if len(old) == len(rules) {
		same := true
		have := make(map[moderation.Rule]bool, len(old))
		for _, r := range old {
			have[r] = true
		}
		for _, r := range rules {
			if !have[r] {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	if err := ws.local.Replace(room, rules); err != nil {
		return fmt.Errorf("word list of %q: %w", room, err)
	}
	return nil
}

// onMessage reloads the list named by a notification.
func (ws *Words) onMessage(ctx context.Context, room string) {
	if err := ws.syncList(ctx, room); err != nil {
		ws.opts.Log.Warn("moderation: reload of a word list failed", "room", room, "err", err)
	}
}

func (ws *Words) syncList(ctx context.Context, room string) error {
	ctx, cancel := context.WithTimeout(ctx, ws.opts.Timeout)
	defer cancel()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	vals, err := ws.client.HVals(ctx, ws.listKey(room)).Result()
	if err != nil {
		return fmt.Errorf("load word list of %q: %w", room, err)
	}
	rules := make([]moderation.Rule, 0, len(vals))
	for _, v := range vals {
		r, err := decodeRule(room, v)
		if err != nil {
			continue
		}
		rules = append(rules, r)
	}
	return ws.replace(room, rules)
}

func decodeRule(room, v string) (moderation.Rule, error) {
	var r moderation.Rule
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return r, fmt.Errorf("decode word rule: %w", err)
	}
	if r.Room != room {
		return r, fmt.Errorf("word rule for room %q found in the list of %q", r.Room, room)
	}
	if _, err := moderation.CanonicalRule(r); err != nil {
		return r, fmt.Errorf("word rule %q: %w", r.Word, err)
	}
	return r, nil
}
