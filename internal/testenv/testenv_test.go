package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	os.Exit(Main(m))
}

func TestBaseArgs(t *testing.T) {
	bin := Binary(t)
	args, err := BaseArgs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(args, "-max-page-size") {
		t.Errorf("BaseArgs = %q, want -max-page-size", args)
	}
	flags, err := ServerFlags(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"addr", "data", "store", "dynamodb-endpoint", "dynamodb-retry"} {
		if !flags[name] {
			t.Errorf("flag -%s not found in danmakud -h; found %v", name, flags)
		}
	}
	if flags["rate-limits"] != slices.Contains(args, "-rate-limits=false") {
		t.Errorf("BaseArgs = %q disagrees with -rate-limits in -h", args)
	}
}

// TestBinaryIsBuiltOnce checks that every test of a process gets the same
// binary.
func TestBinaryIsBuiltOnce(t *testing.T) {
	a := Binary(t)
	info, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if b := Binary(t); b != a {
		t.Fatalf("second Binary = %s, first %s", b, a)
	}
	again, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	if !again.ModTime().Equal(info.ModTime()) {
		t.Fatal("the binary was built again")
	}
}

// TestServerKillAndRestart starts danmakud, kills it, starts it again on
// the same address and data, and stops it.
func TestServerKillAndRestart(t *testing.T) {
	dir := t.TempDir()
	srv := Danmakud(t, "-data", dir)
	obj := "testenv-restart"
	sent := srv.Send(t, obj, "u1", map[string]any{"text": "before the kill"})
	if !healthy(srv.URL()) {
		t.Fatal("not healthy after Danmakud returned")
	}
	srv.Kill()
	if !srv.Exited() {
		t.Fatal("Exited = false after Kill")
	}
	if healthy(srv.URL()) {
		t.Fatal("healthy after Kill")
	}
	srv.Restart(t)
	stored := srv.Stored(t, obj)
	if len(stored) != 1 || stored[0].ID != sent.ID || stored[0].Content.Text != "before the kill" {
		t.Fatalf("after the restart stored = %+v, want the one sent before the kill (%s)", stored, sent.ID)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("Start while running: no error")
	}
	srv.Close()
	if !srv.Exited() {
		t.Fatal("Exited = false after Close")
	}
	if out := srv.Output(); out == "" {
		t.Error("no output kept")
	}
}

// TestStartServerReportsEarlyExit checks that a server that exits at once
// is reported as such, with its output.
func TestStartServerReportsEarlyExit(t *testing.T) {
	_, err := StartServer(context.Background(), ServerConfig{Bin: Binary(t), Args: []string{"-no-such-flag"}})
	if err == nil {
		t.Fatal("StartServer with a bad flag: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "exited before it was ready") || !strings.Contains(msg, "no-such-flag") {
		t.Fatalf("err = %v, want the early exit and the server's output", err)
	}
}

// TestRedisStopAndStart checks that a private Redis keeps its data across
// a stop.
func TestRedisStopAndStart(t *testing.T) {
	r := StartRedis(t)
	if got := redisDo(t, r.Addr(), "SET k kept"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}
	r.Stop()
	if r.pong(context.Background()) {
		t.Fatal("PONG after Stop")
	}
	r.Start()
	if got := redisDo(t, r.Addr(), "GET k"); got != "$4" {
		t.Fatalf("GET after the restart: %q, want the 4-byte value", got)
	}
}

// redisDo sends one inline command and returns the first line of the
// answer.
func redisDo(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimSpace(line)
}

func healthy(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return probe(ctx, newProbeClient(), base+"/healthz", func(st int) bool { return st == http.StatusOK })
}
