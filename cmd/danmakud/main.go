// Command danmakud runs the danmaku server. With no arguments it serves on
// :5000 with an embedded store in ./data; "danmakud -h" lists every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "danmakud:", err)
		os.Exit(1)
	}
}

// run parses the settings, which come before an optional subcommand
// (serve, import, create-table), and runs it; with none it serves. ready, when not nil,
// receives the bound address once the server listens (tests bind ":0").
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(net.Addr)) error {
	m := NewMain(stderr)
	defer m.Close()
	rest, err := m.ParseFlags(args, os.Getenv)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		if len(rest) > 0 {
			return fmt.Errorf("serve: unexpected arguments %q", rest)
		}
		if err := m.Open(ctx); err != nil {
			return err
		}
		return m.Run(ctx, ready)
	case "import":
		if err := m.openStore(ctx); err != nil {
			return err
		}
		return runImport(ctx, m.Store, rest, stdout, stderr)
	case "create-table":
		return runCreateTable(ctx, m.Config.Dynamo, rest, stdout)
	}
	return fmt.Errorf("unknown command %q (commands: serve, import, create-table)", cmd)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format: must be text or json, not %q", format)
}
