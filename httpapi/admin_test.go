package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/httpapi"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/moderation"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
)

// adminEnv is a server with real authentication, moderation and a hub.
type adminEnv struct {
	srv   *httptest.Server
	auth  *auth.Authenticator
	store *pebble.Store
}

func newAdminEnv(t *testing.T) adminEnv {
	t.Helper()
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Secret: []byte(strings.Repeat("s", 32)), Anonymous: true, AdminPassword: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := live.New(live.Config{})
	if err != nil {
		t.Fatal(err)
	}
	guard := moderation.NewGuard(moderation.NewFilter(), moderation.NewLimiter(moderation.LimitConfig{Disabled: true}),
		moderation.NewBanList(), moderation.BanReject, nil)
	svc := service.New(service.Config{}, st, service.Options{Broker: hub, Live: hub, Moderator: guard})
	api := httpapi.New(httpapi.Config{CORSOrigins: []string{"https://player.example"}}, svc, a)
	api.MountAdmin(httpapi.Admin{
		Guard: guard, Hub: hub, Login: a.AdminLogin, Settings: st,
		LoginLimits: moderation.NewLoginLimiter(moderation.LoginLimitConfig{IPRate: 0.01, IPBurst: 3}),
	})
	api.MountFormats(st)
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		hub.Close()
		st.Close()
	})
	return adminEnv{srv: srv, auth: a, store: st}
}

func (e adminEnv) token(t *testing.T, user string, role danmaku.Role, rooms ...string) string {
	t.Helper()
	tok, err := e.auth.Issue(auth.TokenRequest{UserID: user, Role: role, Rooms: rooms, TTL: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e adminEnv) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestAdminAPIRoles(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	mod := e.token(t, "mod", danmaku.RoleModerator, "room1")
	viewer := e.token(t, "joe", danmaku.RoleViewer)
	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no credential", "GET", "/admin/api/feed", "", "", 401},
		{"viewer", "GET", "/admin/api/feed", viewer, "", 403},
		{"moderator, all rooms", "GET", "/admin/api/feed", mod, "", 403},
		{"moderator, own room", "GET", "/admin/api/feed?room=room1", mod, "", 200},
		{"moderator, other room", "GET", "/admin/api/feed?room=room2", mod, "", 403},
		{"admin", "GET", "/admin/api/feed", admin, "", 200},
		{"moderator bans in own room", "POST", "/admin/api/bans", mod, `{"userId":"troll","room":"room1","reason":"spam","seconds":60}`, 200},
		{"moderator bans globally", "POST", "/admin/api/bans", mod, `{"userId":"troll","reason":"spam"}`, 403},
		{"moderator edits global words", "POST", "/admin/api/words", mod, `{"word":"x","action":"mask"}`, 403},
		{"moderator edits room words", "POST", "/admin/api/words", mod, `{"room":"room1","word":"剧透","action":"mask"}`, 200},
		{"viewer starts a live session", "POST", "/admin/api/rooms/room1/live/start", viewer, "", 403},
		{"moderator starts a live session", "POST", "/admin/api/rooms/room1/live/start", mod, "", 200},
		{"second start conflicts", "POST", "/admin/api/rooms/room1/live/start", mod, "", 409},
		{"bad room settings", "POST", "/admin/api/rooms/room1", mod, `{"tickMs":50}`, 400},
		{"stats need admin", "GET", "/admin/api/stats", mod, "", 403},
		{"forged token", "GET", "/admin/api/feed", admin + "x", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := e.do(t, tc.method, tc.path, tc.token, tc.body); got != tc.want {
				t.Fatalf("status %d, want %d: %v", got, tc.want, body)
			}
		})
	}
}

func TestAdminActionsTakeEffect(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	alice := e.token(t, "alice", danmaku.RoleViewer)
	send := func(text string) (int, map[string]any) {
		return e.do(t, "POST", "/danmu/send", alice, `{"objectId":"r","content":{"text":"`+text+`"}}`)
	}
	if st, _ := send("hello"); st != 200 {
		t.Fatalf("first send: %d", st)
	}
	e.do(t, "POST", "/admin/api/words", admin, `{"word":"广告","action":"reject"}`)
	if st, body := send("看 广-告"); st != 422 || strings.Contains(body["error"].(map[string]any)["message"].(string), "广告") {
		t.Fatalf("a reject word added at run time: %d %v (the word must not be echoed)", st, body)
	}
	e.do(t, "POST", "/admin/api/rooms/r", admin, `{"paused":true}`)
	if st, _ := send("paused?"); st != 403 {
		t.Fatalf("send in a paused room: %d", st)
	}
	e.do(t, "POST", "/admin/api/rooms/r", admin, `{"paused":false}`)
	e.do(t, "POST", "/admin/api/bans", admin, `{"userId":"alice","reason":"spam","seconds":600}`)
	if st, _ := send("banned?"); st != 403 {
		t.Fatalf("send while banned: %d", st)
	}
	_, feed := e.do(t, "GET", "/admin/api/feed?room=r", admin, "")
	events := feed["events"].([]any)
	if len(events) != 4 {
		t.Fatalf("feed holds %d events, want 4", len(events))
	}
	first := events[0].(map[string]any)
	if first["outcome"] != "rejected" || first["code"] != "forbidden" || first["text"] != "banned?" {
		t.Fatalf("newest feed event = %v", first)
	}
}

