package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// ServerConfig says how to run danmakud.
type ServerConfig struct {
	// Bin is the danmakud binary (Build or Binary).
	Bin string
	// Args are the flags after -addr, such as []string{"-data", dir}.
	Args []string
	// Addr is the address to serve on; empty means a free loopback port,
	// chosen once and kept across restarts.
	Addr string
	// Log receives the server's output. When it is nil the server keeps
	// its output in memory instead (Server.Output).
	Log io.Writer
	// StartTimeout bounds each start until /healthz answers 200 (default
	// 60 s: the machines that run the tests may be busy).
	StartTimeout time.Duration
}

// Server is a danmakud process that can be killed and started again on
// the same address. Its methods are safe for concurrent use.
type Server struct {
	cfg  ServerConfig
	addr string
	out  *Output // Nil when cfg.Log is set.

	mu sync.Mutex
	p  *Process
}

// StartServer starts danmakud and waits until /healthz answers 200.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	addr := cfg.Addr
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, addr: addr}
	if cfg.Log == nil {
		s.out = &Output{}
		s.cfg.Log = s.out
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Danmakud starts this test process's danmakud binary (Binary) with args on
// a free loopback port, waits until it is healthy and stops it when the
// test ends. Its output is kept (Output) and shown if it fails to start.
func Danmakud(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, err := StartServer(context.Background(), ServerConfig{Bin: Binary(tb), Args: args})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Addr returns the server's address, such as 127.0.0.1:40000.
func (s *Server) Addr() string { return s.addr }

// URL returns the server's base URL, such as http://127.0.0.1:40000.
func (s *Server) URL() string { return "http://" + s.addr }

// Start starts the server again after Kill and waits until it is healthy.
// It is an error to call it while the server runs.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.Exited() {
		return errors.New("danmakud is already running")
	}
	args := append([]string{"-addr", s.addr}, s.cfg.Args...)
	p, err := StartProcess(s.cfg.Bin, args, s.cfg.Log)
	if err != nil {
		return err
	}
	s.p = p
	client := newProbeClient()
	healthy := func(ctx context.Context) bool {
		return probe(ctx, client, s.URL()+"/healthz", func(st int) bool { return st == http.StatusOK })
	}
	if err := WaitReady(ctx, p, s.cfg.StartTimeout, healthy); err != nil {
		p.Kill()
		if s.out != nil {
			return fmt.Errorf("danmakud on %s: %w; its output:\n%s", s.addr, err, s.out.Tail(8<<10))
		}
		return fmt.Errorf("danmakud on %s: %w", s.addr, err)
	}
	return nil
}

// Restart is Start for a test: it fails the test if the server does not
// come back healthy.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// PID returns the process id of the running (or last) server process.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.PID()
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.Exited()
}

// Output returns what the server wrote so far, or "" when its output goes
// to ServerConfig.Log.
func (s *Server) Output() string {
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// OutputTail returns the last n bytes of Output.
func (s *Server) OutputTail(n int) string {
	if s.out == nil {
		return ""
	}
	return s.out.Tail(n)
}

// Kill ends the server with SIGKILL, as a crash would (no close frames,
// no flush), and waits until the process is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.Kill()
	}
}

// Close stops the server gracefully (SIGINT, then SIGKILL after 15 s).
// It is safe to call more than once and after Kill.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.Exited() {
		s.p.Stop(os.Interrupt, 15*time.Second)
	}
}

// Output is an io.Writer that keeps everything written to it; it is safe
// for concurrent use.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Tail returns the last n bytes written.
func (o *Output) Tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.buf.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// LogWriter returns a writer that sends each line written to it to the
// test log with prefix, so that a failing test shows what a child process
// said.
func LogWriter(tb testing.TB, prefix string) io.Writer {
	return logWriter{tb: tb, prefix: prefix}
}

type logWriter struct {
	tb     testing.TB
	prefix string
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.tb.Logf("%s: %s", w.prefix, line)
	}
	return len(p), nil
}
