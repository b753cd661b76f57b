package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	danmaku "github.com/danmakud/danmakud"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")
	testNow    = time.Unix(1_800_000_000, 0)
)

func newAuth(t testing.TB, mod func(*Config)) *Authenticator {
	t.Helper()
	cfg := Config{Secret: testSecret, Now: func() time.Time { return testNow }}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sign signs arbitrary claims with method and key.
func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantUnauthorized asserts that err is EUNAUTHORIZED with a message that
// contains want and nothing of the token or the secret.
func wantUnauthorized(t *testing.T, err error, want, token string) {
	t.Helper()
	var e *danmaku.Error
	if !errors.As(err, &e) || e.Code != danmaku.EUNAUTHORIZED {
		t.Fatalf("err = %v, want EUNAUTHORIZED", err)
	}
	if !strings.Contains(e.Message, want) {
		t.Errorf("message %q does not say %q", e.Message, want)
	}
	msg := err.Error()
	if strings.Contains(msg, string(testSecret)) {
		t.Errorf("message %q holds the secret", msg)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("message %q holds part of the token", msg)
		}
	}
}

func TestVerify(t *testing.T) {
	a := newAuth(t, nil)
	exp := testNow.Add(time.Hour).Unix()
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, testSecret, c) }
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := hs(jwt.MapClaims{"sub": "u1", "role": "viewer", "exp": exp})
	parts := strings.Split(good, ".")
	adminPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","role":"admin","exp":` + jwtNum(exp) + `}`))

	tests := []struct {
		name  string
		token string
		want  danmaku.Actor
		err   string // Part of the expected message; empty for success.
	}{
		{"viewer", good, danmaku.Actor{UserID: "u1"}, ""},
		{"no role is viewer", hs(jwt.MapClaims{"sub": "u2", "exp": exp}), danmaku.Actor{UserID: "u2"}, ""},
		{"moderator with rooms", hs(jwt.MapClaims{"sub": "m", "role": "moderator", "rooms": []string{"r1", "r2"}, "exp": exp}),
			danmaku.Actor{UserID: "m", Role: danmaku.RoleModerator, Rooms: []string{"r1", "r2"}}, ""},
		{"admin", hs(jwt.MapClaims{"sub": "boss", "role": "admin", "exp": exp}), danmaku.Actor{UserID: "boss", Role: danmaku.RoleAdmin}, ""},
		{"rooms ignored for viewer", hs(jwt.MapClaims{"sub": "v", "rooms": []string{"r1"}, "exp": exp}), danmaku.Actor{UserID: "v"}, ""},
		{"unicode user id", hs(jwt.MapClaims{"sub": "用户1", "exp": exp}), danmaku.Actor{UserID: "用户1"}, ""},

		{"expired", hs(jwt.MapClaims{"sub": "u1", "exp": testNow.Add(-time.Minute).Unix()}), danmaku.Actor{}, "expired"},
		{"no expiry", hs(jwt.MapClaims{"sub": "u1"}), danmaku.Actor{}, "required claim"},
		{"not yet valid", hs(jwt.MapClaims{"sub": "u1", "exp": exp, "nbf": testNow.Add(time.Minute).Unix()}), danmaku.Actor{}, "not valid yet"},
		{"forged with another secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-32b"), jwt.MapClaims{"sub": "u1", "exp": exp}), danmaku.Actor{}, "signature"},
		{"payload swapped to admin", parts[0] + "." + adminPayload + "." + parts[2], danmaku.Actor{}, "signature"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", danmaku.Actor{}, "signature"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "u1", "role": "admin", "exp": exp}), danmaku.Actor{}, "signature"},
		{"alg HS512 same secret", sign(t, jwt.SigningMethodHS512, testSecret, jwt.MapClaims{"sub": "u1", "exp": exp}), danmaku.Actor{}, "signature"},
		{"alg HS384 same secret", sign(t, jwt.SigningMethodHS384, testSecret, jwt.MapClaims{"sub": "u1", "exp": exp}), danmaku.Actor{}, "signature"},
		{"alg RS256", sign(t, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"sub": "u1", "exp": exp}), danmaku.Actor{}, "signature"},
		{"unknown role", hs(jwt.MapClaims{"sub": "u1", "role": "superuser", "exp": exp}), danmaku.Actor{}, "unknown role"},
		{"role wrong type", hs(jwt.MapClaims{"sub": "u1", "role": 2, "exp": exp}), danmaku.Actor{}, "token"},
		{"no subject", hs(jwt.MapClaims{"role": "admin", "exp": exp}), danmaku.Actor{}, "no subject"},
		{"anonymous subject", hs(jwt.MapClaims{"sub": "anon-abc", "exp": exp}), danmaku.Actor{}, "anon-"},
		{"control character subject", hs(jwt.MapClaims{"sub": "a\x00b", "exp": exp}), danmaku.Actor{}, "subject"},
		{"bad room", hs(jwt.MapClaims{"sub": "m", "role": "moderator", "rooms": []string{"no spaces"}, "exp": exp}), danmaku.Actor{}, "room"},
		{"garbage", "not-a-token", danmaku.Actor{}, "malformed"},
		{"empty", "", danmaku.Actor{}, "empty"},
		{"too long", strings.Repeat("a", MaxTokenLen+1), danmaku.Actor{}, "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Verify(tt.token)
			if tt.err != "" {
				wantUnauthorized(t, err, tt.err, tt.token)
				if got.UserID != "" {
					t.Errorf("failed Verify returned actor %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UserID != tt.want.UserID || got.Role != tt.want.Role || !slices.Equal(got.Rooms, tt.want.Rooms) || got.Anonymous {
				t.Fatalf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func jwtNum(n int64) string { return strconv.FormatInt(n, 10) }

func TestVerifyIssuerAudience(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.Issuer, c.Audience = "host.example", "danmakud" })
	exp := testNow.Add(time.Hour).Unix()
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, testSecret, c) }
	ok := hs(jwt.MapClaims{"sub": "u", "exp": exp, "iss": "host.example", "aud": []string{"other", "danmakud"}})
	if _, err := a.Verify(ok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	wrongIss := hs(jwt.MapClaims{"sub": "u", "exp": exp, "iss": "evil.example", "aud": "danmakud"})
	_, err := a.Verify(wrongIss)
	wantUnauthorized(t, err, "issuer", wrongIss)
	wrongAud := hs(jwt.MapClaims{"sub": "u", "exp": exp, "iss": "host.example", "aud": "other"})
	_, err = a.Verify(wrongAud)
	wantUnauthorized(t, err, "audience", wrongAud)
	noAud := hs(jwt.MapClaims{"sub": "u", "exp": exp, "iss": "host.example"})
	_, err = a.Verify(noAud)
	wantUnauthorized(t, err, "required claim", noAud)

	// Issued tokens carry the issuer and audience.
	tok, err := a.Issue(TokenRequest{UserID: "u", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok); err != nil {
		t.Fatalf("Verify(Issue()): %v", err)
	}
}

func TestIssueRoundTrip(t *testing.T) {
	a := newAuth(t, nil)
	tok, err := a.Issue(TokenRequest{UserID: "mod", Role: danmaku.RoleModerator, Rooms: []string{"r1"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	act, err := a.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if act.UserID != "mod" || act.Role != danmaku.RoleModerator || !act.CanModerate("r1") || act.CanModerate("r2") {
		t.Fatalf("actor = %+v", act)
	}
	// The token expires after its lifetime.
	later := newAuth(t, func(c *Config) { c.Now = func() time.Time { return testNow.Add(2 * time.Hour) } })
	_, err = later.Verify(tok)
	wantUnauthorized(t, err, "expired", tok)

	for _, bad := range []TokenRequest{
		{UserID: "", TTL: time.Hour},
		{UserID: "u", TTL: 0},
		{UserID: "anon-x", TTL: time.Hour},
	} {
		if _, err := a.Issue(bad); err == nil {
			t.Errorf("Issue(%+v) succeeded", bad)
		}
	}
}

func TestNewShortSecret(t *testing.T) {
	if _, err := New(Config{Secret: []byte("short")}); err == nil {
		t.Fatal("New accepted a 5-byte secret")
	}
}

func TestAdminLogin(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.AdminPassword = "correct horse battery staple" })
	tok, err := a.AdminLogin("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	act, err := a.Verify(tok)
	if err != nil || act.Role != danmaku.RoleAdmin {
		t.Fatalf("admin token: %+v, %v", act, err)
	}
	for _, wrong := range []string{"", "correct horse", "correct horse battery staple ", a.AdminKey()} {
		_, err := a.AdminLogin(wrong)
		wantUnauthorized(t, err, "wrong admin password", "")
		if wrong != "" && strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q echoes the password", err)
		}
	}

	// Without a password, the derived admin key is the credential.
	k := newAuth(t, nil)
	if _, err := k.AdminLogin(""); err == nil {
		t.Fatal("empty password accepted when none is configured")
	}
	if _, err := k.AdminLogin(k.AdminKey()); err != nil {
		t.Fatalf("AdminLogin(AdminKey()): %v", err)
	}
	other, err := New(Config{Secret: []byte("a-different-secret-of-32-bytes-or-more")})
	if err != nil {
		t.Fatal(err)
	}
	if other.AdminKey() == k.AdminKey() {
		t.Fatal("admin keys of different secrets are equal")
	}
}

func TestAuthenticate(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.Anonymous = true })
	good, err := a.Issue(TokenRequest{UserID: "u1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	anonID, cookie := a.NewAnonymousID()
	forged := sign(t, jwt.SigningMethodHS256, []byte("wrong-secret-wrong-secret-wrong-secret"), jwt.MapClaims{"sub": "u1", "exp": testNow.Add(time.Hour).Unix()})

	tests := []struct {
		name   string
		header string
		query  string
		cookie string
		user   string
		anon   bool
		err    string
	}{
		{"bearer header", "Bearer " + good, "", "", "u1", false, ""},
		{"lower-case scheme", "bearer " + good, "", "", "u1", false, ""},
		{"query token", "", good, "", "u1", false, ""},
		{"header wins over cookie", "Bearer " + good, "", cookie, "u1", false, ""},
		{"cookie", "", "", cookie, anonID, true, ""},
		{"forged header, no fallback to cookie", "Bearer " + forged, "", cookie, "", false, "signature"},
		{"basic auth", "Basic dXNlcjpwYXNz", "", "", "", false, "Bearer"},
		{"forged query", "", forged, "", "", false, "signature"},
		{"tampered cookie", "", "", cookie[:len(cookie)-2] + "xx", "", false, "cookie"},
		{"nothing", "", "", "", "", false, "token is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/danmu/send"
			if tt.query != "" {
				target += "?token=" + tt.query
			}
			r := AllowQueryToken(httptest.NewRequest(http.MethodPost, target, nil))
			r.RemoteAddr = "192.0.2.7:51234"
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: tt.cookie})
			}
			act, err := a.Authenticate(r)
			if tt.err != "" {
				wantUnauthorized(t, err, tt.err, tt.query+tt.header)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if act.UserID != tt.user || act.Anonymous != tt.anon || act.IP != "192.0.2.7" {
				t.Fatalf("actor = %+v, want user %q anonymous %v", act, tt.user, tt.anon)
			}
		})
	}
}

