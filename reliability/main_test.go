package reliability

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// serverBin is the danmakud binary that TestMain builds for every test.
var serverBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "danmaku-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	serverBin, err = BuildServer(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// logWriter sends a child process's output to the test log, so that a
// failing test shows what the server said.
type logWriter struct {
	t      testing.TB
	prefix string
}

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.prefix, b)
	return len(b), nil
}
