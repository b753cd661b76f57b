package danmaku

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Store keeps danmaku per video, ordered by ID, with a second index per
// user. It mirrors the seed's DynamoDB table: partition by objectId, sort by
// id, and a per-user index. Implementations are safe for concurrent use.
type Store interface {
	// Put stores d. It returns nil only once d is durable, and ErrConflict
	// (never overwriting) when d.ObjectID already holds d.ID.
	Put(ctx context.Context, d *Danmaku) error
	// Get returns one danmaku, or ErrNotFound.
	Get(ctx context.Context, objectID string, id ID) (*Danmaku, error)
	// Delete removes one danmaku from the video and the user index and
	// returns it, or returns ErrNotFound.
	Delete(ctx context.Context, objectID string, id ID) (*Danmaku, error)
	// List returns a video's danmaku with IDs at or after q.Start, in ID
	// order, at most q.Limit of them.
	List(ctx context.Context, q Query) (Page, error)
	// ListByUser returns the danmaku a user sent, newest first (by
	// ArrivalCompare), strictly before q.Before unless it is zero, at most
	// q.Limit of them.
	ListByUser(ctx context.Context, q UserQuery) (Page, error)
	// Close releases the store; pending writes are flushed first.
	Close() error
}

// BatchPutter is implemented by stores that can store many danmaku in one
// durable write, for imports and bulk loads. PutBatch skips danmaku whose
// id exists (never overwriting) and returns how many it stored.
type BatchPutter interface {
	PutBatch(ctx context.Context, ds []*Danmaku) (int, error)
}

// Ref names one danmaku: its video and its id.
type Ref struct {
	ObjectID string
	ID       ID
}

// Idempotency is implemented by stores that remember idempotency keys, so
// that a send retried after a timeout or a 503, which may or may not have
// been stored, is stored once. Keys are scoped by the caller (to their
// sender) and kept for good; a record is a few dozen bytes.
type Idempotency interface {
	// LookupKey returns the danmaku that key was reserved for, or
	// ErrNotFound.
	LookupKey(ctx context.Context, key string) (Ref, error)
	// ReserveKey durably records that key names ref, unless key names a
	// danmaku already: then it returns that one and true, and records
	// nothing. While another caller is reserving the same key it returns
	// ErrKeyBusy.
	ReserveKey(ctx context.Context, key string, ref Ref) (Ref, bool, error)
}

// ErrKeyBusy is returned while another request with the same idempotency
// key is being handled.
var ErrKeyBusy = &Error{Code: ECONFLICT, Message: "a send with this Idempotency-Key is in progress; retry in a moment",
	RetryAfter: time.Second}

// TimeCounter is implemented by stores that can count a video's danmaku by
// playback time without reading them (the heatmap over the progress bar).
type TimeCounter interface {
	// CountByTime returns how many danmaku fall in each of len(counts)
	// buckets of width bucket from time 0; later ones count in the last.
	CountByTime(ctx context.Context, objectID string, bucket Time, counts []int) error
	// LastTime returns the playback time of the video's last danmaku, or
	// ErrNotFound for a video with none.
	LastTime(ctx context.Context, objectID string) (Time, error)
}

// Query selects a page of one video's danmaku.
type Query struct {
	ObjectID string
	Start    ID  // Inclusive lower bound; the zero ID starts at the beginning.
	Limit    int // At least 1; stores cap it at MaxPageSize.
}

// UserQuery selects a page of one user's danmaku, newest first.
type UserQuery struct {
	UserID string
	Before ID  // Exclusive upper bound in arrival order; zero means newest.
	Limit  int // At least 1; stores cap it at MaxPageSize.
}

// Page is one page of a listing. Next is the cursor of the next page (the
// last item's ID) and is meaningful only when More is true.
type Page struct {
	Items []*Danmaku
	Next  ID
	More  bool
}

// MaxPageSize is the largest page a store returns.
const MaxPageSize = 1000

// Successor returns the smallest ID greater than id, so that a listing that
// continues after a cursor can start at cursor.Successor().
func (id ID) Successor() ID {
	n := id
	if n.Node < maxNode {
		n.Node++
		return n
	}
	n.Node = 0
	if n.Seq < maxSeq {
		n.Seq++
		return n
	}
	n.Seq = 0
	if n.UnixMs < 9_999_999_999_999 {
		n.UnixMs++
		return n
	}
	n.UnixMs = 0
	n.PlayMs++
	return n
}

// ArrivalCompare orders IDs by when they were accepted: Unix milliseconds,
// sequence, node, then playback time. It is the order of the per-user index.
func ArrivalCompare(a, b ID) int {
	switch {
	case a.UnixMs != b.UnixMs:
		return cmp64(a.UnixMs, b.UnixMs)
	case a.Seq != b.Seq:
		return cmp64(int64(a.Seq), int64(b.Seq))
	case a.Node != b.Node:
		return cmp64(int64(a.Node), int64(b.Node))
	}
	return cmp64(a.PlayMs, b.PlayMs)
}

// ArrivalBytes returns the IDLen-byte key whose byte order equals
// ArrivalCompare order: Unix milliseconds, sequence, node, playback time.
func (id ID) ArrivalBytes() []byte {
	b := make([]byte, 0, IDLen)
	b = binary.BigEndian.AppendUint64(b, uint64(id.UnixMs))
	b = binary.BigEndian.AppendUint16(b, id.Seq)
	b = binary.BigEndian.AppendUint32(b, id.Node)
	return binary.BigEndian.AppendUint64(b, uint64(id.PlayMs))
}

// IDFromArrivalBytes decodes the key made by ArrivalBytes.
func IDFromArrivalBytes(b []byte) (ID, error) {
	if len(b) != IDLen {
		return ID{}, fmt.Errorf("arrival key: want %d bytes, got %d", IDLen, len(b))
	}
	return ID{
		UnixMs: int64(binary.BigEndian.Uint64(b[0:8])),
		Seq:    binary.BigEndian.Uint16(b[8:10]),
		Node:   binary.BigEndian.Uint32(b[10:14]),
		PlayMs: int64(binary.BigEndian.Uint64(b[14:22])),
	}, nil
}