func TestAdminLogin(t *testing.T) {
	e := newAdminEnv(t)
	if st, _ := e.do(t, "POST", "/admin/api/login", "", `{"password":"wrong"}`); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	st, body := e.do(t, "POST", "/admin/api/login", "", `{"password":"correct horse battery"}`)
	if st != 200 {
		t.Fatalf("right password: %d %v", st, body)
	}
	if st, _ := e.do(t, "GET", "/admin/api/stats", body["token"].(string), ""); st != 200 {
		t.Fatalf("admin token from login: %d", st)
	}
	// The limiter allows a burst of 3 attempts; the fourth is throttled.
	e.do(t, "POST", "/admin/api/login", "", `{"password":"wrong"}`)
	st, body = e.do(t, "POST", "/admin/api/login", "", `{"password":"correct horse battery"}`)
	if st != 429 {
		t.Fatalf("fourth sign-in attempt: %d, want 429", st)
	}
	if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, "too many sign-in attempts") || strings.Contains(msg, "danmaku") {
		t.Fatalf("429 error = %s, want one about sign-in attempts", msg)
	}
}

func TestCORS(t *testing.T) {
	e := newAdminEnv(t)
	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/danmu/send", nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://player.example" {
		t.Fatalf("allowed preflight: %d %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a foreign origin got CORS headers")
	}
}

func TestSendRefusesInvisibleText(t *testing.T) {
	e := newAdminEnv(t)
	user := e.token(t, "viewer1", danmaku.RoleViewer)
	for _, tt := range []struct{ text, why string }{
		{`\u200b\u200c\u2060`, "no visible character"},
		{`\u3164`, "no visible character"},
		{`a\u0301\u0301\u0301\u0301`, "combining marks"},
		{`\u202emaps`, "bidirectional"},
	} {
		st, body := e.do(t, "POST", "/danmu/send", user, `{"objectId":"room1","content":{"text":"`+tt.text+`"}}`)
		msg := fmt.Sprint(body["error"])
		if st != 400 || !strings.Contains(msg, "invalid") || !strings.Contains(msg, tt.why) {
			t.Errorf("send %s: %d %s, want 400 invalid saying %q", tt.text, st, msg, tt.why)
		}
	}
}

func TestWordInsideField(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	user := e.token(t, "viewer1", danmaku.RoleViewer)
	for _, w := range []string{`{"word":"scam","action":"reject","inside":true}`, `{"word":"spam","action":"reject"}`} {
		if st, body := e.do(t, "POST", "/admin/api/words", admin, w); st != 200 {
			t.Fatalf("add %s: %d %v", w, st, body)
		}
	}
	st, body := e.do(t, "GET", "/admin/api/words", admin, "")
	if b, _ := json.Marshal(body); st != 200 || !strings.Contains(string(b), `"inside":true`) {
		t.Fatalf("word list: %d %s", st, b)
	}
	for _, tt := range []struct {
		text string
		want int
	}{
		{"scammers everywhere", 422},
		{"antispam filter", 200},
		{"buy 5p4m now", 422},
	} {
		if st, body := e.do(t, "POST", "/danmu/send", user, `{"objectId":"room1","content":{"text":"`+tt.text+`"}}`); st != tt.want {
			t.Errorf("send %q: %d %v, want %d", tt.text, st, body, tt.want)
		}
	}
}