func TestAnonymousOff(t *testing.T) {
	on := newAuth(t, func(c *Config) { c.Anonymous = true })
	_, cookie := on.NewAnonymousID()
	off := newAuth(t, nil)
	r := httptest.NewRequest(http.MethodPost, "/danmu/send", nil)
	r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	if _, err := off.Authenticate(r); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("Authenticate with anonymous mode off = %v, want ErrNoCredentials", err)
	}
	w := httptest.NewRecorder()
	if _, err := off.Identify(w, r); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("Identify with anonymous mode off = %v", err)
	}
	if len(w.Result().Cookies()) != 0 {
		t.Fatal("Identify set a cookie with anonymous mode off")
	}
}

func TestAnonymousCookieTamper(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.Anonymous = true })
	id, value := a.NewAnonymousID()
	if got, err := a.verifyAnonymous(value); err != nil || got != id {
		t.Fatalf("verifyAnonymous = %q, %v", got, err)
	}
	other := newAuth(t, func(c *Config) { c.Anonymous, c.Secret = true, []byte("another-secret-another-secret-another") })
	_, foreign := other.NewAnonymousID()
	_, mac, _ := strings.Cut(value, ".")
	id2, _ := a.NewAnonymousID()
	for name, bad := range map[string]string{
		"other secret":        foreign,
		"id swapped":          id2 + "." + mac,
		"mac dropped":         id,
		"empty mac":           id + ".",
		"wrong prefix":        "user-" + strings.TrimPrefix(value, AnonymousPrefix),
		"short id":            AnonymousPrefix + "abc." + mac,
		"jwt as cookie":       "anon-x.y.z",
		"empty":               "",
		"padding added":       strings.Replace(value, ".", "==.", 1),
		"flipped mac char":    value[:len(value)-1] + string(value[len(value)-1]^1),
		"upper-cased id char": strings.ToUpper(value[:8]) + value[8:],
	} {
		if _, err := a.verifyAnonymous(bad); err == nil {
			t.Errorf("%s: cookie %q accepted", name, bad)
		}
	}
}

