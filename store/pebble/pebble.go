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
// of 20 makes cheap). A shadowed danmaku (shown to its author and
// moderators only) also has an empty entry under
//
//	's' | uvarint(len(objectId)) | objectId | id (22 bytes, big-endian)
//
// so that CountByTime and LastTime, which read keys alone, can leave it
// out as every other public read does (the first Open of a store written
// before this index builds it, shadowindex.go). Records are in a compact binary form (codec.go);
// idempotency keys live under 'k' (idempotency.go), the arrival fence
// under 'm' (fence.go), and room settings, bans and word lists
// (danmaku.SettingsStore) under 'c' (settings.go).
//
// Durability: every write commits its batch with pebble.Sync, so a danmaku
// is acknowledged only after its write-ahead-log record is fsynced. Puts
// commit concurrently and Pebble's commit pipeline gives all the batches
// waiting on the log one write and one fsync (group commit): under load a
// sync carries many danmaku, and an idle store adds no waiting.
//
// A danmaku is never overwritten. Each writer claims the video key it
// writes in an in-memory set before it checks that the key is absent from
// the database and keeps the claim until its commit is visible, so two
// writers of one key cannot both pass the check. The check is a point
// lookup that the bloom filters make cheap, and most puts skip it: the
// arrival fence (fence.go) proves their key absent.
//
// The store is also the live rooms' danmaku.BatchLog: their recent batches
// and deletions live under 'b' and 'd', its epoch under 'e' (batchlog.go).
package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
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

// blockCacheBytes is the memory for cached table blocks (indexes, bloom
// filters and data).
const blockCacheBytes = 64 << 20

// memTableBytes is the size of each memtable. Larger memtables mean fewer
// flushes and fewer level-0 tables for compactions to merge under a steady
// stream of small writes.
const memTableBytes = 16 << 20

// cacheBytes is the size given to Pebble's cache. Pebble reserves the
// memory of its memtables from the cache (the one being written, one being
// flushed and one kept for reuse), so the cache must hold them besides the
// blocks: a cache of blockCacheBytes alone would be left with no room for
// blocks, and every read would go to the disk.
const cacheBytes = blockCacheBytes + 3*memTableBytes

// Store is a danmaku.Store on a Pebble database in one directory. Only one
// process may open a directory at a time (Pebble locks it).
type Store struct {
	db *pebble.DB
	// settingsMu makes a settings delete's check and delete one step.
	settingsMu sync.Mutex
	// mu guards the fields below it.
	mu sync.Mutex
	// writing holds the video keys that a writer has claimed: checked and
	// not yet committed, or being deleted.
	writing map[string]struct{}
	closed  bool
	// fence, openFence and maxClaimed are the arrival fence (fence.go):
	// the fence on disk, the fence read at Open, and the greatest arrival
	// claimed by a writer since Open.
	fence, openFence int64
	maxClaimed       arrival
	// epoch is the batch log's epoch (batchlog.go).
	epoch string
	// inflight counts the writers between claim and release, which Close
	// waits for.
	inflight sync.WaitGroup
}

// errClosed is returned by writes after Close.
var errClosed = errors.New("pebble store is closed")

// Options are the optional settings of a Store.
type Options struct {
	Log *slog.Logger // Receives Pebble's own messages; nil discards them.
}

