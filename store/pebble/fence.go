package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	danmaku "github.com/danmakud/danmakud"
)

// The arrival fence lets most puts skip the existence check that keeps a
// danmaku from being overwritten, without weakening it.
//
// The store keeps, durably under fenceKey, a fence: a Unix millisecond
// greater than the arrival time (ID.UnixMs) of every danmaku it holds. A
// put whose arrival is at or past the fence first moves the fence
// fenceLease ahead with a synced write, before its own batch commits, so
// the fence on disk is always ahead of every stored danmaku, crash or not.
//
// At Open the store reads the fence as openFence. A put can then skip the
// lookup when its arrival time is after openFence (so no danmaku stored
// before Open has its key) and its arrival (UnixMs, Seq, Node) is greater
// than that of every put claimed since Open (so none of those has its key
// either). Ids from one IDGen arrive in rising order, so nearly every put
// takes this fast path; one that arrives out of order, repeats an id or
// comes within fenceLease of a restart takes the lookup.

// fenceKey holds the fence. Its first byte is neither 'v' nor 'u'.
var fenceKey = []byte("m/arrival-fence")

// fenceLease is how far ahead of the arrival that reaches it the fence is
// moved: one synced write per fenceLease under a steady stream of sends,
// and after a restart the puts of the first fenceLease take the lookup.
const fenceLease int64 = 2000

// arrival is the part of an ID that orders danmaku by arrival.
type arrival struct {
	unixMs int64
	seq    uint16
	node   uint32
}

func arrivalOf(id danmaku.ID) arrival { return arrival{id.UnixMs, id.Seq, id.Node} }

func (a arrival) after(b arrival) bool {
	if a.unixMs != b.unixMs {
		return a.unixMs > b.unixMs
	}
	if a.seq != b.seq {
		return a.seq > b.seq
	}
	return a.node > b.node
}

// loadFence returns the stored fence. A store written before the fence
// existed has none: its fence is found from the user index, whose keys end
// with every danmaku's arrival.
func loadFence(db *pebble.DB) (int64, error) {
	val, closer, err := db.Get(fenceKey)
	if err == nil {
		defer closer.Close()
		if len(val) != 8 {
			return 0, fmt.Errorf("arrival fence: want 8 bytes, got %d", len(val))
		}
		return int64(binary.BigEndian.Uint64(val)), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("read arrival fence: %w", err)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{'u'}, UpperBound: []byte{'v'}})
	if err != nil {
		return 0, fmt.Errorf("scan user index: %w", err)
	}
	defer it.Close()
	var fence int64
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < danmaku.IDLen {
			continue
		}
		id, err := danmaku.IDFromArrivalBytes(k[len(k)-danmaku.IDLen:])
		if err == nil && id.UnixMs >= fence {
			fence = id.UnixMs + 1
		}
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("scan user index: %w", err)
	}
	return fence, nil
}

// passFence makes the stored fence greater than unixMs, moving it
// fenceLease ahead with a synced write if it is not. s.mu must be held, so
// that the fence only moves forward.
func (s *Store) passFence(unixMs int64) error {
	if unixMs < s.fence {
		return nil
	}
	next := unixMs + fenceLease
	if err := s.db.Set(fenceKey, binary.BigEndian.AppendUint64(nil, uint64(next)), pebble.Sync); err != nil {
		return fmt.Errorf("move arrival fence: %w", err)
	}
	s.fence = next
	return nil
}
