// Package auth establishes who makes a request to danmakud.
//
// Users are identified by JSON Web Tokens that the host site issues and
// signs with HMAC-SHA256 (HS256) under a secret shared with danmakud. A
// token carries the user id in "sub", the role in "role" ("viewer",
// "moderator" or "admin"; missing means viewer), the rooms a moderator
// moderates in "rooms", and must carry "exp". When an issuer or audience is
// configured, "iss" and "aud" must match. Only HS256 is accepted: "none",
// HS384/HS512 and every asymmetric algorithm are refused, so a token cannot
// choose how it is checked.
//
// In anonymous mode each browser gets a signed anonymous id in a cookie
// ("anon-<random id>.<HMAC>", HttpOnly, SameSite=Lax), so that a local
// demo works with no set-up; the cookie key is derived from the secret, so
// it cannot be used as a token key or the other way round. With anonymous
// mode off, every request needs a token.
//
// The admin signs in with a password from the configuration; when none is
// configured, the admin credential is AdminKey, a key derived from the
// secret that the command line can print. Either is compared in constant
// time and exchanged for a short-lived admin token.
//
// Errors are *danmaku.Error values with code EUNAUTHORIZED (or EFORBIDDEN)
// whose messages never contain the token, the cookie or the password, so
// they can be logged and shown to clients as they are.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	danmaku "github.com/danmakud/danmakud"
)

// MinSecretLen is the shortest accepted secret: 32 bytes, the size of an
// HS256 key.
const MinSecretLen = 32

// MaxTokenLen is the longest token accepted, in bytes.
const MaxTokenLen = 4096

// MaxTokenRooms is the most rooms a token may list.
const MaxTokenRooms = 1000

// MinAdminPasswordLen is the shortest admin password accepted, in bytes.
const MinAdminPasswordLen = 12

// MaxIssuedAtSkew is how far in the future a token's "iat" may be: the
// clock skew allowed between the host site and danmakud.
const MaxIssuedAtSkew = time.Minute

// CookieSecure says when the anonymous cookie carries the Secure
// attribute.
type CookieSecure int

// CookieSecure values.
const (
	CookieSecureAuto   CookieSecure = iota // Secure on requests that came over TLS.
	CookieSecureAlways                     // Always Secure (TLS ends at a proxy in front).
	CookieSecureNever                      // Never Secure (plain HTTP on a network name).
)

// ParseCookieSecure parses "auto", "true" (or "always") and "false" (or
// "never").
func ParseCookieSecure(s string) (CookieSecure, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return CookieSecureAuto, nil
	case "true", "always", "on", "1":
		return CookieSecureAlways, nil
	case "false", "never", "off", "0":
		return CookieSecureNever, nil
	}
	return CookieSecureAuto, fmt.Errorf("unknown value %q: want auto, true or false", s)
}

// AnonymousPrefix starts every anonymous user id. Tokens may not use it, so
// that a token cannot claim an anonymous browser's id.
const AnonymousPrefix = "anon-"

// Defaults for Config.
const (
	DefaultCookieName   = "danmakud_anon"
	DefaultCookieMaxAge = 365 * 24 * time.Hour
	DefaultAdminTTL     = 12 * time.Hour
	DefaultAdminUserID  = "admin"
)