// TestAdminChangesAreStored checks that each admin change is written to
// the settings store, and that a change refused for one bad field writes
// and applies nothing.
func TestAdminChangesAreStored(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	ctx := t.Context()
	must := func(st int, body map[string]any) {
		t.Helper()
		if st != 200 {
			t.Fatalf("status %d: %v", st, body)
		}
	}
	must(e.do(t, "POST", "/admin/api/rooms/r", admin, `{"paused":true,"slowModeSeconds":5,"tickMs":300,"maxPerTick":9}`))
	got, err := e.store.Room(ctx, "r")
	want := danmaku.RoomSettings{ObjectID: "r", Paused: true, SlowMode: 5 * time.Second, TickInterval: 300 * time.Millisecond, MaxPerTick: 9}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored room = %+v, %v; want %+v", got, err, want)
	}
	if st, body := e.do(t, "POST", "/admin/api/rooms/r", admin, `{"paused":false,"slowModeSeconds":0,"tickMs":50}`); st != 400 {
		t.Fatalf("bad tick: %d %v", st, body)
	}
	if got, _ := e.store.Room(ctx, "r"); !reflect.DeepEqual(got, want) {
		t.Fatalf("a refused change was stored: %+v", got)
	}
	if _, body := e.do(t, "GET", "/admin/api/rooms/r", admin, ""); body["paused"] != true || body["slowModeSeconds"] != 5.0 {
		t.Fatalf("a refused change was applied: %v", body)
	}
	must(e.do(t, "POST", "/admin/api/rooms/r/live/start", admin, ""))
	if got, _ := e.store.Room(ctx, "r"); got.Live == nil || !got.Paused {
		t.Fatalf("stored room after a live start = %+v", got)
	}
	must(e.do(t, "POST", "/admin/api/rooms/r/live/end", admin, ""))
	if got, _ := e.store.Room(ctx, "r"); got.Live != nil {
		t.Fatalf("stored room after a live end = %+v", got)
	}

	must(e.do(t, "POST", "/admin/api/words", admin, `{"room":"r","word":"ＳＰＡＭ","action":"reject","inside":true}`))
	must(e.do(t, "POST", "/admin/api/bans", admin, `{"userId":"troll","seconds":60}`))
	all, err := e.store.LoadSettings(ctx)
	if err != nil || len(all.Words) != 1 || len(all.Bans) != 1 {
		t.Fatalf("stored settings = %+v, %v", all, err)
	}
	if w := all.Words[0]; w.Room != "r" || w.Key != "spam" || w.Action != "reject" || !w.Inside {
		t.Fatalf("stored word = %+v", w)
	}
	if b := all.Bans[0]; b.UserID != "troll" || b.Until.IsZero() {
		t.Fatalf("stored ban = %+v", b)
	}
	if st, _ := e.do(t, "POST", "/admin/api/bans", admin, `{"userId":"","seconds":60}`); st != 400 {
		t.Fatalf("ban of no one: %d", st)
	}
	must(e.do(t, "DELETE", "/admin/api/words?room=r&word=spam", admin, ""))
	must(e.do(t, "DELETE", "/admin/api/bans?userId=troll", admin, ""))
	if all, err := e.store.LoadSettings(ctx); err != nil || len(all.Words)+len(all.Bans) != 0 {
		t.Fatalf("settings after removals = %+v, %v", all, err)
	}
}

// TestRoomChangeAppliesTheWholeSettings checks that an admin change puts
// the room's whole stored settings in force, not only the fields it
// names: settings stored by another node (and not yet in force here) are
// applied together with the change.
func TestRoomChangeAppliesTheWholeSettings(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	stored := danmaku.RoomSettings{ObjectID: "w", Paused: true, SlowMode: 7 * time.Second, TickInterval: 400 * time.Millisecond, MaxPerTick: 3}
	if err := e.store.PutRoom(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	st, body := e.do(t, "POST", "/admin/api/rooms/w", admin, `{"maxPerTick":5}`)
	if st != 200 {
		t.Fatalf("change: %d %v", st, body)
	}
	want := map[string]any{"objectId": "w", "paused": true, "slowModeSeconds": 7.0, "tickMs": 400.0, "maxPerTick": 5.0}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("in force after the change: %v, want %v", body, want)
	}
	stored.MaxPerTick = 5
	if got, err := e.store.Room(t.Context(), "w"); err != nil || !reflect.DeepEqual(got, stored) {
		t.Fatalf("stored = %+v, %v; want %+v", got, err, stored)
	}
	user := e.token(t, "alice", danmaku.RoleViewer)
	if st, body := e.do(t, "POST", "/danmu/send", user, `{"objectId":"w","content":{"text":"hi"}}`); st != 403 {
		t.Fatalf("send in the paused room: %d %v", st, body)
	}
}

// TestRoomChangeKeepsDefaultsZero checks that a change of one setting of
// a room that has none stored records the tick interval and cap it takes
// from the server's defaults as zero, so that they keep following them.
func TestRoomChangeKeepsDefaultsZero(t *testing.T) {
	e := newAdminEnv(t)
	admin := e.token(t, "boss", danmaku.RoleAdmin)
	if st, body := e.do(t, "POST", "/admin/api/rooms/d", admin, `{"paused":true}`); st != 200 || body["tickMs"] != 1000.0 {
		t.Fatalf("pause: %d %v", st, body)
	}
	want := danmaku.RoomSettings{ObjectID: "d", Paused: true}
	if got, err := e.store.Room(t.Context(), "d"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored = %+v, %v; want %+v", got, err, want)
	}
}
