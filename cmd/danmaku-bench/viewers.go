package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danmakud/danmakud/live/wsclient"
)

// frameEvent is one batch a viewer received.
type frameEvent struct {
	seq   uint64
	at    int64 // Nanoseconds since the bench started.
	bytes int32 // Frame size on the wire.
}

// viewerConn is one bench viewer: a goroutine reading raw frames and
// noting which batch arrived when; decoding is left for the end.
type viewerConn struct {
	nc      net.Conn
	events  []frameEvent
	dropped int   // Batches the server said it dropped.
	closeCd int   // Close code received, if any.
	err     error // Why reading stopped.
	welcome chan struct{}
}

// fleet is all the bench viewers plus the first copy of each batch.
type fleet struct {
	start   time.Time
	viewers []*viewerConn
	mu      sync.Mutex
	refs    map[uint64][]byte // seq -> payload, as first received.
	zseq    map[uint64]uint64 // Hash of a compressed frame -> seq (0: not a batch).
	wg      sync.WaitGroup
	open    atomic.Int64
}

func newFleet(start time.Time) *fleet {
	return &fleet{start: start, refs: make(map[uint64][]byte), zseq: make(map[uint64]uint64)}
}

// connect opens n viewers of url from the given source addresses, with
// conc dials at a time.
func (f *fleet) connect(ctx context.Context, url string, n, conc int, sources []net.IP, wantWelcome, deflate bool) error {
	var hdr http.Header
	if deflate {
		hdr = http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; client_no_context_takeover; server_no_context_takeover"}}
	}
	sem := make(chan struct{}, conc)
	errc := make(chan error, 1)
	var mu sync.Mutex
	for i := range n {
		select {
		case sem <- struct{}{}:
		case err := <-errc:
			return err
		}
		go func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := wsclient.Dial(dctx, url, wsclient.Options{LocalIP: sources[i%len(sources)], Header: hdr})
			if err != nil {
				select {
				case errc <- fmt.Errorf("viewer %d: %w", i, err):
				default:
				}
				return
			}
			v := &viewerConn{nc: c.NetConn(), welcome: make(chan struct{})}
			mu.Lock()
			f.viewers = append(f.viewers, v)
			mu.Unlock()
			f.open.Add(1)
			f.wg.Go(func() { f.read(v, c) })
			if wantWelcome {
				select {
				case <-v.welcome:
				case <-dctx.Done():
				}
			}
		}()
	}
	for range conc {
		sem <- struct{}{}
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	return nil
}

var (
	batchPrefix   = []byte(`{"type":"batch","seq":`)
	welcomePrefix = []byte(`{"type":"welcome"`)
	droppedPrefix = []byte(`{"type":"dropped","count":`)
)

// read consumes v's frames until the connection ends.
func (f *fleet) read(v *viewerConn, c *wsclient.Conn) {
	defer f.open.Add(-1)
	br := c.Reader()
	var buf []byte
	var hdr [14]byte
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			v.err = err
			return
		}
		op := hdr[0] & 0x0F
		n := int(hdr[1] & 0x7F)
		size := 2
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[2:4]); err != nil {
				v.err = err
				return
			}
			n = int(binary.BigEndian.Uint16(hdr[2:4]))
			size += 2
		case 127:
			if _, err := io.ReadFull(br, hdr[2:10]); err != nil {
				v.err = err
				return
			}
			n = int(binary.BigEndian.Uint64(hdr[2:10]))
			size += 8
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			v.err = err
			return
		}
		at := time.Since(f.start).Nanoseconds()
		size += n
		switch op {
		case wsclient.OpPing:
			_ = c.WritePong(buf)
			continue
		case wsclient.OpClose:
			if n >= 2 {
				v.closeCd = int(binary.BigEndian.Uint16(buf))
			}
			v.err = errors.New("closed by server")
			return
		case wsclient.OpText:
		default:
			continue
		}
		if hdr[0]&0x40 != 0 {
			// Compressed frames are the same bytes for every viewer, so
			// only the first copy of each is inflated.
			h := fnv.New64a()
			_, _ = h.Write(buf)
			key := h.Sum64()
			f.mu.Lock()
			seq, ok := f.zseq[key]
			f.mu.Unlock()
			if ok {
				if seq != 0 {
					v.events = append(v.events, frameEvent{seq: seq, at: at, bytes: int32(size)})
				}
				continue
			}
			p, err := wsclient.Inflate(buf)
			if err != nil {
				v.err = err
				return
			}
			buf = p
			if bytes.HasPrefix(buf, batchPrefix) {
				rest := buf[len(batchPrefix):]
				end := bytes.IndexByte(rest, ',')
				seq, _ = strconv.ParseUint(string(rest[:max(end, 0)]), 10, 64)
			}
			f.mu.Lock()
			f.zseq[key] = seq
			f.mu.Unlock()
		}
		switch {
		case bytes.HasPrefix(buf, batchPrefix):
			rest := buf[len(batchPrefix):]
			end := bytes.IndexByte(rest, ',')
			seq, err := strconv.ParseUint(string(rest[:max(end, 0)]), 10, 64)
			if err != nil {
				continue
			}
			v.events = append(v.events, frameEvent{seq: seq, at: at, bytes: int32(size)})
			f.mu.Lock()
			if _, ok := f.refs[seq]; !ok {
				f.refs[seq] = bytes.Clone(buf)
			}
			f.mu.Unlock()
		case bytes.HasPrefix(buf, welcomePrefix):
			close(v.welcome)
		case bytes.HasPrefix(buf, droppedPrefix):
			rest := buf[len(droppedPrefix):]
			end := bytes.IndexByte(rest, ',')
			if k, err := strconv.Atoi(string(rest[:max(end, 0)])); err == nil {
				v.dropped += k
			}
		}
	}
}

// closeAll closes every viewer and waits for the readers.
func (f *fleet) closeAll() {
	for _, v := range f.viewers {
		_ = v.nc.Close()
	}
	f.wg.Wait()
}

// frameText frames payload as one unmasked text frame.
func frameText(p []byte) []byte {
	n := len(p)
	var b []byte
	switch {
	case n < 126:
		b = []byte{0x81, byte(n)}
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16([]byte{0x81, 126}, uint16(n))
	default:
		b = binary.BigEndian.AppendUint64([]byte{0x81, 127}, uint64(n))
	}
	return append(b, p...)
}

// acceptKey computes Sec-WebSocket-Accept.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}
