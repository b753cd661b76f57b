//go:build cgo

package pebble

// manualOnGoHeap reports whether Pebble's manually managed memory (block
// cache, memtables) is on the Go heap: not in a cgo build, where Pebble
// allocates it with C's allocator.
const manualOnGoHeap = false
