package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.Idempotency = (*Store)(nil)

// Idempotency keys live under
//
//	'k' | uvarint(len(key)) | key
//
// with the danmaku they name as the value: uvarint(len(objectId)),
// objectId, then the id's 22-byte key form.

func idempotencyKey(key string) []byte { return prefix('k', key) }

func encodeRef(ref danmaku.Ref) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(ref.ObjectID)+danmaku.IDLen)
	b = appendString(b, ref.ObjectID)
	return ref.ID.AppendBytes(b)
}

func decodeRef(val []byte) (danmaku.Ref, error) {
	r := reader{b: val}
	objectID := r.string()
	if r.err != nil {
		return danmaku.Ref{}, fmt.Errorf("idempotency record: %w", errCorrupt)
	}
	id, err := danmaku.IDFromBytes(r.b)
	if err != nil {
		return danmaku.Ref{}, fmt.Errorf("idempotency record: %w", err)
	}
	return danmaku.Ref{ObjectID: objectID, ID: id}, nil
}

// LookupKey returns the danmaku that key was reserved for, or
// danmaku.ErrNotFound.
func (s *Store) LookupKey(ctx context.Context, key string) (danmaku.Ref, error) {
	if err := ctx.Err(); err != nil {
		return danmaku.Ref{}, err
	}
	val, closer, err := s.db.Get(idempotencyKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return danmaku.Ref{}, danmaku.ErrNotFound
	}
	if err != nil {
		return danmaku.Ref{}, fmt.Errorf("look up idempotency key: %w", err)
	}
	defer closer.Close()
	return decodeRef(val)
}

// ReserveKey durably records that key names ref, unless it names a danmaku
// already; then it returns that one and true.
func (s *Store) ReserveKey(ctx context.Context, key string, ref danmaku.Ref) (danmaku.Ref, bool, error) {
	if err := ctx.Err(); err != nil {
		return danmaku.Ref{}, false, err
	}
	ks := [][]byte{idempotencyKey(key)}
	got, _, err := s.claim(ks, nil)
	if err != nil {
		return danmaku.Ref{}, false, err
	}
	if !got[0] {
		return danmaku.Ref{}, false, danmaku.ErrKeyBusy
	}
	defer s.release(ks, got)
	existing, err := s.LookupKey(ctx, key)
	if err == nil {
		return existing, true, nil
	}
	if !errors.Is(err, danmaku.ErrNotFound) {
		return danmaku.Ref{}, false, err
	}
	if err := s.db.Set(ks[0], encodeRef(ref), pebble.Sync); err != nil {
		return danmaku.Ref{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	return ref, false, nil
}
