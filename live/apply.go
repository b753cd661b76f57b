package live

import (
	"context"

	danmaku "github.com/danmakud/danmakud"
)

var _ danmaku.RoomApplier = (*Hub)(nil)

// ApplyRoom implements danmaku.RoomApplier: it puts the tick interval and
// per-tick cap of s in force (in a cluster also in the shared copy, which
// a flushed Redis may have lost), and starts the live session that s
// records when none runs. A room's running ticks are reconfigured (and
// its pending danmaku flushed) only when its interval or cap changed. A
// session that s does not record is left running: EndLive ends sessions.
func (h *Hub) ApplyRoom(_ context.Context, s danmaku.RoomSettings) error {
	c := RoomConfig{TickInterval: s.TickInterval, MaxPerTick: s.MaxPerTick}
	h.mu.Lock()
	same := h.configs[s.ObjectID] == c
	h.mu.Unlock()
	var err error
	switch rem := h.clusterRemote(); {
	case !same:
		err = h.SetRoomConfig(s.ObjectID, c)
	case rem != nil:
		if err = c.Validate(); err == nil {
			err = rem.SaveRoomConfig(s.ObjectID, c)
		}
	}
	if err != nil {
		return err
	}
	if s.Live != nil {
		_, err := h.StartLive(s.ObjectID, s.Live.StartedAt)
		if err != nil && danmaku.ErrorCode(err) != danmaku.ECONFLICT {
			return err
		}
	}
	return nil
}

// RoomSettings returns the hub's part of the settings in force in
// objectID: the room's own tick interval and cap (zero where it takes the
// hub's defaults, unlike RoomConfig) and its running live session.
func (h *Hub) RoomSettings(objectID string) danmaku.RoomSettings {
	h.mu.Lock()
	c := h.configs[objectID]
	h.mu.Unlock()
	s := danmaku.RoomSettings{ObjectID: objectID, TickInterval: c.TickInterval, MaxPerTick: c.MaxPerTick}
	if ls, ok := h.liveSession(objectID); ok {
		s.Live = &danmaku.LiveSession{StartedAt: ls.StartedAt}
	}
	return s
}
