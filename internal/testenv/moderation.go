package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Answer is one HTTP answer: its status, the error code of an error
// answer (see docs/api.md), and the body.
type Answer struct {
	Status int
	Code   string
	Body   []byte
}

// Call sends a request with a JSON body (nil for none) and a bearer token
// (empty for none) and returns the answer; a failed request fails the test.
func Call(tb testing.TB, method, url, token string, body any) Answer {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return Answer{Status: resp.StatusCode, Code: e.Error.Code, Body: b}
}

// Tokener mints a token for a user with a role ("viewer", "moderator" or
// "admin"), as "danmakud token" does.
type Tokener func(user, role string) string

// SetModeration makes, through the admin API of the server at base, the
// moderation state that CheckModeration looks for: a permanent, a timed and
// a room ban, a lifted ban, a global word and a room word (matched inside
// words) added at run time, a paused room, a room with slow mode, a tick
// interval and a per-tick cap, and a running live session. Rooms are
// named prefix-something.
func SetModeration(tb testing.TB, base, prefix string, token Tokener) {
	tb.Helper()
	admin := token("boss", "admin")
	steps := []struct {
		what, method, path string
		body               any
	}{
		{"permanent ban", "POST", "/admin/api/bans", map[string]any{"userId": "perm", "reason": "spam"}},
		{"timed ban", "POST", "/admin/api/bans", map[string]any{"userId": "timed", "seconds": 3600}},
		{"room ban", "POST", "/admin/api/bans", map[string]any{"userId": "roomy", "room": prefix + "-banned"}},
		{"ban to lift", "POST", "/admin/api/bans", map[string]any{"userId": "gone"}},
		{"unban", "DELETE", "/admin/api/bans?userId=gone", nil},
		{"word", "POST", "/admin/api/words", map[string]any{"word": "zorbleflux", "action": "reject"}},
		{"room word", "POST", "/admin/api/words", map[string]any{"room": prefix + "-open", "word": "durfoo", "action": "reject", "inside": true}},
		{"pause", "POST", "/admin/api/rooms/" + prefix + "-paused", map[string]any{"paused": true}},
		{"room settings", "POST", "/admin/api/rooms/" + prefix + "-slow", map[string]any{"slowModeSeconds": 600, "tickMs": 400, "maxPerTick": 7}},
		{"start live", "POST", "/admin/api/rooms/" + prefix + "-live/live/start", nil},
	}
	for _, s := range steps {
		if a := Call(tb, s.method, base+s.path, admin, s.body); a.Status != http.StatusOK {
			tb.Fatalf("%s: %d %s", s.what, a.Status, a.Body)
		}
	}
}

// CheckModeration checks through the public and admin APIs of the server
// at base that everything SetModeration made is in force: sends are
// refused with the right error codes, and the room settings read back.
// The server must apply rate limits (slow mode is one).
func CheckModeration(tb testing.TB, base, prefix string, token Tokener) {
	tb.Helper()
	send := func(user, room, text string) Answer {
		tb.Helper()
		return Call(tb, "POST", base+"/danmu/send", token(user, "viewer"),
			map[string]any{"objectId": room, "content": map[string]any{"text": text}})
	}
	refused := func(a Answer, code, what string) {
		tb.Helper()
		if a.Status == http.StatusOK || a.Code != code {
			tb.Errorf("%s: %d %s, want the error %s", what, a.Status, a.Body, code)
		}
	}
	accepted := func(a Answer, what string) {
		tb.Helper()
		if a.Status != http.StatusOK {
			tb.Errorf("%s: %d %s, want it accepted", what, a.Status, a.Body)
		}
	}
	open := prefix + "-open"
	refused(send("perm", open, "hello"), "forbidden", "permanently banned user's send")
	refused(send("timed", open, "hello"), "forbidden", "timed-banned user's send")
	refused(send("roomy", prefix+"-banned", "hello"), "forbidden", "room-banned user's send in the room")
	accepted(send("roomy", open, "hello"), "room-banned user's send in another room")
	accepted(send("gone", open, "hello again"), "unbanned user's send")
	refused(send("alice", open, "buy zorbleflux now"), "refused", "send with a word added at run time")
	refused(send("alice", open, "xxdurfooxx"), "refused", "send with a room word inside a longer word")
	accepted(send("carol", prefix+"-other", "xxdurfooxx"), "room word in another room")
	refused(send("alice", prefix+"-paused", "hello"), "forbidden", "send in a paused room")
	accepted(send("bob", prefix+"-slow", "first"), "first send in slow mode")
	refused(send("bob", prefix+"-slow", "second"), "rate_limited", "second send in slow mode")

	admin := token("boss", "admin")
	type roomState struct {
		Paused          bool    `json:"paused"`
		SlowModeSeconds float64 `json:"slowModeSeconds"`
		TickMs          int64   `json:"tickMs"`
		MaxPerTick      int     `json:"maxPerTick"`
		Live            *struct {
			StartedAt time.Time `json:"startedAt"`
		} `json:"live"`
	}
	room := func(name string) roomState {
		tb.Helper()
		a := Call(tb, "GET", base+"/admin/api/rooms/"+name, admin, nil)
		var st roomState
		if err := json.Unmarshal(a.Body, &st); a.Status != http.StatusOK || err != nil {
			tb.Fatalf("settings of %s: %d %s (%v)", name, a.Status, a.Body, err)
		}
		return st
	}
	if st := room(prefix + "-slow"); st.SlowModeSeconds != 600 || st.TickMs != 400 || st.MaxPerTick != 7 || st.Paused {
		tb.Errorf("settings of %s-slow: %+v, want slow mode 600 s, tick 400 ms, cap 7, not paused", prefix, st)
	}
	if st := room(prefix + "-paused"); !st.Paused {
		tb.Errorf("settings of %s-paused: %+v, want paused", prefix, st)
	}
	if st := room(prefix + "-live"); st.Live == nil || st.Live.StartedAt.IsZero() {
		tb.Errorf("settings of %s-live: %+v, want a running live session", prefix, st)
	}
	bans := string(Call(tb, "GET", base+"/admin/api/bans", admin, nil).Body)
	for _, u := range []string{`"perm"`, `"timed"`} {
		if !strings.Contains(bans, u) {
			tb.Errorf("ban list lacks %s: %s", u, bans)
		}
	}
	if strings.Contains(bans, `"gone"`) {
		tb.Errorf("a lifted ban is listed: %s", bans)
	}
}
