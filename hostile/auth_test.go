package hostile

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signToken signs claims with key and method, as an attacker or a host
// site would.
func signToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// badTokens returns tokens that every route must refuse with 401.
func badTokens(t *testing.T) map[string]string {
	exp := time.Now().Add(time.Hour).Unix()
	admin := jwt.MapClaims{"sub": "mallory", "role": "admin", "exp": exp}
	return map[string]string{
		"forged":       signToken(t, jwt.SigningMethodHS256, []byte("not-the-server-secret-0123456789abcdef"), admin),
		"expired":      signToken(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "mallory", "role": "admin", "exp": time.Now().Add(-time.Hour).Unix()}),
		"no exp":       signToken(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "mallory", "role": "admin"}),
		"HS512":        signToken(t, jwt.SigningMethodHS512, []byte(testSecret), admin),
		"alg none":     signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, admin),
		"unknown role": signToken(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "mallory", "role": "root", "exp": exp}),
		"anon subject": signToken(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "anon-AAAAAAAAAAAAAAAAAAAAAA", "exp": exp}),
		"garbage":      "abc.def.ghi",
		"oversized":    strings.Repeat("a", 5000),
	}
}

// route is one protected route with a body that is valid for it.
type route struct {
	method, path, body string
	room               bool // Acts on the room "r1" (a moderator of r1 may).
}

var protectedRoutes = []route{
	{"GET", "/admin/api/feed", "", false},
	{"GET", "/admin/api/feed?room=r1", "", true},
	{"GET", "/admin/api/words", "", false},
	{"POST", "/admin/api/words", `{"word":"spam","action":"reject"}`, false},
	{"DELETE", "/admin/api/words", `{"word":"spam"}`, false},
	{"GET", "/admin/api/bans", "", false},
	{"POST", "/admin/api/bans", `{"userId":"u9","reason":"test","seconds":60}`, false},
	{"DELETE", "/admin/api/bans", `{"userId":"u9"}`, false},
	{"GET", "/admin/api/rooms/r1", "", true},
	{"POST", "/admin/api/rooms/r1", `{"paused":false}`, true},
	{"POST", "/admin/api/rooms/r1/live/start", `{}`, true},
	{"POST", "/admin/api/rooms/r1/live/end", `{}`, true},
	{"GET", "/admin/api/stats", "", false},
	{"POST", "/admin/api/import/r1", `<?xml version="1.0" encoding="UTF-8"?><i></i>`, true},
}

// refused reports whether status refuses a request for its credential.
// The admin routes answer 401 to a missing or invalid token; the import
// route answers 403 (docs/security.md notes it).
func refused(status int) bool { return status == 401 || status == 403 }

// do sends one request with tok (none if empty) and returns the status and
// body.
func do(t *testing.T, c *http.Client, method, url, tok, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		ct := "application/json"
		if strings.HasPrefix(body, "<") {
			ct = "application/xml"
		}
		req.Header.Set("Content-Type", ct)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestTokensOnProtectedRoutes checks every admin route with no token,
// forged, expired, unsigned and otherwise invalid tokens (401), viewer
// tokens and tokens of another room's moderator (403), and that the right
// role is let through. Sends and WebSocket upgrades with an invalid token
// are refused too, never downgraded to anonymous.
func TestTokensOnProtectedRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false")
	c := newClient()
	viewer := s.token("vic", "viewer")
	otherMod := s.token("oscar", "moderator", "r2")
	mod := s.token("mia", "moderator", "r1")
	admin := s.token("ada", "admin")
	bad := badTokens(t)
	for _, rt := range protectedRoutes {
		url := s.url + rt.path
		if st, b := do(t, c, rt.method, url, "", rt.body); !refused(st) || !isJSONError(b) {
			t.Errorf("%s %s without a token: %d %s", rt.method, rt.path, st, b)
		}
		for name, tok := range bad {
			if st, b := do(t, c, rt.method, url, tok, rt.body); !refused(st) || !isJSONError(b) {
				t.Errorf("%s %s with a %s token: %d %s", rt.method, rt.path, name, st, b)
			}
		}
		for name, tok := range map[string]string{"viewer": viewer, "other room's moderator": otherMod} {
			if st, b := do(t, c, rt.method, url, tok, rt.body); st != 403 || !isJSONError(b) {
				t.Errorf("%s %s as %s: %d %s", rt.method, rt.path, name, st, b)
			}
		}
		st, b := do(t, c, rt.method, url, mod, rt.body)
		if rt.room && (st == 401 || st == 403) || !rt.room && st != 403 {
			t.Errorf("%s %s as the room's moderator: %d %s", rt.method, rt.path, st, b)
		}
		if st, b := do(t, c, rt.method, url, admin, rt.body); st == 401 || st == 403 || st >= 500 {
			t.Errorf("%s %s as admin: %d %s", rt.method, rt.path, st, b)
		}
	}
	for name, tok := range bad {
		if st, b := do(t, c, "POST", s.url+"/danmu/send", tok, string(sendBody("r1", "hi"))); st != 401 || !isJSONError(b) {
			t.Errorf("send with a %s token: %d %s", name, st, b)
		}
		if st, b := do(t, c, "GET", s.url+"/danmu/me", tok, ""); st != 401 || !isJSONError(b) {
			t.Errorf("/danmu/me with a %s token: %d %s", name, st, b)
		}
		if st := s.upgradeStatusToken("r1", tok); st != 401 {
			t.Errorf("websocket upgrade with a %s token: %d", name, st)
		}
	}
	s.alive()
}

