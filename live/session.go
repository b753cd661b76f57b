package live

import (
	"encoding/json"
	"time"

	danmaku "github.com/danmakud/danmakud"
)

// Session is one live session of a room: between its start and end, a
// danmaku's playback time is its offset from StartedAt, so that the
// recording replays each danmaku at the moment it was sent.
type Session struct {
	ObjectID  string    `json:"objectId"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"` // Zero while the session runs.
}

// ID returns the session's id, danmaku.SessionID of its start: the id
// that the danmaku sent during it carry and that replays select it by.
func (s Session) ID() string { return danmaku.SessionID(s.StartedAt) }

// MarshalJSON writes s with its id: {"id","objectId","startedAt","endedAt"}.
func (s Session) MarshalJSON() ([]byte, error) {
	type plain Session
	return json.Marshal(struct {
		ID string `json:"id"`
		plain
	}{s.ID(), plain(s)})
}

// Offset returns the playback time of an instant during s: the time since
// the start in milliseconds, clamped to 0..danmaku.MaxPlayMs.
func (s Session) Offset(now time.Time) danmaku.Time {
	ms := now.Sub(s.StartedAt).Milliseconds()
	return danmaku.Time(min(max(ms, 0), danmaku.MaxPlayMs))
}

// StartLive starts a live session for objectID at now, to the millisecond
// (as its id, Session.ID, says). It returns an ECONFLICT *danmaku.Error if
// one is already running and EINVALID for a bad id. Authorisation is the
// caller's job.
func (h *Hub) StartLive(objectID string, now time.Time) (Session, error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return Session{}, err
	}
	now = time.UnixMilli(now.UnixMilli())
	if ss := h.clusterRemote(); ss != nil {
		s, err := ss.StartSession(objectID, now)
		if err == nil {
			h.mu.Lock()
			h.sessions[objectID] = s
			h.mu.Unlock()
			h.announceLive(objectID, &s)
		}
		return s, err
	}
	h.mu.Lock()
	if s, ok := h.sessions[objectID]; ok {
		h.mu.Unlock()
		return s, danmaku.Errorf(danmaku.ECONFLICT, "a live session is already running for %s since %s", objectID, s.StartedAt.UTC().Format(time.RFC3339))
	}
	s := Session{ObjectID: objectID, StartedAt: now}
	h.sessions[objectID] = s
	h.mu.Unlock()
	h.announceLive(objectID, &s)
	return s, nil
}

// EndLive ends the running live session of objectID and returns it with
// EndedAt set, or an ENOTFOUND *danmaku.Error if none runs.
func (h *Hub) EndLive(objectID string, now time.Time) (Session, error) {
	if ss := h.clusterRemote(); ss != nil {
		s, err := ss.EndSession(objectID, now)
		if err == nil {
			h.mu.Lock()
			delete(h.sessions, objectID)
			h.mu.Unlock()
			h.announceLive(objectID, nil)
		}
		return s, err
	}
	h.mu.Lock()
	s, ok := h.sessions[objectID]
	if ok {
		delete(h.sessions, objectID)
	}
	h.mu.Unlock()
	if !ok {
		return Session{}, danmaku.Errorf(danmaku.ENOTFOUND, "no live session is running for %s", objectID)
	}
	s.EndedAt = now
	h.announceLive(objectID, nil)
	return s, nil
}

// announceLive tells the room's viewers on this node that a live session
// started (s set) or ended (s nil), so that players switch clocks at once.
func (h *Hub) announceLive(objectID string, s *Session) {
	h.mu.Lock()
	r := h.rooms[objectID]
	h.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	vs := r.snapshotLocked()
	r.mu.Unlock()
	m := control("live", liveJSON{Type: "live", Live: s})
	h.fanout(vs, func(v *viewer) { v.deliver([]*message{m}, &h.cfg, &h.stats) })
}

// LiveOffset returns the playback time of a danmaku accepted at now for
// objectID and true while a live session runs, or false otherwise (the
// client's time is used then).
func (h *Hub) LiveOffset(objectID string, now time.Time) (danmaku.Time, bool) {
	s, ok := h.liveSession(objectID)
	if !ok {
		return 0, false
	}
	return s.Offset(now), true
}

// LiveStamp returns the id of the running live session of objectID and the
// playback time of a danmaku accepted at now (its offset from the start)
// and true, or false when no session runs.
func (h *Hub) LiveStamp(objectID string, now time.Time) (session string, off danmaku.Time, ok bool) {
	s, ok := h.liveSession(objectID)
	if !ok {
		return "", 0, false
	}
	return s.ID(), s.Offset(now), true
}

// liveSession returns the running session of objectID, if any.
func (h *Hub) liveSession(objectID string) (Session, bool) {
	if ss := h.clusterRemote(); ss != nil {
		if s, ok, err := ss.LoadSession(objectID); err == nil {
			return s, ok
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[objectID]
	return s, ok
}
