package bilibili

import (
	"context"
	"errors"
	"fmt"
	"io"

	danmaku "github.com/danmakud/danmakud"
)

// importBatch is how many danmaku an import writes per commit when the
// store can write batches.
const importBatch = 500

// ImportStats counts what an import did.
type ImportStats struct {
	Imported int `json:"imported"` // Stored now.
	Present  int `json:"present"`  // Already stored by an earlier import.
	Skipped  int `json:"skipped"`  // Not importable (positioned or code danmaku, malformed).
}

// Import decodes Bilibili XML from r and puts every danmaku into st under
// objectID, in batches when st is a danmaku.BatchPutter. Importing the same
// file again adds nothing: ids are derived from the file.
func Import(ctx context.Context, st danmaku.Store, objectID string, r io.Reader) (ImportStats, error) {
	var s ImportStats
	bp, batched := st.(danmaku.BatchPutter)
	var batch []*danmaku.Danmaku
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := bp.PutBatch(ctx, batch)
		if err != nil {
			return fmt.Errorf("store %d danmaku: %w", len(batch), err)
		}
		s.Imported += n
		s.Present += len(batch) - n
		batch = batch[:0]
		return nil
	}
	res, err := Decode(r, func(d *danmaku.Danmaku) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.ObjectID = objectID
		if batched {
			batch = append(batch, d)
			if len(batch) >= importBatch {
				return flush()
			}
			return nil
		}
		switch err := st.Put(ctx, d); {
		case errors.Is(err, danmaku.ErrConflict):
			s.Present++
		case err != nil:
			return fmt.Errorf("store danmaku %s: %w", d.ID, err)
		default:
			s.Imported++
		}
		return nil
	})
	s.Skipped = res.Skipped
	if err != nil {
		return s, err
	}
	return s, flush()
}
