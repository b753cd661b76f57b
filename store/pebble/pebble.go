// Package pebble implements danmaku.Store on Pebble, an embedded
// log-structured key-value store, so that a single danmakud binary needs no
// database server.
//
// The keys mirror the seed's DynamoDB table. A video's danmaku live under
//
//	'v' | uvarint(len(objectId)) | objectId | id (22 bytes, big-endian)
//
// so that one video is one contiguous range sorted by id, like a DynamoDB
// partition sorted by its range key; the per-user index (the seed's
// userId_id, ordered here by arrival so that "newest first" is a reverse
// scan) lives under
//
//	'u' | uvarint(len(userId)) | userId | arrival key (22 bytes)
//
// with the video's id as its value: a pointer to the record, so that every
// danmaku is written once (the index is read by point lookups, which a page
// of 20 makes cheap).
//
// Durability: every Put and Delete commits its batch with pebble.Sync, so a
// danmaku is acknowledged only after its write-ahead-log record is fsynced.
// Puts go through one committer goroutine that takes every Put waiting when
// it is free, checks that none overwrites a stored danmaku, and writes them
// all in one batch with one WAL write and one fsync (group commit): under
// load a commit carries many danmaku, and an idle store adds no waiting.
package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	danmaku "github.com/danmakud/danmakud"
)

var (
	_ danmaku.Store       = (*Store)(nil)
	_ danmaku.BatchPutter = (*Store)(nil)
	_ danmaku.TimeCounter = (*Store)(nil)
)

// cacheBytes is the size of the block cache.
const cacheBytes = 64 << 20

// maxGroup bounds the puts that one commit carries.
const maxGroup = 512

// Store is a danmaku.Store on a Pebble database in one directory. Only one
// process may open a directory at a time (Pebble locks it).
type Store struct {
	db *pebble.DB
	// writeMu serialises the existence checks and commits of writers (the
	// committer, PutBatch and Delete), so that no two write the same key.
	writeMu sync.Mutex
	puts    chan putRequest
	quit    chan struct{}
	done    chan struct{}
}

// putRequest is one Put waiting for the committer.
type putRequest struct {
	vk, uk, val []byte
	objectID    string
	result      chan error
}

// Open opens or creates the store in dir. log may be nil to discard
// Pebble's own messages.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref() // The DB holds its own reference.
	opts := &pebble.Options{
		Logger:             pebbleLogger{log},
		FormatMajorVersion: pebble.FormatNewest,
		Cache:              cache,
	}
	// Bloom filters let the existence check of every Put skip tables that
	// cannot hold the new key; the other levels inherit L0's policy.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	s := &Store{db: db, puts: make(chan putRequest, maxGroup), quit: make(chan struct{}), done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// Close stops the committer (callers must not Put during Close), then
// flushes and closes the database.
func (s *Store) Close() error {
	close(s.quit)
	<-s.done
	if err := s.db.Flush(); err != nil {
		_ = s.db.Close()
		return fmt.Errorf("flush pebble store: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close pebble store: %w", err)
	}
	return nil
}

func prefix(kind byte, name string) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(name)+danmaku.IDLen)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

func videoKey(objectID string, id danmaku.ID) []byte {
	return id.AppendBytes(prefix('v', objectID))
}

func userKey(userID string, id danmaku.ID) []byte {
	return append(prefix('u', userID), id.ArrivalBytes()...)
}