// Open opens or creates the store in dir. opts may be nil for the
// defaults.
func Open(dir string, opts *Options) (*Store, error) {
	log := slog.New(slog.DiscardHandler)
	if opts != nil && opts.Log != nil {
		log = opts.Log
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref() // The DB holds its own reference.
	po := &pebble.Options{
		Logger:             pebbleLogger{log},
		FormatMajorVersion: pebble.FormatNewest,
		Cache:              cache,
		MemTableSize:       memTableBytes,
	}
	// Bloom filters let the existence check of every Put skip tables that
	// cannot hold the new key; the other levels inherit L0's policy.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	fence, err := loadFence(db)
	if err == nil {
		err = buildShadowIndex(db)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	epoch, err := loadEpoch(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	return &Store{db: db, writing: make(map[string]struct{}), fence: fence, openFence: fence, epoch: epoch}, nil
}

// Close refuses new writes, waits for those in flight, then flushes and
// closes the database. Closing a closed store does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	s.inflight.Wait()
	if err := s.db.Flush(); err != nil {
		_ = s.db.Close()
		return fmt.Errorf("flush pebble store: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close pebble store: %w", err)
	}
	return nil
}

// claim marks the video keys vks as being written (or deleted) and returns,
// for each, whether this caller got it (false: another writer holds it).
// For a write, arrivals holds each key's arrival: claim moves the fence past
// them and reports, in fresh, the keys that cannot be in the database (see
// fence.go). It returns errClosed after Close. A caller that got any key
// must call release with what claim returned.
func (s *Store) claim(vks [][]byte, arrivals []arrival) (got, fresh []bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errClosed
	}
	if arrivals != nil {
		last := int64(0)
		for _, a := range arrivals {
			last = max(last, a.unixMs)
		}
		if err := s.passFence(last); err != nil {
			return nil, nil, err
		}
	}
	got, fresh = make([]bool, len(vks)), make([]bool, len(vks))
	held := false
	for i, vk := range vks {
		if _, busy := s.writing[string(vk)]; busy {
			continue
		}
		s.writing[string(vk)] = struct{}{}
		got[i], held = true, true
		if arrivals == nil {
			continue
		}
		a := arrivals[i]
		if a.unixMs > s.openFence && a.after(s.maxClaimed) {
			fresh[i] = true
		}
		if a.after(s.maxClaimed) {
			s.maxClaimed = a
		}
	}
	if held {
		s.inflight.Add(1)
	}
	return got, fresh, nil
}

// release ends the claims of one claim call on the keys it got.
func (s *Store) release(vks [][]byte, got []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := false
	for i, vk := range vks {
		if got[i] {
			delete(s.writing, string(vk))
			held = true
		}
	}
	if held {
		s.inflight.Done()
	}
}

// exists reports whether the database holds key.
func (s *Store) exists(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_ = closer.Close()
	return true, nil
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

// shadowKey is the key of a shadowed danmaku's entry in its video's shadow
// index.
func shadowKey(objectID string, id danmaku.ID) []byte {
	return id.AppendBytes(prefix('s', objectID))
}

// setRecord adds d's record, user index entry and, when d is shadowed, its
// shadow index entry, and when it was sent in a live session, its session
// index entry to b.
func setRecord(b *pebble.Batch, vk []byte, d *danmaku.Danmaku) error {
	if err := b.Set(vk, encode(d), nil); err != nil {
		return fmt.Errorf("batch danmaku %s: %w", d.ID, err)
	}
	if err := b.Set(userKey(d.UserID, d.ID), []byte(d.ObjectID), nil); err != nil {
		return fmt.Errorf("batch user index %s: %w", d.ID, err)
	}
	if d.Shadow {
		if err := b.Set(shadowKey(d.ObjectID, d.ID), nil, nil); err != nil {
			return fmt.Errorf("batch shadow index %s: %w", d.ID, err)
		}
	}
	if d.Session != "" {
		if err := b.Set(sessionIndexKey(d.ObjectID, d.Session, d.ID), nil, nil); err != nil {
			return fmt.Errorf("batch session index %s: %w", d.ID, err)
		}
	}
	return nil
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

// Compact compacts the whole store into its final level, as Pebble's
// background compactions would in time: after a bulk load it takes the
// compaction debt at once, so that reads do not share the machine with it
// afterwards.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("compact pebble store: %w", err)
	}
	return nil
}

// Put stores d durably, or returns danmaku.ErrConflict if its key exists
// or is being written.
func (s *Store) Put(ctx context.Context, d *danmaku.Danmaku) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	vk := videoKey(d.ObjectID, d.ID)
	vks := [][]byte{vk}
	got, fresh, err := s.claim(vks, []arrival{arrivalOf(d.ID)})
	if err != nil {
		return err
	}
	if !got[0] {
		return danmaku.ErrConflict
	}
	defer s.release(vks, got)
	// From here the put is committed or refused whatever the context does,
	// so that the answer is always the truth about the store.
	if !fresh[0] {
		found, err := s.exists(vk)
		if err != nil {
			return fmt.Errorf("check danmaku %s: %w", d.ID, err)
		}
		if found {
			return danmaku.ErrConflict
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := setRecord(b, vk, d); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store danmaku %s: %w", d.ID, err)
	}
	return nil
}

// PutBatch stores many danmaku in one durable commit, for imports and bulk
// loads. Danmaku whose id already exists (or is being written) are
// skipped, never overwritten; it returns how many were stored.
func (s *Store) PutBatch(ctx context.Context, ds []*danmaku.Danmaku) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	vks, arrivals := make([][]byte, len(ds)), make([]arrival, len(ds))
	for i, d := range ds {
		vks[i], arrivals[i] = videoKey(d.ObjectID, d.ID), arrivalOf(d.ID)
	}
	got, fresh, err := s.claim(vks, arrivals)
	if err != nil {
		return 0, err
	}
	defer s.release(vks, got)
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for i, d := range ds {
		if !got[i] {
			continue // Held by another writer, or repeated in ds.
		}
		if !fresh[i] {
			found, err := s.exists(vks[i])
			if err != nil {
				return 0, fmt.Errorf("check danmaku %s: %w", d.ID, err)
			}
			if found {
				continue
			}
		}
		if err := setRecord(b, vks[i], d); err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 {
		return 0, nil
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
	return decode(objectID, id, val)
}

// Delete removes one danmaku and its user index entry, durably. A danmaku
// still being written is not found.
func (s *Store) Delete(ctx context.Context, objectID string, id danmaku.ID) (*danmaku.Danmaku, error) {
	vks := [][]byte{videoKey(objectID, id)}
	got, _, err := s.claim(vks, nil)
	if err != nil {
		return nil, err
	}
	if !got[0] {
		return nil, danmaku.ErrNotFound
	}
	defer s.release(vks, got)
	d, err := s.Get(ctx, objectID, id)
	if err != nil {
		return nil, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(vks[0], nil); err != nil {
		return nil, fmt.Errorf("batch delete %s: %w", id, err)
	}
	if err := b.Delete(userKey(d.UserID, d.ID), nil); err != nil {
		return nil, fmt.Errorf("batch delete user index %s: %w", id, err)
	}
	if d.Shadow {
		if err := b.Delete(shadowKey(objectID, id), nil); err != nil {
			return nil, fmt.Errorf("batch delete shadow index %s: %w", id, err)
		}
	}
	if d.Session != "" {
		if err := b.Delete(sessionIndexKey(objectID, d.Session, id), nil); err != nil {
			return nil, fmt.Errorf("batch delete session index %s: %w", id, err)
		}
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
	return collect(ctx, it, it.SeekGE(videoKey(q.ObjectID, q.Start)), it.Next, q.Limit, func(key, val []byte) (*danmaku.Danmaku, error) {
		id, err := danmaku.IDFromBytes(key[len(p):])
		if err != nil {
			return nil, fmt.Errorf("video key: %w", err)
		}
		return decode(q.ObjectID, id, val)
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
// keys alone, without decoding any record. Shadowed danmaku are not
// counted: their entries in the shadow index are taken off again.
func (s *Store) CountByTime(ctx context.Context, objectID string, bucket danmaku.Time, counts []int) error {
	if bucket <= 0 || len(counts) == 0 {
		return fmt.Errorf("count by time: bucket and counts must be positive")
	}
	for _, c := range []struct {
		kind byte
		add  int
	}{{'v', 1}, {'s', -1}} {
		if err := s.countKeys(ctx, prefix(c.kind, objectID), bucket, counts, c.add); err != nil {
			return fmt.Errorf("count %s: %w", objectID, err)
		}
	}
	return nil
}

// countKeys adds add to the bucket of every key under p, whose id starts
// with its playback time.
func (s *Store) countKeys(ctx context.Context, p []byte, bucket danmaku.Time, counts []int, add int) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return err
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
		counts[i] += add
	}
	return it.Error()
}

// LastTime returns the playback time of a video's last danmaku that is not
// shadowed. It walks the video's keys and its shadow index back from the
// end together, skipping the ids that both hold.
func (s *Store) LastTime(ctx context.Context, objectID string) (danmaku.Time, error) {
	vp, sp := prefix('v', objectID), prefix('s', objectID)
	vit, err := s.db.NewIter(&pebble.IterOptions{LowerBound: vp, UpperBound: upperBound(vp)})
	if err != nil {
		return 0, fmt.Errorf("last of %s: %w", objectID, err)
	}
	defer vit.Close()
	sit, err := s.db.NewIter(&pebble.IterOptions{LowerBound: sp, UpperBound: upperBound(sp)})
	if err != nil {
		return 0, fmt.Errorf("last of %s: %w", objectID, err)
	}
	defer sit.Close()
	vok, sok := vit.Last(), sit.Last()
	for n := 0; vok; n++ {
		if n%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		id := vit.Key()[len(vp):]
		for sok && bytes.Compare(sit.Key()[len(sp):], id) > 0 {
			sok = sit.Prev() // An entry left without its record.
		}
		if !sok || !bytes.Equal(sit.Key()[len(sp):], id) {
			return danmaku.Time(binary.BigEndian.Uint64(id[:8])), nil
		}
		vok, sok = vit.Prev(), sit.Prev()
	}
	if err := errors.Join(vit.Error(), sit.Error()); err != nil {
		return 0, fmt.Errorf("last of %s: %w", objectID, err)
	}
	return 0, danmaku.ErrNotFound
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
