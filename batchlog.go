package danmaku

import (
	"context"
	"time"
)

// BatchLog keeps each live room's recent batches where a restarted node
// can read them, so that a room's seq never goes back and a viewer that
// reconnects can resume where it left off (docs/protocol.md, "Resume").
// The embedded store (store/pebble) implements it; a cluster can
// implement it with its batch stream backed by a store. Implementations
// are safe for concurrent use.
type BatchLog interface {
	// Epoch names the log's history. It stays the same across restarts
	// and changes only when the history was lost (a new or wiped store).
	Epoch() string
	// AppendBatches stores batches and deletions of any rooms, in order,
	// in one durable write.
	AppendBatches(ctx context.Context, entries []LogEntry) error
	// LastBatches returns a room's last n batches, oldest first.
	LastBatches(ctx context.Context, objectID string, n int) ([]Batch, error)
	// BatchesAfter returns a room's batches whose seq is above since,
	// oldest first, at most limit of them.
	BatchesAfter(ctx context.Context, objectID string, since uint64, limit int) ([]Batch, error)
	// Deleted returns the ids of the room's danmaku deleted at or after
	// since that the log still holds.
	Deleted(ctx context.Context, objectID string, since time.Time) ([]ID, error)
	// PruneBatches removes a room's batches and deletions made before
	// before, except its last keep batches.
	PruneBatches(ctx context.Context, objectID string, before time.Time, keep int) error
}

// LogEntry is one record of a BatchLog: a room's batch made at At, or,
// when Batch is nil, the deletion of danmaku Deleted at At.
type LogEntry struct {
	ObjectID string
	At       time.Time
	Batch    *Batch
	Deleted  ID
}
