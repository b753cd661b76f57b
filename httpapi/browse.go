package httpapi

import (
	"net/http"

	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/webapi"
)

// MountBrowse registers GET /admin/api/rooms/{objectId}/danmaku: a room's
// stored danmaku for its moderators, by playback time from ?from=
// (seconds), filtered by sender (?user=) and text (?q=), in pages
// (?size=, ?cursor=). Each call reads at most service.BrowseScan danmaku.
func (s *Server) MountBrowse() {
	h := &adminHandlers{s: s}
	s.handleFunc("GET /admin/api/rooms/{objectId}/danmaku", func(w http.ResponseWriter, r *http.Request) {
		objectID, ok := h.moderatedRoom(w, r)
		if !ok {
			return
		}
		a, err := s.auth.Authenticate(r)
		if err != nil {
			webapi.WriteError(w, r, s.log, err)
			return
		}
		q := r.URL.Query()
		from, err := timeParam(q.Get("from"), "from")
		if err != nil {
			webapi.WriteError(w, r, s.log, err)
			return
		}
		size, err := intParam(q.Get("size"), "size")
		if err != nil {
			webapi.WriteError(w, r, s.log, err)
			return
		}
		res, err := s.svc.Browse(r.Context(), a, objectID, service.BrowseQuery{
			From: from, UserID: q.Get("user"), Text: q.Get("q"), Cursor: q.Get("cursor"), Size: size,
		})
		if err != nil {
			webapi.WriteError(w, r, s.log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, res)
	})
}
