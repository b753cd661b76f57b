package webapi

import (
	"errors"
	"net/http"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
)

// Authenticator tells who makes a request. auth.Authenticator implements
// it: a bearer token (or the token query parameter of a WebSocket) names a
// user and role, and in anonymous mode a signed cookie names a browser.
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

// TrustBody is the seed's identity when no authentication is configured:
// nobody is identified, and a send names its sender in the body.
func TrustBody(r *http.Request) (danmaku.Actor, error) {
	return danmaku.Actor{IP: auth.RemoteIP(r)}, nil
}

// Viewer returns the actor of a reading request (a listing, a live
// stream): a request without credentials is an unidentified viewer, an
// invalid credential an EUNAUTHORIZED error. A nil a identifies nobody.
func Viewer(a Authenticator, r *http.Request) (danmaku.Actor, error) {
	if a == nil {
		a = AuthFunc(TrustBody)
	}
	actor, err := a.Authenticate(r)
	if errors.Is(err, auth.ErrNoCredentials) {
		return danmaku.Actor{IP: auth.RemoteIP(r)}, nil
	}
	return actor, err
}

// QueryToken wraps the handler of a route that browsers open without
// headers (the WebSocket and SSE routes): there, and only there, a "token"
// query parameter authenticates the request. On every other route the
// parameter is ignored, so tokens stay out of URLs that logs, histories
// and referrers keep.
func QueryToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, auth.AllowQueryToken(r))
	})
}
