package hostile

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

// answer is one HTTP answer: its status, the error code of an error
// answer, and the body.
type answer struct {
	status int
	code   string
	body   []byte
}

// call sends a JSON request (body nil for none) with a bearer token.
func call(t *testing.T, c *http.Client, method, url, tok string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return answer{status: resp.StatusCode, code: e.Error.Code, body: b}
}

// TestModerationStateSurvivesACrash sets bans, a word, a pause, slow mode,
// tick settings and a live session through the admin API, kills the
// server (SIGKILL: no shutdown, no flush), starts it again on the same
// data, and finds every one still in force through the public API.
func TestModerationStateSurvivesACrash(t *testing.T) {
	s := startServer(t, "-admin-password", "durable-admin-password")
	c := newClient()
	admin := s.token("boss", "admin")
	ok := func(a answer, what string) {
		t.Helper()
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
	}
	ok(call(t, c, "POST", s.url+"/admin/api/bans", admin, map[string]any{"userId": "perm", "reason": "spam"}), "permanent ban")
	ok(call(t, c, "POST", s.url+"/admin/api/bans", admin, map[string]any{"userId": "timed", "seconds": 3600}), "timed ban")
	ok(call(t, c, "POST", s.url+"/admin/api/bans", admin, map[string]any{"userId": "roomy", "room": "dur-banned"}), "room ban")
	ok(call(t, c, "POST", s.url+"/admin/api/bans", admin, map[string]any{"userId": "gone"}), "ban to lift")
	ok(call(t, c, "DELETE", s.url+"/admin/api/bans?userId=gone", admin, nil), "unban")
	ok(call(t, c, "POST", s.url+"/admin/api/words", admin, map[string]any{"word": "zorbleflux", "action": "reject"}), "word")
	ok(call(t, c, "POST", s.url+"/admin/api/words", admin, map[string]any{"room": "dur-open", "word": "durfoo", "action": "reject", "inside": true}), "room word")
	ok(call(t, c, "POST", s.url+"/admin/api/rooms/dur-paused", admin, map[string]any{"paused": true}), "pause")
	ok(call(t, c, "POST", s.url+"/admin/api/rooms/dur-slow", admin, map[string]any{"slowModeSeconds": 600, "tickMs": 250, "maxPerTick": 7}), "room settings")
	ok(call(t, c, "POST", s.url+"/admin/api/rooms/dur-live/live/start", admin, nil), "start live")

	s.Kill()
	s.Restart(t)

	sendAs := func(user, room, text string) answer {
		t.Helper()
		return call(t, c, "POST", s.url+"/danmu/send", s.token(user, "viewer"), map[string]any{"objectId": room, "content": map[string]any{"text": text}})
	}
	refused := func(a answer, code, what string) {
		t.Helper()
		if a.status == http.StatusOK || a.code != code {
			t.Errorf("%s after the restart: %d %s, want the error %s", what, a.status, a.body, code)
		}
	}
	refused(sendAs("perm", "dur-open", "hello"), danmaku.EFORBIDDEN, "permanently banned user's send")
	refused(sendAs("timed", "dur-open", "hello"), danmaku.EFORBIDDEN, "timed-banned user's send")
	refused(sendAs("roomy", "dur-banned", "hello"), danmaku.EFORBIDDEN, "room-banned user's send in the room")
	ok(sendAs("roomy", "dur-open", "hello"), "room-banned user's send in another room")
	ok(sendAs("gone", "dur-open", "hello again"), "unbanned user's send")
	refused(sendAs("alice", "dur-open", "buy zorbleflux now"), danmaku.EREFUSED, "send with a word added at run time")
	refused(sendAs("alice", "dur-open", "xxdurfooxx"), danmaku.EREFUSED, "send with a room word matched inside a word")
	ok(sendAs("carol", "dur-other", "xxdurfooxx"), "room word in another room")
	refused(sendAs("alice", "dur-paused", "hello"), danmaku.EFORBIDDEN, "send in a paused room")
	ok(sendAs("bob", "dur-slow", "first"), "first send in slow mode")
	refused(sendAs("bob", "dur-slow", "second"), danmaku.ERATELIMIT, "second send in slow mode")

	var room struct {
		Paused          bool    `json:"paused"`
		SlowModeSeconds float64 `json:"slowModeSeconds"`
		TickMs          int64   `json:"tickMs"`
		MaxPerTick      int     `json:"maxPerTick"`
		Live            *struct {
			StartedAt string `json:"startedAt"`
		} `json:"live"`
	}
	a := call(t, c, "GET", s.url+"/admin/api/rooms/dur-slow", admin, nil)
	ok(a, "read room settings")
	if err := json.Unmarshal(a.body, &room); err != nil || room.SlowModeSeconds != 600 || room.TickMs != 250 || room.MaxPerTick != 7 || room.Paused {
		t.Errorf("settings of dur-slow after the restart: %s (%v)", a.body, err)
	}
	a = call(t, c, "GET", s.url+"/admin/api/rooms/dur-paused", admin, nil)
	if err := json.Unmarshal(a.body, &room); err != nil || !room.Paused {
		t.Errorf("settings of dur-paused after the restart: %s (%v)", a.body, err)
	}
	a = call(t, c, "GET", s.url+"/admin/api/rooms/dur-live", admin, nil)
	room.Live = nil
	if err := json.Unmarshal(a.body, &room); err != nil || room.Live == nil {
		t.Errorf("live session of dur-live after the restart: %s (%v)", a.body, err)
	}
	a = call(t, c, "GET", s.url+"/admin/api/bans", admin, nil)
	for _, u := range []string{`"perm"`, `"timed"`} {
		if !strings.Contains(string(a.body), u) {
			t.Errorf("ban list after the restart lacks %s: %s", u, a.body)
		}
	}
	if strings.Contains(string(a.body), `"gone"`) {
		t.Errorf("a lifted ban came back after the restart: %s", a.body)
	}
}
