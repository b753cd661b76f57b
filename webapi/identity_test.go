package webapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// TestQueryTokenPerRoute checks that a "token" query parameter names the
// user only on a route wrapped with QueryToken; elsewhere it is ignored
// (a bearer header still works everywhere).
func TestQueryTokenPerRoute(t *testing.T) {
	a, err := auth.New(auth.Config{Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Issue(auth.TokenRequest{UserID: "alice", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var got danmaku.Actor
	viewer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got, err = Viewer(a, r); err != nil {
			t.Errorf("Viewer: %v", err)
		}
	})
	live := QueryToken(viewer)
	for _, tt := range []struct {
		name   string
		h      http.Handler
		header bool
		want   string
	}{
		{"live route, query token", live, false, "alice"},
		{"other route, query token ignored", viewer, false, ""},
		{"other route, bearer header", viewer, true, "alice"},
	} {
		got = danmaku.Actor{}
		r := httptest.NewRequest(http.MethodGet, "/danmu/stream/v?token="+tok, nil)
		if tt.header {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		tt.h.ServeHTTP(httptest.NewRecorder(), r)
		if got.UserID != tt.want {
			t.Errorf("%s: user %q, want %q", tt.name, got.UserID, tt.want)
		}
	}
}