func TestIdentify(t *testing.T) {
	a := newAuth(t, func(c *Config) { c.Anonymous = true })
	// No credentials: a new id and a cookie.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	act, err := a.Identify(w, r)
	if err != nil || !act.Anonymous || !strings.HasPrefix(act.UserID, AnonymousPrefix) {
		t.Fatalf("Identify = %+v, %v", act, err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies set", len(cookies))
	}
	c := cookies[0]
	if c.Name != DefaultCookieName || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
		t.Fatalf("cookie = %+v", c)
	}
	// The cookie identifies the same browser next time, without a new one.
	r2 := httptest.NewRequest(http.MethodGet, "/", nil)
	r2.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	w2 := httptest.NewRecorder()
	act2, err := a.Identify(w2, r2)
	if err != nil || act2.UserID != act.UserID {
		t.Fatalf("second Identify = %+v, %v; want %s", act2, err, act.UserID)
	}
	if len(w2.Result().Cookies()) != 0 {
		t.Fatal("a cookie was set although the browser had one")
	}
	// A tampered cookie is replaced by a fresh id.
	r3 := httptest.NewRequest(http.MethodGet, "/", nil)
	r3.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value + "x"})
	w3 := httptest.NewRecorder()
	act3, err := a.Identify(w3, r3)
	if err != nil || act3.UserID == act.UserID || len(w3.Result().Cookies()) != 1 {
		t.Fatalf("Identify with a tampered cookie = %+v, %v", act3, err)
	}
	// A bad token is still an error.
	r4 := AllowQueryToken(httptest.NewRequest(http.MethodGet, "/?token=bad", nil))
	if _, err := a.Identify(httptest.NewRecorder(), r4); err == nil {
		t.Fatal("Identify accepted a bad token")
	}
}

