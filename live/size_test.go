package live

import (
	"testing"
	"unsafe"
)

// TestViewerSize guards the per-connection memory: the viewer and the
// WebSocket sink are allocated once per connection, and a field that
// moves them into the next allocation size class costs every viewer
// 16 bytes or more (docs/benchmarks-fanout.md, "Memory").
func TestViewerSize(t *testing.T) {
	if n := unsafe.Sizeof(viewer{}); n > 160 {
		t.Errorf("viewer is %d bytes, want at most 160", n)
	}
	if n := unsafe.Sizeof(wsSink{}); n > 80 {
		t.Errorf("wsSink is %d bytes, want at most 80", n)
	}
}
