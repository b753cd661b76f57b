package pebble

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.BatchLog = (*Store)(nil)

// The batch log (danmaku.BatchLog) keeps live rooms' recent batches under
//
//	'b' | uvarint(len(objectId)) | objectId | seq (8 bytes, big-endian)
//
// with uvarint(tick time in Unix ms) and the batch's JSON as the value,
// and the deletions of danmaku the batches may hold under
//
//	'd' | uvarint(len(objectId)) | objectId | Unix ms (8 bytes) | id
//
// Both are pruned by time (PruneBatches). The log's epoch lives under
// epochKey; a store without one (new, or wiped) makes a new one at Open.

// epochKey holds the batch log's epoch.
var epochKey = []byte("e/batch-log-epoch")

// loadEpoch returns the stored epoch, making and storing one if there is
// none.
func loadEpoch(db *pebble.DB) (string, error) {
	val, closer, err := db.Get(epochKey)
	if err == nil {
		defer closer.Close()
		return string(val), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return "", fmt.Errorf("read batch log epoch: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make batch log epoch: %w", err)
	}
	e := hex.EncodeToString(b[:])
	if err := db.Set(epochKey, []byte(e), pebble.Sync); err != nil {
		return "", fmt.Errorf("store batch log epoch: %w", err)
	}
	return e, nil
}

func batchKey(objectID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefix('b', objectID), seq)
}

func deletionKey(objectID string, atMs int64, id danmaku.ID) []byte {
	b := binary.BigEndian.AppendUint64(prefix('d', objectID), uint64(max(atMs, 0)))
	return id.AppendBytes(b)
}

// Epoch returns the batch log's epoch (see danmaku.BatchLog).
func (s *Store) Epoch() string { return s.epoch }

// AppendBatches stores batches and deletions in one synced write.
func (s *Store) AppendBatches(ctx context.Context, entries []danmaku.LogEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		at := e.At.UnixMilli()
		if e.Batch == nil {
			if err := b.Set(deletionKey(e.ObjectID, at, e.Deleted), nil, nil); err != nil {
				return fmt.Errorf("log deletion: %w", err)
			}
			continue
		}
		val := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(e.Batch.Payload)), uint64(max(at, 0)))
		val = append(val, e.Batch.Payload...)
		if err := b.Set(batchKey(e.ObjectID, e.Batch.Seq), val, nil); err != nil {
			return fmt.Errorf("log batch: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("log batches: %w", err)
	}
	return nil
}

// decodeLogged splits a logged batch's value.
func decodeLogged(key, val []byte) (seq uint64, atMs int64, payload []byte, err error) {
	if len(key) < 8 {
		return 0, 0, nil, fmt.Errorf("logged batch: %w", errCorrupt)
	}
	seq = binary.BigEndian.Uint64(key[len(key)-8:])
	at, n := binary.Uvarint(val)
	if n <= 0 {
		return 0, 0, nil, fmt.Errorf("logged batch %d: %w", seq, errCorrupt)
	}
	return seq, int64(at), append([]byte(nil), val[n:]...), nil
}

// LastBatches returns the room's last n logged batches, oldest first.
func (s *Store) LastBatches(ctx context.Context, objectID string, n int) ([]danmaku.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := prefix('b', objectID)
	out, err := s.scanBatches(p, upperBound(p), n, true)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// BatchesAfter returns the room's logged batches above since, oldest
// first, at most limit of them.
func (s *Store) BatchesAfter(ctx context.Context, objectID string, since uint64, limit int) ([]danmaku.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := prefix('b', objectID)
	start := batchKey(objectID, since+1)
	if since == ^uint64(0) {
		return nil, nil
	}
	return s.scanBatches(start, upperBound(p), limit, false)
}

// scanBatches reads at most n logged batches between lower and upper:
// from the last one backwards when backward is set, else from the first.
func (s *Store) scanBatches(lower, upper []byte, n int, backward bool) ([]danmaku.Batch, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("read logged batches: %w", err)
	}
	defer it.Close()
	first, next := it.First, it.Next
	if backward {
		first, next = it.Last, it.Prev
	}
	var out []danmaku.Batch
	for ok := first(); ok && len(out) < n; ok = next() {
		seq, _, payload, err := decodeLogged(it.Key(), it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, danmaku.Batch{Seq: seq, Payload: payload})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read logged batches: %w", err)
	}
	return out, nil
}

// Deleted returns the ids of the room's danmaku deleted at or after since.
func (s *Store) Deleted(ctx context.Context, objectID string, since time.Time) ([]danmaku.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := prefix('d', objectID)
	start := binary.BigEndian.AppendUint64(append([]byte(nil), p...), uint64(max(since.UnixMilli(), 0)))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: upperBound(p)})
	if err != nil {
		return nil, fmt.Errorf("read logged deletions: %w", err)
	}
	defer it.Close()
	var out []danmaku.ID
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < len(p)+8 {
			return nil, fmt.Errorf("logged deletion: %w", errCorrupt)
		}
		id, err := danmaku.IDFromBytes(k[len(p)+8:])
		if err != nil {
			return nil, fmt.Errorf("logged deletion: %w", err)
		}
		out = append(out, id)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read logged deletions: %w", err)
	}
	return out, nil
}

// PruneBatches removes the room's batches made before before, except the
// last keep, and its deletions logged before before.
func (s *Store) PruneBatches(ctx context.Context, objectID string, before time.Time, keep int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := prefix('b', objectID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	if err != nil {
		return fmt.Errorf("prune logged batches: %w", err)
	}
	var last uint64
	if it.Last() {
		last = binary.BigEndian.Uint64(it.Key()[len(it.Key())-8:])
	}
	var cut []byte // The first batch kept.
	for ok := it.First(); ok; ok = it.Next() {
		seq, at, _, err := decodeLogged(it.Key(), it.Value())
		if err != nil {
			_ = it.Close()
			return err
		}
		if at >= before.UnixMilli() || last-seq < uint64(keep) {
			cut = append([]byte(nil), it.Key()...)
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("prune logged batches: %w", err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if cut != nil && string(cut) > string(p) {
		if err := b.DeleteRange(p, cut, nil); err != nil {
			return fmt.Errorf("prune logged batches: %w", err)
		}
	}
	dp := prefix('d', objectID)
	dcut := binary.BigEndian.AppendUint64(append([]byte(nil), dp...), uint64(max(before.UnixMilli(), 0)))
	if err := b.DeleteRange(dp, dcut, nil); err != nil {
		return fmt.Errorf("prune logged deletions: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("prune logged batches: %w", err)
	}
	return nil
}
