package httpapi

import (
	"net/http"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/webapi"
)

// sessionJSON is a live session as the API shows it: endedAt and
// recordingUrl are null until set.
type sessionJSON struct {
	ID           string     `json:"id"`
	ObjectID     string     `json:"objectId"`
	StartedAt    time.Time  `json:"startedAt"`
	EndedAt      *time.Time `json:"endedAt"`
	RecordingURL *string    `json:"recordingUrl"`
}

func newSessionJSON(s danmaku.Session) sessionJSON {
	j := sessionJSON{ID: s.ID, ObjectID: s.ObjectID, StartedAt: s.StartedAt.UTC()}
	if !s.EndedAt.IsZero() {
		end := s.EndedAt.UTC()
		j.EndedAt = &end
	}
	if s.RecordingURL != "" {
		j.RecordingURL = &s.RecordingURL
	}
	return j
}

// handleSessions answers GET /danmu/sessions/{objectId}: the video's live
// sessions, newest first. It is a public read, as the danmaku are.
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	size, err := intParam(r.URL.Query().Get("size"), "size")
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	objectID := r.PathValue("objectId")
	list, err := s.svc.Sessions(r.Context(), objectID, size)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	out := make([]sessionJSON, len(list))
	for i, ss := range list {
		out[i] = newSessionJSON(ss)
	}
	writeJSON(w, map[string]any{"objectId": objectID, "sessions": out})
}

// scope returns the Scope that the request's session parameter selects in
// objectID: the whole video without one, a 400 error for a malformed id and
// a 404 error for a session the video never had.
func (s *Server) scope(r *http.Request, objectID string) (service.Scope, error) {
	return s.svc.SessionScope(r.Context(), objectID, r.URL.Query().Get("session"))
}

// setRecording answers POST /admin/api/rooms/{objectId}/sessions/{id} with
// {"recordingUrl":"https://…"} (an empty string clears it): the room's
// moderators and admins set the recording of a running or ended session.
func (h *adminHandlers) setRecording(w http.ResponseWriter, r *http.Request) {
	objectID, ok := h.moderatedRoom(w, r)
	if !ok {
		return
	}
	var in struct {
		RecordingURL *string `json:"recordingUrl"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	if in.RecordingURL == nil {
		webapi.WriteError(w, r, h.s.log, danmaku.FieldError("recordingUrl", "is required (an empty string clears it)"))
		return
	}
	ss, err := h.s.svc.SetRecording(r.Context(), objectID, r.PathValue("id"), *in.RecordingURL)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, map[string]any{"session": newSessionJSON(ss)})
}
