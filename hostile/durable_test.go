package hostile

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/danmakud/danmakud/internal/testenv"
)

// TestModerationStateSurvivesACrash sets bans, words, a pause, slow mode,
// tick settings and a live session through the admin API, kills the
// server (SIGKILL: no shutdown, no flush), starts it again on the same
// data, and finds every one still in force through the public API.
func TestModerationStateSurvivesACrash(t *testing.T) {
	s := startServer(t)
	token := func(user, role string) string { return s.token(user, role) }
	testenv.SetModeration(t, s.url, "dur", token)
	s.Kill()
	s.Restart(t)
	testenv.CheckModeration(t, s.url, "dur", token)
}

// TestRoomSettingsHoldWholeAfterARestart makes one admin change of a
// room's pause, tick interval and cap together, restarts the server
// (SIGKILL) and finds all of them in force; then a change of the pause
// alone keeps the tick settings, before and after another restart.
func TestRoomSettingsHoldWholeAfterARestart(t *testing.T) {
	s := startServer(t)
	admin := s.token("boss", "admin")
	viewer := s.token("alice", "viewer")
	const room = "whole"
	type state struct {
		Paused     bool  `json:"paused"`
		TickMs     int64 `json:"tickMs"`
		MaxPerTick int   `json:"maxPerTick"`
	}
	check := func(when string, want state) {
		t.Helper()
		a := testenv.Call(t, "GET", s.url+"/admin/api/rooms/"+room, admin, nil)
		var got state
		if err := json.Unmarshal(a.Body, &got); a.Status != http.StatusOK || err != nil {
			t.Fatalf("%s: settings: %d %s (%v)", when, a.Status, a.Body, err)
		}
		if got != want {
			t.Errorf("%s: settings in force %+v, want %+v", when, got, want)
		}
		send := testenv.Call(t, "POST", s.url+"/danmu/send", viewer,
			map[string]any{"objectId": room, "content": map[string]any{"text": "hello " + when}})
		if refused := send.Code == "forbidden"; refused != want.Paused || (!refused && send.Status != http.StatusOK) {
			t.Errorf("%s: send: %d %s, want it refused: %v", when, send.Status, send.Body, want.Paused)
		}
	}
	set := func(body map[string]any) {
		t.Helper()
		if a := testenv.Call(t, "POST", s.url+"/admin/api/rooms/"+room, admin, body); a.Status != http.StatusOK {
			t.Fatalf("set %v: %d %s", body, a.Status, a.Body)
		}
	}
	set(map[string]any{"paused": true, "tickMs": 300, "maxPerTick": 9})
	paused := state{Paused: true, TickMs: 300, MaxPerTick: 9}
	check("after the change", paused)
	s.Kill()
	s.Restart(t)
	check("after a restart", paused)

	set(map[string]any{"paused": false})
	open := state{TickMs: 300, MaxPerTick: 9}
	check("after resuming", open)
	s.Kill()
	s.Restart(t)
	check("after resuming and a restart", open)
}