// upperBound returns the smallest key greater than every key starting with p.
func upperBound(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Put stores d durably, or returns danmaku.ErrConflict if its key exists.
func (s *Store) Put(ctx context.Context, d *danmaku.Danmaku) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stored := *d
	stored.Count = 0
	val, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("encode danmaku %s: %w", d.ID, err)
	}
	r := putRequest{vk: videoKey(d.ObjectID, d.ID), uk: userKey(d.UserID, d.ID), val: val, objectID: d.ObjectID, result: make(chan error, 1)}
	select {
	case s.puts <- r:
	case <-s.quit:
		return errors.New("pebble store is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the put is committed or refused whatever the context
	// does, so the answer is always the truth about the store.
	if err := <-r.result; err != nil {
		return fmt.Errorf("store danmaku %s: %w", d.ID, err)
	}
	return nil
}

// commitLoop is the committer: it writes the puts waiting, in groups.
func (s *Store) commitLoop() {
	defer close(s.done)
	group := make([]putRequest, 0, maxGroup)
	for {
		select {
		case r := <-s.puts:
			group = append(group[:0], r)
		drain:
			for len(group) < maxGroup {
				select {
				case r := <-s.puts:
					group = append(group, r)
				default:
					break drain
				}
			}
			s.commitGroup(group)
		case <-s.quit:
			return
		}
	}
}

// commitGroup writes a group of puts in one synced batch, refusing those
// whose key exists (or repeats within the group) with ErrConflict.
func (s *Store) commitGroup(group []putRequest) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	results := make([]error, len(group))
	seen := make(map[string]bool, len(group))
	written := 0
	// One iterator answers every existence check of the group: cheaper
	// than a Get each, which builds its own view of every level.
	it, err := s.db.NewIter(nil)
	if err != nil {
		for _, r := range group {
			r.result <- fmt.Errorf("check existence: %w", err)
		}
		return
	}
	defer it.Close()
	for i, r := range group {
		if seen[string(r.vk)] {
			results[i] = danmaku.ErrConflict
			continue
		}
		seen[string(r.vk)] = true
		if it.SeekGE(r.vk) && bytes.Equal(it.Key(), r.vk) {
			results[i] = danmaku.ErrConflict
			continue
		}
		if err := it.Error(); err != nil {
			results[i] = fmt.Errorf("check existence: %w", err)
			continue
		}
		if err := b.Set(r.vk, r.val, nil); err != nil {
			results[i] = fmt.Errorf("batch: %w", err)
			continue
		}
		if err := b.Set(r.uk, []byte(r.objectID), nil); err != nil {
			results[i] = fmt.Errorf("batch user index: %w", err)
			continue
		}
		written++
	}
	var commitErr error
	if written > 0 {
		commitErr = b.Commit(pebble.Sync)
	}
	for i, r := range group {
		if results[i] == nil && commitErr != nil {
			results[i] = fmt.Errorf("commit: %w", commitErr)
		}
		r.result <- results[i]
	}
}

// PutBatch stores many danmaku in one durable commit, for imports and bulk
// loads. Danmaku whose id already exists are skipped, never overwritten;
// it returns how many were stored.
func (s *Store) PutBatch(ctx context.Context, ds []*danmaku.Danmaku) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	seen := make(map[string]bool, len(ds))
	for _, d := range ds {
		vk := videoKey(d.ObjectID, d.ID)
		if seen[string(vk)] {
			continue
		}
		seen[string(vk)] = true
		_, closer, err := s.db.Get(vk)
		if err == nil {
			_ = closer.Close()
			continue
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return 0, fmt.Errorf("check danmaku %s: %w", d.ID, err)
		}
		stored := *d
		stored.Count = 0
		val, err := json.Marshal(&stored)
		if err != nil {
			return 0, fmt.Errorf("encode danmaku %s: %w", d.ID, err)
		}
		if err := b.Set(vk, val, nil); err != nil {
			return 0, fmt.Errorf("batch danmaku %s: %w", d.ID, err)
		}
		if err := b.Set(userKey(d.UserID, d.ID), []byte(d.ObjectID), nil); err != nil {
			return 0, fmt.Errorf("batch user index %s: %w", d.ID, err)
		}
		n++
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("commit %d danmaku: %w", n, err)
	}
	return n, nil
}

