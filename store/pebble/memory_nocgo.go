//go:build !cgo

package pebble

// manualOnGoHeap reports whether Pebble's manually managed memory (block
// cache, memtables) is on the Go heap: yes in a build without cgo, where
// Pebble allocates it as Go byte slices.
const manualOnGoHeap = true
