package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// DynaliteConfig says how to run a private dynalite (a DynamoDB API on
// Node.js) whose data survives its own restart.
type DynaliteConfig struct {
	// Script is dynalite's cli.js (node_modules/dynalite/cli.js in the
	// repository).
	Script string
	// Node is the node binary; empty means "node" on the PATH.
	Node string
	// Dir keeps the tables (dynalite's --path), so that they outlive a
	// kill.
	Dir string
	// Log receives dynalite's output; nil discards it.
	Log io.Writer
	// StartTimeout bounds each start until dynalite answers (default 30 s).
	StartTimeout time.Duration
}

// Dynalite is a dynalite process that can be killed and started again on
// the same address and data directory. Its methods are safe for
// concurrent use.
type Dynalite struct {
	cfg  DynaliteConfig
	addr string

	mu sync.Mutex
	p  *Process
}

// StartDynalite starts dynalite on a free loopback port and waits until it
// answers HTTP.
func StartDynalite(ctx context.Context, cfg DynaliteConfig) (*Dynalite, error) {
	if cfg.Script == "" || cfg.Dir == "" {
		return nil, errors.New("dynalite: Script and Dir must be set")
	}
	if cfg.Node == "" {
		cfg.Node = "node"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	d := &Dynalite{cfg: cfg, addr: addr}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Endpoint returns the URL to give danmakud's -dynamodb-endpoint.
func (d *Dynalite) Endpoint() string { return "http://" + d.addr }

// Start starts dynalite again after Kill and waits until it answers. It is
// an error to call it while dynalite runs.
func (d *Dynalite) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil && !d.p.Exited() {
		return errors.New("dynalite is already running")
	}
	host, port, _ := strings.Cut(d.addr, ":")
	args := []string{d.cfg.Script, "--host", host, "--port", port,
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0",
		"--path", d.cfg.Dir}
	p, err := StartProcess(d.cfg.Node, args, d.cfg.Log)
	if err != nil {
		return fmt.Errorf("dynalite: %w", err)
	}
	d.p = p
	client := newProbeClient()
	// Any HTTP answer means dynalite listens; a bare GET gets a 400.
	answers := func(ctx context.Context) bool {
		return probe(ctx, client, d.Endpoint()+"/", func(int) bool { return true })
	}
	if err := WaitReady(ctx, p, d.cfg.StartTimeout, answers); err != nil {
		p.Kill()
		return fmt.Errorf("dynalite on %s: %w", d.addr, err)
	}
	return nil
}

// Kill ends dynalite with SIGKILL and waits until the process is gone.
func (d *Dynalite) Kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil {
		d.p.Kill()
	}
}

// Close kills dynalite if it runs; its data stays in Dir. It is safe to
// call more than once.
func (d *Dynalite) Close() { d.Kill() }

// CreateTable runs "bin create-table" against d for table.
func (d *Dynalite) CreateTable(ctx context.Context, bin, table string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return runQuiet(ctx, bin, "create-table", "-endpoint", d.Endpoint(), "-table", table)
}