// Config configures an Authenticator.
type Config struct {
	// Secret is the HS256 key shared with the host site, at least
	// MinSecretLen bytes.
	Secret []byte
	// Issuer and Audience, when set, must equal the token's "iss" and be
	// one of its "aud"; issued tokens carry them.
	Issuer   string
	Audience string
	// Leeway is the clock skew allowed when checking "exp" and "nbf";
	// "iat" may be at most MaxIssuedAtSkew (or Leeway, if longer) in the
	// future.
	Leeway time.Duration
	// Anonymous turns anonymous mode on.
	Anonymous bool
	// CookieName names the anonymous id cookie (default "danmakud_anon").
	CookieName string
	// SecureCookie says when the anonymous cookie has the Secure
	// attribute: CookieSecureAuto (the default) on requests that came
	// over TLS, CookieSecureAlways (behind a proxy that terminates TLS)
	// or CookieSecureNever.
	SecureCookie CookieSecure
	// CookieMaxAge is the anonymous cookie's lifetime (default one year).
	CookieMaxAge time.Duration
	// AdminPassword is the admin's sign-in password; empty means AdminKey.
	AdminPassword string
	// AdminTTL is the lifetime of admin tokens from AdminLogin (default
	// 12 h).
	AdminTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator verifies tokens and anonymous cookies and issues both. It
// is safe for concurrent use. The zero Authenticator is not usable; call
// New.
type Authenticator struct {
	cfg       Config
	parser    *jwt.Parser
	cookieKey []byte
	adminHash [sha256.Size]byte
}

// New returns an Authenticator for cfg, with defaults filled in. It
// returns an error when the secret is too short.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: secret is %d bytes; it must be at least %d", len(cfg.Secret), MinSecretLen)
	}
	if cfg.AdminPassword != "" && len(cfg.AdminPassword) < MinAdminPasswordLen {
		return nil, fmt.Errorf("auth: admin password is %d characters; it must be at least %d (or empty, to use the admin key)", len(cfg.AdminPassword), MinAdminPasswordLen)
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.CookieMaxAge <= 0 {
		cfg.CookieMaxAge = DefaultCookieMaxAge
	}
	if cfg.AdminTTL <= 0 {
		cfg.AdminTTL = DefaultAdminTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	a := &Authenticator{
		cfg:       cfg,
		parser:    jwt.NewParser(opts...),
		cookieKey: derive(cfg.Secret, "danmakud anonymous cookie v1"),
	}
	admin := cfg.AdminPassword
	if admin == "" {
		admin = a.AdminKey()
	}
	a.adminHash = sha256.Sum256([]byte(admin))
	return a, nil
}

// derive returns a key for one purpose, derived from the secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Anonymous reports whether anonymous mode is on.
func (a *Authenticator) Anonymous() bool { return a.cfg.Anonymous }

// claims is the token payload.
type claims struct {
	Role  string   `json:"role,omitempty"`
	Rooms []string `json:"rooms,omitempty"`
	jwt.RegisteredClaims
}

func unauthorized(msg string) *danmaku.Error {
	return &danmaku.Error{Code: danmaku.EUNAUTHORIZED, Message: msg}
}

// tokenError maps a parse error to a client message; the message never
// holds any part of the token.
func tokenError(err error) *danmaku.Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized("token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthorized("token is not valid yet")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return unauthorized("token lacks a required claim (exp, and iss or aud when configured)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return unauthorized("token has the wrong issuer")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthorized("token has the wrong audience")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthorized("token signature is invalid or not HS256")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("token is malformed")
	}
	return unauthorized("token is invalid")
}

// Verify checks a token and returns the actor it names. Every error is an
// EUNAUTHORIZED *danmaku.Error.
func (a *Authenticator) Verify(token string) (danmaku.Actor, error) {
	if token == "" {
		return danmaku.Actor{}, unauthorized("token is empty")
	}
	if len(token) > MaxTokenLen {
		return danmaku.Actor{}, unauthorized(fmt.Sprintf("token is longer than %d bytes", MaxTokenLen))
	}
	if err := checkEncoding(token); err != nil {
		return danmaku.Actor{}, err
	}
	var c claims
	_, err := a.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, jwt.ErrTokenSignatureInvalid
		}
		return a.cfg.Secret, nil
	})
	if err != nil {
		return danmaku.Actor{}, tokenError(err)
	}
	if c.IssuedAt != nil && c.IssuedAt.After(a.cfg.Now().Add(max(MaxIssuedAtSkew, a.cfg.Leeway))) {
		return danmaku.Actor{}, unauthorized("token is not valid yet")
	}
	return actorFromClaims(&c)
}

