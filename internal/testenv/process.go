package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is one running child process. The child gets SIGKILL if this
// process dies first, so that an aborted test or bench leaves nothing
// running.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // Closed when the process has exited and been reaped.
	err  error         // Wait's result, valid once done is closed.
}

// StartProcess starts name with args, its standard output and error going
// to out (nil discards them).
func StartProcess(name string, args []string, out io.Writer) (*Process, error) {
	if out == nil {
		out = io.Discard
	}
	return StartProcessOutputs(name, args, out, out)
}

// StartProcessOutputs is StartProcess with the standard output and the
// standard error going to stdout and stderr (nil discards either).
func StartProcessOutputs(name string, args []string, stdout, stderr io.Writer) (*Process, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(name), err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done returns a channel that is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns how the process ended (Wait's result); it is nil while the
// process runs.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends sig (SIGINT or SIGTERM) and kills the process if it has not
// ended after grace.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	_ = p.cmd.Process.Signal(sig)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
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

// WaitReady polls ready every few milliseconds until it returns true, p
// exits, ctx ends or timeout passes.
func WaitReady(ctx context.Context, p *Process, timeout time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if p.Exited() {
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
