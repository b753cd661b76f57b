package httpapi

import (
	"errors"
	"net/http"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
)

// Authenticator tells who makes a request. auth.Authenticator implements it.
type Authenticator interface {
	// Authenticate returns the actor of r. A request without credentials
	// gets auth.ErrNoCredentials, which readers treat as an unidentified
	// viewer; an invalid credential is an EUNAUTHORIZED error.
	Authenticate(r *http.Request) (danmaku.Actor, error)
	// Identify is Authenticate for senders: it may give a browser an
	// anonymous id, setting its cookie on w.
	Identify(w http.ResponseWriter, r *http.Request) (danmaku.Actor, error)
}

// AuthFunc adapts a function to an Authenticator whose Identify is its
// Authenticate (no anonymous ids), for tests and embedders.
type AuthFunc func(*http.Request) (danmaku.Actor, error)

// Authenticate calls f.
func (f AuthFunc) Authenticate(r *http.Request) (danmaku.Actor, error) { return f(r) }

// Identify calls f.
func (f AuthFunc) Identify(_ http.ResponseWriter, r *http.Request) (danmaku.Actor, error) {
	return f(r)
}

// trustBody is the seed's behaviour when no authentication is configured:
// nobody is identified, and a send names its sender in the body.
func trustBody(r *http.Request) (danmaku.Actor, error) { return danmaku.Actor{IP: RemoteIP(r)}, nil }

// viewer returns the actor of a reading request: a request without
// credentials is an unidentified viewer.
func (s *Server) viewer(r *http.Request) (danmaku.Actor, error) {
	a, err := s.auth.Authenticate(r)
	if errors.Is(err, auth.ErrNoCredentials) {
		return danmaku.Actor{IP: RemoteIP(r)}, nil
	}
	return a, err
}

// Viewer is the actor of a reading request, for handlers mounted beside
// the API (live streams): a request without credentials is an unidentified
// viewer, an invalid credential an error.
func (s *Server) Viewer(r *http.Request) (danmaku.Actor, error) { return s.viewer(r) }

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
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"userId": a.UserID, "role": a.Role.String(), "rooms": a.Rooms, "anonymous": a.Anonymous})
}
