package hostile

import (
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
