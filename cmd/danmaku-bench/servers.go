package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
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
		d, ok := readSend(w, r, ids)
		if !ok {
			return
		}
		if err := hub.Publish(r.Context(), d, false); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	})
	return mux
}

// readSend reads and validates a send's body as danmakud does and returns
// the item with an ID; on bad input it answers 400 and returns false.
func readSend(w http.ResponseWriter, r *http.Request, ids *danmaku.IDGen) (*danmaku.Danmaku, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	req, err := danmaku.ParseSend(body, danmaku.DefaultLimits())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return &danmaku.Danmaku{ID: ids.Next(req.Content.Time), ObjectID: req.ObjectID, UserID: req.UserID, OwnerID: req.OwnerID,
		Content: req.Content, CreatedAt: time.Now().UnixMilli()}, true
}

// sendFloorHandler is the floor's send path, the least a server must do
// to acknowledge a send durably: a POST /danmu/send (net/http, as
// danmakud's) that reads and validates the body as danmakud does, assigns
// an ID, appends the item as one JSON line to journal and fsyncs it before
// answering with the item. It has no store, index, moderation,
// authentication or fan-out, so its CPU per send is a floor for any
// server that loses nothing it acknowledged on this machine's disk.
func sendFloorHandler(journal *os.File) http.Handler {
	ids := danmaku.NewIDGen(nil)
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /danmu/send", func(w http.ResponseWriter, r *http.Request) {
		d, ok := readSend(w, r, ids)
		if !ok {
			return
		}
		line, err := json.Marshal(d)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		mu.Lock()
		_, err = journal.Write(append(line, '\n'))
		if err == nil {
			err = journal.Sync()
		}
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(line)
	})
	return mux
}

// runBaselineServer is the baseline: it accepts raw WebSocket connections
// (handshake only, nothing read afterwards) and, once per tick, encodes
// one batch of rate*tick realistic items (the texts the bench's sends
// carry, sent during the previous interval) in the shape of protocol
// version proto and writes the same frame to every connection in a bare
// loop: the frame compressed once with permessage-deflate to the
// connections that offered it, as danmakud does. The per-send phases
// send to its minimal durable send path (sendFloorHandler, logging in
// dir) on a second port; its sends do not enter the frames. It prints
// "READY <addr> <send addr>".
func runBaselineServer(addr, dir string, tick time.Duration, rate, proto int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	sendAddr, stopSends, err := serveFloorSends(dir)
	if err != nil {
		return err
	}
	defer stopSends()
	fmt.Printf("READY %s %s\n", ln.Addr(), sendAddr)
	var mu sync.Mutex
	var conns, zconns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				zip, err := baselineHandshake(c)
				if err != nil {
					c.Close()
					return
				}
				mu.Lock()
				if zip {
					zconns = append(zconns, c)
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}()
		}
	}()
	ids := danmaku.NewIDGen(nil)
	gen := newItemGen(benchSeed, time.Now())
	perTick := max(1, int(float64(rate)*tick.Seconds()))
	t := time.NewTicker(tick)
	defer t.Stop()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	var seq uint64
	for {
		var at time.Time
		select {
		case <-stop:
			return nil
		case at = <-t.C:
		}
		seq++
		items := make([]*danmaku.Danmaku, perTick)
		for i := range items {
			it := gen.next()
			created := at.Add(-tick + time.Duration(i)*tick/time.Duration(perTick)).UnixMilli()
			col, _ := danmaku.ParseColor(it.Color)
			// The server runs in anonymous mode, so the floor carries the
			// sender ids it gives.
			d := &danmaku.Danmaku{ObjectID: "bench", UserID: it.AnonID, CreatedAt: created,
				Content: danmaku.Content{Text: it.Text, Color: col, Size: danmaku.Size(it.Size), Position: it.Position, Time: danmaku.Time(it.TimeMs)}}
			d.ID = ids.Next(d.Content.Time)
			d.ID.UnixMs = created
			items[i] = d
		}
		var payload []byte
		if proto == 2 {
			payload = live.EncodeCompactBatch(seq, at.UnixMilli(), items)
		} else if payload, err = live.EncodeBatch(seq, at.UnixMilli(), items); err != nil {
			return err
		}
		frame := frameText(payload)
		zframe, err := deflateFrame(payload)
		if err != nil {
			return err
		}
		mu.Lock()
		cs, zs := conns, zconns
		mu.Unlock()
		for _, c := range cs {
			_, _ = c.Write(frame)
		}
		for _, c := range zs {
			_, _ = c.Write(zframe)
		}
	}
}

// serveFloorSends serves sendFloorHandler on a loopback port of its own,
// with its log in dir, and returns the address and how to stop it.
func serveFloorSends(dir string) (string, func(), error) {
	journal, err := os.OpenFile(filepath.Join(dir, "sends.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("open the floor's send log: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = journal.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: sendFloorHandler(journal), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() {
		_ = srv.Close()
		_ = journal.Close()
	}, nil
}

// deflateFrame compresses payload as one permessage-deflate text frame
// (RFC 7692, no context takeover) at live.DeflateLevel, as danmakud
// compresses its batches.
func deflateFrame(payload []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, live.DeflateLevel)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(payload); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	z := bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
	f := frameText(z)
	f[0] |= 0x40 // RSV1: compressed.
	return f, nil
}

// baselineHandshake answers one upgrade request, accepting
// permessage-deflate without context takeover if the client offers it.
func baselineHandshake(c net.Conn) (zip bool, err error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return false, err
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if key == "" || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		return false, fmt.Errorf("not an upgrade")
	}
	zip = strings.Contains(req.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	if zip {
		resp += "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
	}
	if _, err := io.WriteString(c, resp+"\r\n"); err != nil {
		return false, err
	}
	return zip, c.SetDeadline(time.Time{})
}

func waitSignal() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
}
