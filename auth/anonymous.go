package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	danmaku "github.com/danmakud/danmakud"
)

// anonIDBytes is the size of the random part of an anonymous id.
const anonIDBytes = 16

// errBadCookie is returned for an anonymous cookie that fails its check.
var errBadCookie = &danmaku.Error{Code: danmaku.EUNAUTHORIZED, Message: "anonymous id cookie is invalid"}

// NewAnonymousID returns a fresh anonymous user id and the signed cookie
// value that carries it.
func (a *Authenticator) NewAnonymousID() (id, cookieValue string) {
	var b [anonIDBytes]byte
	_, _ = rand.Read(b[:]) // Since Go 1.24, crypto/rand.Read never returns an error.
	id = AnonymousPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return id, id + "." + a.anonMAC(id)
}

func (a *Authenticator) anonMAC(id string) string {
	m := hmac.New(sha256.New, a.cookieKey)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyAnonymous checks a cookie value and returns its id.
func (a *Authenticator) verifyAnonymous(value string) (string, error) {
	id, mac, ok := strings.Cut(value, ".")
	if !ok || !strings.HasPrefix(id, AnonymousPrefix) || len(value) > 200 {
		return "", errBadCookie
	}
	raw, err := base64.RawURLEncoding.DecodeString(id[len(AnonymousPrefix):])
	if err != nil || len(raw) != anonIDBytes {
		return "", errBadCookie
	}
	if !hmac.Equal([]byte(mac), []byte(a.anonMAC(id))) {
		return "", errBadCookie
	}
	return id, nil
}

// AnonymousCookie returns the cookie that carries a signed anonymous id
// for a response to r: HttpOnly, SameSite=Lax, on path "/", Secure as
// Config.SecureCookie says (with CookieSecureAuto, when r came over TLS).
func (a *Authenticator) AnonymousCookie(r *http.Request, value string) *http.Cookie {
	secure := a.cfg.SecureCookie == CookieSecureAlways || a.cfg.SecureCookie == CookieSecureAuto && r != nil && r.TLS != nil
	return &http.Cookie{
		Name:     a.cfg.CookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   int(a.cfg.CookieMaxAge.Seconds()),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// Identify is Authenticate for handlers that may give a browser its
// anonymous id: in anonymous mode, a request without credentials, or with
// an anonymous cookie that fails its check, gets a fresh anonymous id, and
// the cookie is set on w (call it before writing the response). Invalid
// tokens are still errors, and with anonymous mode off Identify is
// Authenticate.
func (a *Authenticator) Identify(w http.ResponseWriter, r *http.Request) (danmaku.Actor, error) {
	act, err := a.Authenticate(r)
	if err == nil || !a.cfg.Anonymous {
		return act, err
	}
	if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, errBadCookie) {
		return act, err
	}
	id, value := a.NewAnonymousID()
	http.SetCookie(w, a.AnonymousCookie(r, value))
	return danmaku.Actor{UserID: id, Anonymous: true, Fresh: true, IP: RemoteIP(r)}, nil
}
