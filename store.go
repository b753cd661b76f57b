package danmaku

import (
	"context"
	"fmt"
	"iter"
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

// All returns an iterator over the danmaku of q.ObjectID in ID order (which
// is playback order), from q.Start on. It reads st one page of q.Limit
// danmaku at a time (MaxPageSize when q.Limit is 0 or larger), so that
// memory does not grow with the video, and starts each page after the last
// ID of the one before. A failed read ends the sequence with a nil danmaku
// and the error. This is the one loop that pages through a whole video;
// readers outside the stores go through the service, which adds the rule of
// who may see what.
func All(ctx context.Context, st Store, q Query) iter.Seq2[*Danmaku, error] {
	if q.Limit <= 0 || q.Limit > MaxPageSize {
		q.Limit = MaxPageSize
	}
	return func(yield func(*Danmaku, error) bool) {
		for {
			page, err := st.List(ctx, q)
			if err != nil {
				yield(nil, fmt.Errorf("list %s: %w", q.ObjectID, err))
				return
			}
			for _, d := range page.Items {
				if !yield(d, nil) {
					return
				}
			}
			if !page.More || len(page.Items) == 0 {
				return
			}
			q.Start = page.Next.Successor()
		}
	}
}
