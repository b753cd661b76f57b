package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// streamGrace is how long requests in flight may run after shutdown
// starts before their contexts are cancelled.
const streamGrace = 2 * time.Second

// serve listens on addr, reports the bound address to ready, and serves h
// until ctx is cancelled; then it stops accepting and waits for requests in
// flight to finish.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// Request contexts end a moment after shutdown starts, so that
	// long-lived streams (Server-Sent Events) return and Shutdown can
	// finish, while ordinary requests in flight get time to complete.
	// WebSocket connections are not the server's after the upgrade: the
	// live hub holds them on its poller and closes them in Hub.Close.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	srv.RegisterOnShutdown(func() { time.AfterFunc(streamGrace, cancelBase) })
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
