package main

import (
	"context"
	"log/slog"
	"net/http"
)

// serveMetrics serves h as GET /metrics on its own address (-metrics-addr)
// until ctx is cancelled, so that the metrics can be kept off the public
// address.
func serveMetrics(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return serveSide(ctx, "-metrics-addr", addr, mux, "metrics listening", log)
}
