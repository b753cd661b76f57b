package moderation

import (
	"context"
	"sync"
)

// RoomPauses holds which rooms have sending paused. Paused is on every
// send's path and must not wait on the network: a shared implementation
// keeps a local copy and only SetPaused writes through.
type RoomPauses interface {
	// SetPaused pauses or resumes sending in room. A shared
	// implementation returns an EUNAVAILABLE *danmaku.Error when it
	// cannot record the change.
	SetPaused(ctx context.Context, room string, paused bool) error
	// Paused reports whether sending in room is paused.
	Paused(room string) bool
}

// PauseList is the in-memory RoomPauses. The zero PauseList is not usable;
// call NewPauseList.
type PauseList struct {
	mu     sync.RWMutex
	paused map[string]bool
}

var _ RoomPauses = (*PauseList)(nil)

// NewPauseList returns a PauseList with no room paused.
func NewPauseList() *PauseList { return &PauseList{paused: make(map[string]bool)} }

// SetPaused implements RoomPauses; it never fails.
func (p *PauseList) SetPaused(_ context.Context, room string, paused bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if paused {
		p.paused[room] = true
	} else {
		delete(p.paused, room)
	}
	return nil
}

// Paused implements RoomPauses.
func (p *PauseList) Paused(room string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.paused[room]
}

// Replace sets the paused rooms to exactly rooms, for a shared
// implementation that reloads its local copy.
func (p *PauseList) Replace(rooms []string) {
	m := make(map[string]bool, len(rooms))
	for _, r := range rooms {
		m[r] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = m
}
