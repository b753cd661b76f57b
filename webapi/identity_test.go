package webapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
)

// TestViewer checks the identity of a reading request: nobody without an
// Authenticator or without credentials, the credential's actor, and an
// error for an invalid credential.
func TestViewer(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/danmu/stream/v", nil)
	r.RemoteAddr = "192.0.2.7:4242"
	if a, err := Viewer(nil, r); err != nil || a.UserID != "" || a.IP != "192.0.2.7" {
		t.Errorf("no Authenticator: %+v, %v", a, err)
	}
	none := AuthFunc(func(*http.Request) (danmaku.Actor, error) { return danmaku.Actor{}, auth.ErrNoCredentials })
	if a, err := Viewer(none, r); err != nil || a.UserID != "" || a.IP != "192.0.2.7" {
		t.Errorf("no credentials: %+v, %v", a, err)
	}
	alice := AuthFunc(func(*http.Request) (danmaku.Actor, error) { return danmaku.Actor{UserID: "alice"}, nil })
	if a, err := Viewer(alice, r); err != nil || a.UserID != "alice" {
		t.Errorf("token: %+v, %v", a, err)
	}
	bad := AuthFunc(func(*http.Request) (danmaku.Actor, error) {
		return danmaku.Actor{}, danmaku.Errorf(danmaku.EUNAUTHORIZED, "token expired")
	})
	_, err := Viewer(bad, r)
	if Status(danmaku.ErrorCode(err)) != http.StatusUnauthorized {
		t.Errorf("invalid credential: %v, want a 401 error", err)
	}
}
