package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/metrics"
)

// runHubServer serves the live hub alone, with a minimal POST /danmu/send
// that validates, assigns an ID and publishes (no storage): it isolates
// the fan-out cost when the full server is not wanted. It prints
// "READY <addr>" once listening.
func runHubServer(addr, room string, tick time.Duration, maxPerTick, workers int) error {
	hub, err := live.New(live.Config{FanoutWorkers: workers, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	defer hub.Close()
	if err := hub.SetRoomConfig(room, live.RoomConfig{TickInterval: tick, MaxPerTick: maxPerTick}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("READY %s\n", ln.Addr())
	srv := &http.Server{Handler: hubHandler(hub), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	waitSignal()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return nil
}

// hubHandler serves hub's viewers, a minimal POST /danmu/send and the
// hub's counters with the Go runtime's at GET /metrics, in the same
// format as danmakud's.
func hubHandler(hub *live.Hub) http.Handler {
	ids := danmaku.NewIDGen(nil)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.New(metrics.Sources{Hub: hub.Stats}).Handler())
	mux.HandleFunc("GET /danmu/ws/{objectId}", hub.ServeWS)
	mux.HandleFunc("GET /danmu/stream/{objectId}", hub.ServeSSE)
	mux.HandleFunc("POST /danmu/send", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := danmaku.ParseSend(body, danmaku.DefaultLimits())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d := &danmaku.Danmaku{ID: ids.Next(req.Content.Time), ObjectID: req.ObjectID, UserID: req.UserID, OwnerID: req.OwnerID, Content: req.Content, CreatedAt: time.Now().UnixMilli()}
		if err := hub.Publish(r.Context(), d, false); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	})
	return mux
}

// runBaselineServer is the baseline: it accepts raw WebSocket connections
// (handshake only, nothing read afterwards) and, once per tick, encodes
// one batch of rate*tick synthetic items and writes the same frame to
// every connection in a bare loop. It prints "READY <addr>".
func runBaselineServer(addr string, tick time.Duration, rate int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("READY %s\n", ln.Addr())
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := baselineHandshake(c); err != nil {
					c.Close()
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
	}()
	ids := danmaku.NewIDGen(nil)
	perTick := max(1, int(float64(rate)*tick.Seconds()))
	t := time.NewTicker(tick)
	defer t.Stop()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	var seq, n uint64
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		seq++
		items := make([]*danmaku.Danmaku, perTick)
		for i := range items {
			n++
			items[i] = &danmaku.Danmaku{ID: ids.Next(0), ObjectID: "bench", UserID: fmt.Sprintf("u%d", n%50), CreatedAt: time.Now().UnixMilli(),
				Content: danmaku.Content{Text: fmt.Sprintf("base %d", n), Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll}}
		}
		payload, _ := json.Marshal(struct {
			Type  string             `json:"type"`
			Seq   uint64             `json:"seq"`
			At    int64              `json:"at"`
			Items []*danmaku.Danmaku `json:"items"`
		}{"batch", seq, time.Now().UnixMilli(), items})
		frame := frameText(payload)
		mu.Lock()
		cs := conns
		mu.Unlock()
		for _, c := range cs {
			_, _ = c.Write(frame)
		}
	}
}

// baselineHandshake answers one upgrade request.
func baselineHandshake(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if key == "" || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		return fmt.Errorf("not an upgrade")
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
	if _, err := io.WriteString(c, resp); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

func waitSignal() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
}