// TestViewerCannotDeleteOthers checks that a viewer may delete only their
// own danmaku, a room's moderator any in that room, and nobody without a
// credential.
func TestViewerCannotDeleteOthers(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false", "-anonymous=false")
	c := newClient()
	alice, bob := s.token("alice", "viewer"), s.token("bob", "viewer")
	mod := s.token("mia", "moderator", "r1")
	id1 := send(t, c, s.url, alice, "r1", "alice one")
	id2 := send(t, c, s.url, alice, "r1", "alice two")
	cases := []struct {
		name, tok, id string
		want          int
	}{
		{"no token", "", id1, 403},
		{"bob", bob, id1, 403},
		{"other room's moderator", s.token("oscar", "moderator", "r2"), id1, 403},
		{"alice", alice, id1, 200},
		{"moderator", mod, id2, 200},
	}
	for _, tc := range cases {
		st, b := do(t, c, "DELETE", s.url+"/danmu/item/r1/"+tc.id, tc.tok, "")
		if st != tc.want {
			t.Errorf("%s deletes: %d %s, want %d", tc.name, st, b, tc.want)
		}
		if st != 200 && !isJSONError(b) {
			t.Errorf("%s deletes: not a JSON error: %s", tc.name, b)
		}
	}
	// Without anonymous mode a send needs a token, and the body's userId
	// cannot name someone else.
	if st, b := do(t, c, "POST", s.url+"/danmu/send", "", string(sendBody("r1", "anon"))); st != 401 {
		t.Errorf("send without a token: %d %s", st, b)
	}
	body := `{"objectId":"r1","userId":"alice","content":{"text":"as alice"}}`
	if st, b := do(t, c, "POST", s.url+"/danmu/send", bob, body); st != 400 {
		t.Errorf("bob sends as alice: %d %s", st, b)
	}
}

// TestOrigins checks that WebSocket upgrades from another site are refused
// with a 403 JSON error while same-origin, allow-listed and non-browser
// upgrades work, and that CORS headers go only to allowed origins.
func TestOrigins(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-origins", "https://player.example", "-cors-origins", "https://player.example")
	cases := []struct {
		origin string
		want   int
	}{
		{"", 101},
		{"http://" + s.addr, 101},
		{"https://player.example", 101},
		{"https://PLAYER.example:443", 101},
		{"https://evil.example", 403},
		{"http://player.example", 403},
		{"https://player.example.evil.example", 403},
		{"null", 403},
		{"http://127.0.0.1:1", 403},
	}
	for _, tc := range cases {
		if got := s.upgradeStatus("r1", tc.origin); got != tc.want {
			t.Errorf("upgrade from origin %q: %d, want %d", tc.origin, got, tc.want)
		}
	}
	// The refusal is a JSON error.
	req, _ := http.NewRequest("GET", s.url+"/danmu/ws/r1", nil)
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "https://evil.example"} {
		req.Header.Set(k, v)
	}
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !isJSONError(b) {
		t.Errorf("cross-origin upgrade: %d %s, want a 403 JSON error", resp.StatusCode, b)
	}
	for origin, allowed := range map[string]bool{"https://player.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest("OPTIONS", s.url+"/danmu/send", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := newClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("CORS preflight from %s: Access-Control-Allow-Origin %q", origin, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

// TestLogsHoldNoSecrets runs a server with debug JSON logs, uses every
// kind of credential against it, valid and invalid, and checks that the
// log holds none of them: not the secret, a token, a cookie, the admin
// password or the admin key.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const password = "hostile-admin-password-5f2c"
	s := startServer(t, "-admin-password", password, "-rate-limits=false")
	c := newClient()
	secrets := []string{testSecret, password}
	tok := s.token("logan", "viewer")
	secrets = append(secrets, tok)
	send(t, c, s.url, tok, "r1", "hello logs")
	for _, bt := range badTokens(t) {
		secrets = append(secrets, bt)
		do(t, c, "POST", s.url+"/danmu/send", bt, string(sendBody("r1", "x")))
		do(t, c, "GET", s.url+"/danmu/ws/r1?token="+bt, "", "")
	}
	// An anonymous cookie, a forged one, and the admin sign-in.
	resp, err := c.Post(s.url+"/danmu/send", "application/json", bytes.NewReader(sendBody("r1", "anon hello")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, ck := range resp.Cookies() {
		cookie = ck.Value
	}
	if cookie == "" {
		t.Fatal("anonymous send set no cookie")
	}
	secrets = append(secrets, cookie)
	req, _ := http.NewRequest("GET", s.url+"/danmu/me", nil)
	req.Header.Set("Cookie", "danmakud_anon="+cookie+"x")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
	for _, pw := range []string{password, "wrong-password-123"} {
		st, b := do(t, c, "POST", s.url+"/admin/api/login", "", `{"password":"`+pw+`"}`)
		if pw == password {
			var out struct{ Token string }
			if st != 200 || json.Unmarshal(b, &out) != nil || out.Token == "" {
				t.Fatalf("admin sign-in: %d %s", st, b)
			}
			secrets = append(secrets, out.Token)
			do(t, c, "GET", s.url+"/admin/api/stats", out.Token, "")
		}
	}
	key, err := execOutput(s.bin, "-data", s.dir, "-secret", testSecret, "admin-key")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, key)
	s.Close()
	logs := s.logText()
	if !strings.Contains(logs, "danmakud listening") {
		t.Fatalf("no log captured:\n%s", logs)
	}
	for _, sec := range secrets {
		// A long enough part of a token is as telling as all of it.
		probe := sec
		if len(probe) > 24 {
			probe = probe[len(probe)-24:]
		}
		if strings.Contains(logs, probe) {
			t.Errorf("the log holds a credential (…%s)", probe[len(probe)-6:])
		}
	}
	t.Logf("%d log lines checked against %d credentials", strings.Count(logs, "\n")+1, len(secrets))
}
