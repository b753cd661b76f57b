package pebble

// MemoryStats is the memory Pebble holds outside the Go heap's ordinary
// objects, each part with the bound the store's settings give it: the
// block cache and the memtables. Pebble allocates both itself, with C's
// allocator in a cgo build and as large Go byte slices otherwise
// (OnGoHeap); either way they grow in steps to their bounds (a memtable
// fills for minutes at a steady write rate), so a soak judges them
// against their bounds and the rest of the memory for growth.
type MemoryStats struct {
	BlockCache      int64 // Bytes of cached blocks.
	BlockCacheLimit int64 // The cache's capacity.
	MemTables       int64 // Bytes allocated to memtables, those waiting to be recycled included.
	MemTablesLimit  int64 // What memtables take at most when flushes keep up.
	OnGoHeap        bool  // Both are on the Go heap (a build without cgo).
}

// memTablesLimit bounds the memtables: the one being written, up to
// two queued for flushing (Pebble's default stop-writes threshold) and
// one kept for reuse.
const memTablesLimit = 4 * memTableBytes

// Memory returns the store's off-heap memory figures.
func (s *Store) Memory() MemoryStats {
	m := s.db.Metrics()
	return MemoryStats{
		BlockCache:      m.BlockCache.Size,
		BlockCacheLimit: cacheBytes,
		MemTables:       int64(m.MemTable.Size + m.MemTable.ZombieSize),
		MemTablesLimit:  memTablesLimit,
		OnGoHeap:        manualOnGoHeap,
	}
}
