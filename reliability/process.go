// Package reliability measures how danmakud behaves when things go wrong:
// a server killed with SIGKILL in the middle of a stream of sends, and a
// DynamoDB store (dynalite) that goes away and comes back. It starts real
// processes (danmakud, node running dynalite) on loopback addresses, drives
// them over HTTP and checks the stored result through the public API.
//
// cmd/danmaku-chaos runs the long versions and prints the figures; the tests
// in this package run short versions and assert on them.
package reliability

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one running child process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // Closed when the process has exited and been reaped.
	err  error         // Wait's result, valid once done is closed.
}

// startProc starts name with args, its standard output and error going to
// logw (nil discards them). The child gets SIGKILL if this process dies
// first, so that an aborted test leaves nothing running.
func startProc(name string, args []string, logw io.Writer) (*proc, error) {
	cmd := exec.Command(name, args...)
	if logw == nil {
		logw = io.Discard
	}
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(name), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to end with SIGINT and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.kill()
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// waitReady polls ready every few milliseconds until it returns true, p
// exits, ctx ends or timeout passes.
func waitReady(ctx context.Context, p *proc, timeout time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if p.exited() {
			return fmt.Errorf("process exited before it was ready: %v", p.err)
		}
		if ready(ctx) {
			return nil
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("not ready after %v: %w", timeout, ctx.Err())
		case <-p.done:
			t.Stop()
		case <-t.C:
		}
	}
}

// probe reports whether a GET of url gets any HTTP answer with a status
// for which ok returns true.
func probe(ctx context.Context, client *http.Client, url string, ok func(status int) bool) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return ok(resp.StatusCode)
}

// newProbeClient returns the HTTP client of readiness probes: it keeps no
// connections, so that a probe never reuses a connection to a dead process.
func newProbeClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// ServerConfig says how to run danmakud.
type ServerConfig struct {
	// Bin is the danmakud binary.
	Bin string
	// Args are the store flags and any others, such as
	// []string{"-data", dir}. The address is chosen by StartServer and
	// kept across restarts; see BaseArgs for the flags every run wants.
	Args []string
	// Log receives the server's output; nil discards it.
	Log io.Writer
	// StartTimeout bounds each start until /healthz answers 200 (default
	// 30 s).
	StartTimeout time.Duration
}

// Server is a danmakud process that can be killed and started again on
// the same address. Its methods are safe for concurrent use.
type Server struct {
	cfg  ServerConfig
	addr string

	mu sync.Mutex
	p  *proc
}

// StartServer starts danmakud on a free loopback port and waits until
// /healthz answers 200.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, addr: addr}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// URL returns the server's base URL, such as http://127.0.0.1:40000.
func (s *Server) URL() string { return "http://" + s.addr }

// Start starts the server again after Kill and waits until it is healthy.
// It is an error to call it while the server runs.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.exited() {
		return errors.New("danmakud is already running")
	}
	args := append([]string{"-addr", s.addr}, s.cfg.Args...)
	p, err := startProc(s.cfg.Bin, args, s.cfg.Log)
	if err != nil {
		return err
	}
	s.p = p
	client := newProbeClient()
	healthy := func(ctx context.Context) bool {
		return probe(ctx, client, s.URL()+"/healthz", func(st int) bool { return st == http.StatusOK })
	}
	if err := waitReady(ctx, p, s.cfg.StartTimeout, healthy); err != nil {
		p.kill()
		return fmt.Errorf("danmakud on %s: %w", s.addr, err)
	}
	return nil
}

// Kill ends the server with SIGKILL, as a crash would, and waits until the
// process is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.kill()
	}
}

// Close stops the server gracefully (SIGINT, then SIGKILL after 10 s).
// It is safe to call more than once and after Kill.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.exited() {
		s.p.stop(10 * time.Second)
	}
}

// BaseArgs returns the flags that every reliability run passes to the
// danmakud binary bin: quieter logs, pages of up to 1,000 danmaku for the
// check, and -rate-limits=false when the binary has that flag, so that the
// senders measure the store rather than the limiter.
func BaseArgs(bin string) ([]string, error) {
	flags, err := serverFlags(bin)
	if err != nil {
		return nil, err
	}
	args := []string{"-log-level", "warn", "-max-page-size", "1000"}
	if flags["rate-limits"] {
		args = append(args, "-rate-limits=false")
	}
	return args, nil
}

// serverFlags returns the names of the flags that "bin -h" lists.
func serverFlags(bin string) (map[string]bool, error) {
	var out bytes.Buffer
	cmd := exec.Command(bin, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -h: %w: %s", bin, err, out.String())
	}
	flags := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "-") {
			continue
		}
		name, _, _ := strings.Cut(line[1:], " ")
		flags[name] = true
	}
	return flags, nil
}

// runQuiet runs name with args and returns an error with its output if it
// fails.
func runQuiet(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// BuildServer builds danmakud into dir and returns the binary's path. It
// runs the go command, so the working directory must be inside the
// module.
func BuildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "danmakud")
	if err := runQuiet(ctx, "go", "build", "-o", bin, "github.com/danmakud/danmakud/cmd/danmakud"); err != nil {
		return "", fmt.Errorf("build danmakud: %w", err)
	}
	return bin, nil
}

// ModuleRoot returns the directory of the go.mod that holds the working
// directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