func TestSecureCookie(t *testing.T) {
	plain := httptest.NewRequest("GET", "http://example.test/", nil)
	tls := httptest.NewRequest("GET", "https://example.test/", nil)
	for _, tt := range []struct {
		mode        string
		plain, tlsR bool
	}{
		{"auto", false, true},
		{"true", true, true},
		{"false", false, false},
	} {
		mode, err := ParseCookieSecure(tt.mode)
		if err != nil {
			t.Fatal(err)
		}
		a := newAuth(t, func(c *Config) { c.Anonymous, c.SecureCookie, c.CookieName = true, mode, "dm" })
		_, v := a.NewAnonymousID()
		if c := a.AnonymousCookie(plain, v); c.Secure != tt.plain || c.Name != "dm" || !c.HttpOnly {
			t.Errorf("%s over HTTP: cookie = %+v", tt.mode, c)
		}
		if c := a.AnonymousCookie(tls, v); c.Secure != tt.tlsR {
			t.Errorf("%s over TLS: Secure = %v", tt.mode, c.Secure)
		}
	}
	if _, err := ParseCookieSecure("sometimes"); err == nil {
		t.Error("ParseCookieSecure accepted an unknown value")
	}
}

func TestNonCanonicalSignatureRefused(t *testing.T) {
	a := newAuth(t, nil)
	good, err := a.Issue(TokenRequest{UserID: "u", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(good); err != nil {
		t.Fatal(err)
	}
	// A 32-byte signature is 43 characters; the last one carries 4 bits
	// and 2 unused ones. Setting an unused bit gives a second spelling of
	// the same signature bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	for bits := 1; bits < 4; bits++ {
		bad := good[:len(good)-1] + string(alphabet[last|bits])
		if raw, err := base64.RawURLEncoding.DecodeString(bad[strings.LastIndexByte(bad, '.')+1:]); err != nil {
			t.Fatalf("lenient decoding refused the variant: %v", err)
		} else if want, _ := base64.RawURLEncoding.DecodeString(good[strings.LastIndexByte(good, '.')+1:]); string(raw) != string(want) {
			t.Fatal("variant decodes to other bytes; the test is wrong")
		}
		_, err := a.Verify(bad)
		wantUnauthorized(t, err, "canonical", bad)
	}
}

func TestTimeClaimsMustBeNumbers(t *testing.T) {
	a := newAuth(t, nil)
	exp := testNow.Add(time.Hour).Unix()
	for _, tt := range []struct {
		name string
		c    jwt.MapClaims
		want string
	}{
		{"string exp", jwt.MapClaims{"sub": "u", "exp": strconv.FormatInt(exp, 10)}, "exp must be a number"},
		{"string nbf", jwt.MapClaims{"sub": "u", "exp": exp, "nbf": "0"}, "nbf must be a number"},
		{"string iat", jwt.MapClaims{"sub": "u", "exp": exp, "iat": "0"}, "iat must be a number"},
		{"boolean exp", jwt.MapClaims{"sub": "u", "exp": true}, "exp must be a number"},
		{"iat in the future", jwt.MapClaims{"sub": "u", "exp": exp, "iat": testNow.Add(MaxIssuedAtSkew + time.Second).Unix()}, "not valid yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := sign(t, jwt.SigningMethodHS256, testSecret, tt.c)
			_, err := a.Verify(tok)
			wantUnauthorized(t, err, tt.want, tok)
		})
	}
	// A numeric exp and an iat within the skew are accepted.
	tok := sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "u", "exp": exp, "iat": testNow.Add(MaxIssuedAtSkew - time.Second).Unix()})
	if _, err := a.Verify(tok); err != nil {
		t.Fatalf("iat within the skew: %v", err)
	}
}

