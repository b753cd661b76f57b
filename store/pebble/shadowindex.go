package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

// shadowIndexDone marks a store whose shadow index ('s' keys) holds every
// shadowed danmaku: written by the first Open that built it, so that a
// store written before the index existed is indexed once.
var shadowIndexDone = []byte("x\x00shadow-index-v1")

// shadowIndexBatch is how many index entries one commit of buildShadowIndex
// holds at most.
const shadowIndexBatch = 10_000

// buildShadowIndex adds the shadow index entries of every stored shadowed
// danmaku, unless the store says it has them all. It reads every record
// once, so that the heatmap of a store from before the index counts no
// shadow; a new store only writes the mark.
func buildShadowIndex(db *pebble.DB) error {
	_, closer, err := db.Get(shadowIndexDone)
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read shadow index mark: %w", err)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{'v'}, UpperBound: []byte{'v' + 1}})
	if err != nil {
		return fmt.Errorf("index shadows: %w", err)
	}
	defer it.Close()
	b := db.NewBatch()
	defer func() { b.Close() }()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		objectID, id, err := parseVideoKey(it.Key())
		if err != nil {
			return fmt.Errorf("index shadows: %w", err)
		}
		d, err := decode(objectID, id, it.Value())
		if err != nil {
			return fmt.Errorf("index shadows: %w", err)
		}
		if !d.Shadow {
			continue
		}
		if err := b.Set(shadowKey(objectID, id), nil, nil); err != nil {
			return fmt.Errorf("index shadows: %w", err)
		}
		if n++; n%shadowIndexBatch == 0 {
			if err := b.Commit(pebble.Sync); err != nil {
				return fmt.Errorf("index shadows: %w", err)
			}
			b.Close()
			b = db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("index shadows: %w", err)
	}
	if err := b.Set(shadowIndexDone, nil, nil); err != nil {
		return fmt.Errorf("index shadows: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index shadows: %w", err)
	}
	return nil
}

// parseVideoKey splits a video key into its object id and danmaku id.
func parseVideoKey(k []byte) (string, danmaku.ID, error) {
	n, size := binary.Uvarint(k[1:])
	start := 1 + size
	if size <= 0 || n > uint64(len(k)-start) {
		return "", danmaku.ID{}, fmt.Errorf("video key %x: %w", k, errCorrupt)
	}
	end := start + int(n)
	id, err := danmaku.IDFromBytes(k[end:])
	if err != nil {
		return "", danmaku.ID{}, fmt.Errorf("video key %x: %w", k, err)
	}
	return string(k[start:end]), id, nil
}