// strictB64 decodes base64url without padding and refuses non-zero unused
// bits in the last character, so that a token has one spelling only.
var strictB64 = base64.RawURLEncoding.Strict()

// checkEncoding refuses a token whose parts are not canonical base64url
// (a signature whose last character has non-zero unused bits decodes to
// the same bytes as the canonical one) and whose "exp", "nbf" or "iat" is
// anything but a JSON number (a JSON string "exp" would otherwise be read
// as a date).
func checkEncoding(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return unauthorized("token is malformed")
	}
	var payload []byte
	for i, p := range parts {
		b, err := strictB64.DecodeString(p)
		if err != nil {
			return unauthorized("token is not canonical base64url")
		}
		if i == 1 {
			payload = b
		}
	}
	var times struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(payload, &times); err != nil {
		return unauthorized("token is malformed")
	}
	for name, v := range map[string]json.RawMessage{"exp": times.Exp, "nbf": times.Nbf, "iat": times.Iat} {
		if len(v) == 0 {
			continue
		}
		var n json.Number
		if v[0] == '"' || json.Unmarshal(v, &n) != nil {
			return unauthorized("token claim " + name + " must be a number of seconds")
		}
	}
	return nil
}

func actorFromClaims(c *claims) (danmaku.Actor, error) {
	if c.Subject == "" {
		return danmaku.Actor{}, unauthorized("token has no subject (sub)")
	}
	if err := danmaku.ValidateUserID("sub", c.Subject); err != nil {
		return danmaku.Actor{}, unauthorized("token subject is not a valid user id")
	}
	if strings.HasPrefix(c.Subject, AnonymousPrefix) {
		return danmaku.Actor{}, unauthorized("token subject may not start with " + AnonymousPrefix)
	}
	role, err := ParseRole(c.Role)
	if err != nil {
		return danmaku.Actor{}, unauthorized("token has an unknown role")
	}
	if len(c.Rooms) > MaxTokenRooms {
		return danmaku.Actor{}, unauthorized(fmt.Sprintf("token lists more than %d rooms", MaxTokenRooms))
	}
	for _, room := range c.Rooms {
		if danmaku.ValidateObjectID(room) != nil {
			return danmaku.Actor{}, unauthorized("token lists an invalid room id")
		}
	}
	act := danmaku.Actor{UserID: c.Subject, Role: role}
	if role == danmaku.RoleModerator && len(c.Rooms) > 0 {
		act.Rooms = append([]string(nil), c.Rooms...)
	}
	return act, nil
}

// ParseRole parses "viewer", "moderator" or "admin"; the empty string is
// a viewer.
func ParseRole(s string) (danmaku.Role, error) {
	switch s {
	case "", "viewer":
		return danmaku.RoleViewer, nil
	case "moderator":
		return danmaku.RoleModerator, nil
	case "admin":
		return danmaku.RoleAdmin, nil
	}
	return danmaku.RoleViewer, fmt.Errorf("unknown role %q: want viewer, moderator or admin", s)
}

// TokenRequest describes a token to issue.
type TokenRequest struct {
	UserID string
	Role   danmaku.Role
	Rooms  []string      // Rooms a moderator moderates.
	TTL    time.Duration // Lifetime; must be positive.
}

// Issue signs a token for req with the configured secret, issuer and
// audience: for tests, the command line and the admin sign-in. The host
// site issues its users' tokens itself in the same format.
func (a *Authenticator) Issue(req TokenRequest) (string, error) {
	if req.TTL <= 0 {
		return "", fmt.Errorf("issue token: lifetime must be positive")
	}
	if err := danmaku.ValidateUserID("userId", req.UserID); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	if strings.HasPrefix(req.UserID, AnonymousPrefix) {
		return "", fmt.Errorf("issue token: user id may not start with %s", AnonymousPrefix)
	}
	now := a.cfg.Now()
	c := claims{
		Role: req.Role.String(),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   req.UserID,
			Issuer:    a.cfg.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(req.TTL)),
		},
	}
	if req.Role == danmaku.RoleModerator {
		c.Rooms = req.Rooms
	}
	if a.cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{a.cfg.Audience}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &c).SignedString(a.cfg.Secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return s, nil
}