func TestAdminPasswordMinimumLength(t *testing.T) {
	_, err := New(Config{Secret: testSecret, AdminPassword: "short"})
	if err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("New with a 5-character admin password: %v", err)
	}
	if _, err := New(Config{Secret: testSecret, AdminPassword: strings.Repeat("x", MinAdminPasswordLen)}); err != nil {
		t.Fatal(err)
	}
}

func TestRequireBearer(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := RequireBearer("metrics-secret-token", ok)
	for _, tt := range []struct {
		header string
		want   int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic metrics-secret-token", http.StatusUnauthorized},
		{"Bearer metrics-secret-token", http.StatusNoContent},
		{"bearer metrics-secret-token", http.StatusNoContent},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("Authorization %q: %d, want %d", tt.header, w.Code, tt.want)
		}
		if w.Code == http.StatusUnauthorized && !strings.Contains(w.Body.String(), `"code":"unauthorized"`) {
			t.Errorf("401 body %q is not a JSON error", w.Body.String())
		}
	}
	if RequireBearer("", ok) == nil {
		t.Error("RequireBearer with no token returned nil")
	}
}

func FuzzVerify(f *testing.F) {
	a := newAuth(f, nil)
	good, err := a.Issue(TokenRequest{UserID: "u", Role: danmaku.RoleModerator, Rooms: []string{"r"}, TTL: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", good + "x", strings.Replace(good, ".", "..", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		act, err := a.Verify(token)
		if err != nil {
			if danmaku.ErrorCode(err) != danmaku.EUNAUTHORIZED {
				t.Fatalf("error code %q", danmaku.ErrorCode(err))
			}
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q holds the token", err)
			}
			return
		}
		// Only tokens signed with the secret verify; the fuzzer cannot
		// forge one, so any success must carry a real user.
		if act.UserID == "" {
			t.Fatalf("Verify(%q) succeeded with no user", token)
		}
	})
}
