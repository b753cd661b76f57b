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
	"runtime/debug"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/auth"
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
// (serve, import, create-table, token, admin-key), and runs it; with none it serves. ready, when not nil,
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
		// The collector's target is the process's, so it is put back
		// when the server stops (tests run several in one process).
		defer debug.SetGCPercent(debug.SetGCPercent(m.Config.GCPercent))
		if err := m.Open(ctx); err != nil {
			return err
		}
		if n, err := m.SeedDemo(ctx); err != nil {
			m.Log.Warn("could not seed the demo room", "err", err)
		} else if n > 0 {
			m.Log.Info("seeded the demo room", "objectId", DemoRoom, "danmaku", n)
		}
		return m.Run(ctx, ready)
	case "import":
		a, err := parseImport(rest, stderr)
		if err != nil {
			return err
		}
		if err := m.openStore(ctx); err != nil {
			if m.Config.Store == "pebble" && storeInUse(err) {
				return fmt.Errorf("import: the store in %s is held by another process, most likely a running danmakud "+
					"(the embedded store can be open in one process only): stop it and import again, or upload the file "+
					"to the running server with an admin token: curl -H 'Authorization: Bearer TOKEN' --data-binary @%s "+
					"http://HOST/admin/api/import/%s", m.Config.DataDir, a.path, a.object)
			}
			return err
		}
		return runImport(ctx, m.Store, a, stdout, stderr)
	case "create-table":
		return runCreateTable(ctx, m.Config.Dynamo, rest, stdout)
	case "token", "admin-key":
		if err := m.openAuth(); err != nil {
			return err
		}
		if cmd == "admin-key" {
			fmt.Fprintln(stdout, m.Auth.AdminKey())
			return nil
		}
		return runToken(m.Auth, rest, stdout)
	}
	return fmt.Errorf("unknown command %q (commands: serve, import, create-table, token, admin-key)", cmd)
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

// runToken is "danmakud token": it prints a token signed with the server's
// secret, for a host site's tests or an operator.
func runToken(a *auth.Authenticator, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stdout)
	user := fs.String("user", "", "user id (the token's subject); required")
	role := fs.String("role", "viewer", "viewer, moderator or admin")
	rooms := fs.String("rooms", "", "comma-separated rooms a moderator moderates")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("token: -role: %w", err)
	}
	if *user == "" {
		return errors.New("token: -user is required")
	}
	tok, err := a.Issue(auth.TokenRequest{UserID: *user, Role: r, Rooms: splitList(*rooms), TTL: *ttl})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
