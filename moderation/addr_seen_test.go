package moderation

import (
	"fmt"
	"testing"
)

// TestLastSeenBounded: the memory of anonymous senders keeps the newest
// ids, forgets the oldest, and never holds more than maxSeen.
func TestLastSeenBounded(t *testing.T) {
	var s lastSeen
	const n = 3 * maxSeen
	for i := range n {
		s.note(fmt.Sprintf("anon-%d", i), fmt.Sprintf("group-%d", i%7))
		if held := len(s.cur) + len(s.old); held > maxSeen {
			t.Fatalf("after %d ids it holds %d, want at most %d", i+1, held, maxSeen)
		}
	}
	if g := s.get(fmt.Sprintf("anon-%d", n-1)); g != fmt.Sprintf("group-%d", (n-1)%7) {
		t.Errorf("the newest id's group = %q", g)
	}
	if g := s.get(fmt.Sprintf("anon-%d", n-maxSeen/2-1)); g == "" {
		t.Error("an id of the older half is forgotten")
	}
	if g := s.get("anon-0"); g != "" {
		t.Errorf("the oldest id is still remembered: %q", g)
	}
	// A sender seen again from another address is remembered there.
	s.note("anon-0", "elsewhere")
	if g := s.get("anon-0"); g != "elsewhere" {
		t.Errorf("moved sender's group = %q, want elsewhere", g)
	}
}