// AdminKey returns the admin credential used when no admin password is
// configured: a key derived from the secret, printable by the command
// line. It is not a token and cannot sign one.
func (a *Authenticator) AdminKey() string {
	return base64.RawURLEncoding.EncodeToString(derive(a.cfg.Secret, "danmakud admin key v1"))
}

// AdminLogin checks the admin credential in constant time and returns an
// admin token valid for AdminTTL. A wrong credential gives EUNAUTHORIZED;
// callers should rate-limit attempts per address and in total.
func (a *Authenticator) AdminLogin(password string) (string, error) {
	got := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(got[:], a.adminHash[:]) != 1 {
		return "", unauthorized("wrong admin password")
	}
	return a.Issue(TokenRequest{UserID: DefaultAdminUserID, Role: danmaku.RoleAdmin, TTL: a.cfg.AdminTTL})
}

// ErrNoCredentials is returned by Authenticate when a request carries no
// token and no anonymous cookie.
var ErrNoCredentials = &danmaku.Error{Code: danmaku.EUNAUTHORIZED, Message: "a token is required"}

// Authenticate returns the actor of r, from the first of:
//
//   - an "Authorization: Bearer <token>" header;
//   - a "token" query parameter, only on a request marked with
//     AllowQueryToken (the WebSocket and SSE routes: browsers cannot set
//     headers there); elsewhere the parameter is ignored, so that a token
//     does not travel in URLs that logs and referrers keep;
//   - the anonymous id cookie, in anonymous mode.
//
// A credential that is present but invalid is an error; there is no
// falling back to the next one. A request with none gets ErrNoCredentials.
// The actor's IP is the host part of r.RemoteAddr.
func (a *Authenticator) Authenticate(r *http.Request) (danmaku.Actor, error) {
	act, err := a.authenticate(r)
	if err != nil {
		return danmaku.Actor{}, err
	}
	act.IP = RemoteIP(r)
	return act, nil
}

func (a *Authenticator) authenticate(r *http.Request) (danmaku.Actor, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return danmaku.Actor{}, unauthorized("Authorization header must be \"Bearer <token>\"")
		}
		return a.Verify(strings.TrimSpace(token))
	}
	if r.URL != nil && QueryTokenAllowed(r) {
		if token := r.URL.Query().Get("token"); token != "" {
			return a.Verify(token)
		}
	}
	if a.cfg.Anonymous {
		if c, err := r.Cookie(a.cfg.CookieName); err == nil {
			id, err := a.verifyAnonymous(c.Value)
			if err != nil {
				return danmaku.Actor{}, err
			}
			return danmaku.Actor{UserID: id, Anonymous: true}, nil
		}
	}
	return danmaku.Actor{}, ErrNoCredentials
}

// queryTokenKey marks a request's context: its route accepts ?token=.
type queryTokenKey struct{}

// AllowQueryToken returns r marked so that Authenticate reads a "token"
// query parameter. Routes that browsers open without headers (WebSocket,
// EventSource) are marked by their handler's wrapper; see webapi.QueryToken.
func AllowQueryToken(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), queryTokenKey{}, true))
}

// QueryTokenAllowed reports whether r was marked with AllowQueryToken.
func QueryTokenAllowed(r *http.Request) bool {
	ok, _ := r.Context().Value(queryTokenKey{}).(bool)
	return ok
}

// RemoteIP returns the host part of r.RemoteAddr, or all of it when it has
// no port. It does not trust forwarding headers; a deployment behind a
// proxy sets r.RemoteAddr itself.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RequireBearer returns h behind a check of the request's
// "Authorization: Bearer" header against token, compared in constant
// time; a request without it gets 401 with a JSON error. An empty token
// returns h unchanged. It guards the operator's endpoints (/metrics).
func RequireBearer(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="danmakud"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"a bearer token is required"}}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
