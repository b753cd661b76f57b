package httpapi

import (
	"errors"
	"net/http"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/webapi"
)

// Viewer is the actor of a reading request, for handlers mounted beside
// the API: a request without credentials is an unidentified viewer, an
// invalid credential an error.
func (s *Server) Viewer(r *http.Request) (danmaku.Actor, error) { return webapi.Viewer(s.auth, r) }

// Identify is the actor of a sending request, for handlers mounted beside
// the API: it may give a browser an anonymous id.
func (s *Server) Identify(w http.ResponseWriter, r *http.Request) (danmaku.Actor, error) {
	return s.auth.Identify(w, r)
}

// handleMe tells a client who it is, giving a browser its anonymous id if
// it has none, so that players can recognise their own danmaku.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	a, err := s.auth.Identify(w, r)
	if errors.Is(err, auth.ErrNoCredentials) {
		a, err = danmaku.Actor{}, nil
	}
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"userId": a.UserID, "role": a.Role.String(), "rooms": a.Rooms, "anonymous": a.Anonymous})
}