// Get returns one danmaku or danmaku.ErrNotFound.
func (s *Store) Get(ctx context.Context, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	val, closer, err := s.db.Get(videoKey(objectID, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, danmaku.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get danmaku %s: %w", id, err)
	}
	defer closer.Close()
	return decode(val)
}

// Delete removes one danmaku and its user index entry, durably.
func (s *Store) Delete(ctx context.Context, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	vk := videoKey(objectID, id)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	d, err := s.Get(ctx, objectID, id)
	if err != nil {
		return nil, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(vk, nil); err != nil {
		return nil, fmt.Errorf("batch delete %s: %w", id, err)
	}
	if err := b.Delete(userKey(d.UserID, d.ID), nil); err != nil {
		return nil, fmt.Errorf("batch delete user index %s: %w", id, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("commit delete %s: %w", id, err)
	}
	return d, nil
}

// List returns a page of one video's danmaku in id order from q.Start.
func (s *Store) List(ctx context.Context, q danmaku.Query) (danmaku.Page, error) {
	p := prefix('v', q.ObjectID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return danmaku.Page{}, fmt.Errorf("list %s: %w", q.ObjectID, err)
	}
	defer it.Close()
	return collect(ctx, it, it.SeekGE(videoKey(q.ObjectID, q.Start)), it.Next, q.Limit, func(_, val []byte) (*danmaku.Danmaku, error) {
		return decode(val)
	})
}

// ListByUser returns a page of a user's danmaku, newest first.
func (s *Store) ListByUser(ctx context.Context, q danmaku.UserQuery) (danmaku.Page, error) {
	p := prefix('u', q.UserID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return danmaku.Page{}, fmt.Errorf("list user: %w", err)
	}
	defer it.Close()
	var ok bool
	if q.Before.IsZero() {
		ok = it.Last()
	} else {
		ok = it.SeekLT(userKey(q.UserID, q.Before))
	}
	return collect(ctx, it, ok, it.Prev, q.Limit, func(key, val []byte) (*danmaku.Danmaku, error) {
		id, err := danmaku.IDFromArrivalBytes(key[len(p):])
		if err != nil {
			return nil, fmt.Errorf("user index key: %w", err)
		}
		return s.Get(ctx, string(val), id)
	})
}

// CountByTime counts a video's danmaku per playback-time bucket from the
// keys alone, without decoding any record.
func (s *Store) CountByTime(ctx context.Context, objectID string, bucket danmaku.Time, counts []int) error {
	if bucket <= 0 || len(counts) == 0 {
		return fmt.Errorf("count by time: bucket and counts must be positive")
	}
	p := prefix('v', objectID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return fmt.Errorf("count %s: %w", objectID, err)
	}
	defer it.Close()
	for ok, n := it.First(), 0; ok; ok, n = it.Next(), n+1 {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := it.Key()
		ms := int64(binary.BigEndian.Uint64(k[len(p) : len(p)+8]))
		i := min(int(ms/int64(bucket)), len(counts)-1)
		counts[i]++
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("count %s: %w", objectID, err)
	}
	return nil
}

// LastTime returns the playback time of a video's last danmaku.
func (s *Store) LastTime(ctx context.Context, objectID string) (danmaku.Time, error) {
	p := prefix('v', objectID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return 0, fmt.Errorf("last of %s: %w", objectID, err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return 0, fmt.Errorf("last of %s: %w", objectID, err)
		}
		return 0, danmaku.ErrNotFound
	}
	k := it.Key()
	return danmaku.Time(binary.BigEndian.Uint64(k[len(p) : len(p)+8])), nil
}

// collect reads up to limit records from it with read, starting at the
// current position (valid when ok), moving with step, and looks one further
// to know whether there is a next page.
func collect(ctx context.Context, it *pebble.Iterator, ok bool, step func() bool, limit int,
	read func(key, val []byte) (*danmaku.Danmaku, error)) (danmaku.Page, error) {
	limit = max(1, min(limit, danmaku.MaxPageSize))
	var page danmaku.Page
	for ; ok; ok = step() {
		if len(page.Items) == limit {
			page.More = true
			page.Next = page.Items[limit-1].ID
			break
		}
		if err := ctx.Err(); err != nil {
			return danmaku.Page{}, err
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return danmaku.Page{}, fmt.Errorf("read value: %w", err)
		}
		d, err := read(it.Key(), val)
		if err != nil {
			return danmaku.Page{}, err
		}
		page.Items = append(page.Items, d)
	}
	if err := it.Error(); err != nil {
		return danmaku.Page{}, fmt.Errorf("iterate: %w", err)
	}
	return page, nil
}

func decode(val []byte) (*danmaku.Danmaku, error) {
	d := new(danmaku.Danmaku)
	if err := json.Unmarshal(val, d); err != nil {
		return nil, fmt.Errorf("decode stored danmaku: %w", err)
	}
	return d, nil
}

// pebbleLogger routes Pebble's messages to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...)) // Pebble expects Fatalf not to return.
}
