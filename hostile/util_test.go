package hostile

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// execOutput runs a command and returns its trimmed standard output.
func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return strings.TrimSpace(string(out)), err
}

// upgradeStatusToken attempts a WebSocket upgrade carrying tok and
// returns the status: 101 when upgraded.
func (s *server) upgradeStatusToken(room, tok string) int {
	s.t.Helper()
	ctx, cancel := contextTimeout(10 * time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, s.wsURL(room, tok), wsclient.Options{})
	if err == nil {
		c.Close()
		return 101
	}
	var he *wsclient.HandshakeError
	if errors.As(err, &he) {
		return he.Status
	}
	s.t.Fatalf("upgrade: %v", err)
	return 0
}
