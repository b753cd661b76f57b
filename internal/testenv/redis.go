package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server for one test, which the test may stop
// and start again on the same port and data directory: its append-only
// file keeps the data across a stop. Use it where a test stops Redis or
// must count every command; other tests use the Redis of the test run
// (RedisAddr). Its methods are safe for concurrent use.
type Redis struct {
	tb   testing.TB
	addr string
	dir  string

	mu sync.Mutex
	p  *Process
}

// StartRedis starts a private redis-server on a free loopback port, waits
// until it answers PING and stops it when the test ends. Without
// redis-server on the PATH the test fails, or is skipped in -short mode.
func StartRedis(tb testing.TB) *Redis {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Need(tb, "Redis", "install redis-server (scripts/services.sh start does)")
	}
	addr, err := FreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	r := &Redis{tb: tb, addr: addr, dir: tb.TempDir()}
	r.Start()
	tb.Cleanup(r.Stop)
	return r
}

// Addr returns the server's address, such as 127.0.0.1:40000.
func (r *Redis) Addr() string { return r.addr }

// Start starts redis-server (again, after Stop) and waits until it answers
// PING.
func (r *Redis) Start() {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil && !r.p.Exited() {
		r.tb.Fatal("redis-server is already running")
	}
	_, port, _ := net.SplitHostPort(r.addr)
	p, err := StartProcess("redis-server", []string{"--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "yes", "--dir", r.dir, "--daemonize", "no"}, nil)
	if err != nil {
		r.tb.Fatal(err)
	}
	r.p = p
	if err := WaitReady(context.Background(), p, 30*time.Second, r.pong); err != nil {
		p.Kill()
		r.tb.Fatalf("redis-server on %s: %v", r.addr, err)
	}
}

// Stop shuts redis-server down gracefully (SIGTERM writes the append-only
// file) and waits for it. It is safe to call more than once.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil && !r.p.Exited() {
		r.p.Stop(syscall.SIGTERM, 10*time.Second)
	}
}

// pong reports whether the server answers PING.
func (r *Redis) pong(ctx context.Context) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "+PONG"
}
