package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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

	"github.com/danmakud/danmakud/internal/wsclient"
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
	events  []frameEvent // Only when the fleet keeps events.
	dropped int          // Batches the server said it dropped.
	closeCd int          // Close code received, if any.
	err     error        // Why reading stopped.
	welcome chan struct{}
	// firstSeq and got (distinct batches received, in increasing seq)
	// are written by the reader and read once it has ended.
	firstSeq uint64
	got      int64
	// lastSeq is the highest seq received; the soak reads it while the
	// reader runs.
	lastSeq atomic.Uint64
}

// fleet is all the bench viewers plus the first copy of each batch.
type fleet struct {
	start   time.Time
	viewers []*viewerConn
	mu      sync.Mutex
	refs    map[uint64][]byte // seq -> payload, as first received.
	batchN  map[uint64]int    // seq -> danmaku carried (folded counts included).
	zseq    map[uint64]uint64 // Hash of a compressed frame -> seq (0: not a batch).
	wg      sync.WaitGroup
	open    atomic.Int64
	// keepEvents makes every viewer keep a frameEvent per frame (the
	// fixed-window bench); the soak only counts, so that its memory does
	// not grow with its duration.
	keepEvents bool

	// Running totals over all viewers, readable while the viewers run.
	received  atomic.Int64 // Viewer-batches received (each seq once per viewer).
	delivered atomic.Int64 // Danmaku in those batches.
	gaps      atomic.Int64 // Viewer-batches skipped between two received ones.
	notices   atomic.Int64 // Batches that "dropped" notices reported.
	closed    atomic.Int64 // Viewers that received a close frame.
}

func newFleet(start time.Time) *fleet {
	return &fleet{start: start, refs: make(map[uint64][]byte), batchN: make(map[uint64]int),
		zseq: make(map[uint64]uint64), keepEvents: true}
}

// note records that v received batch seq carrying n danmaku.
func (f *fleet) note(v *viewerConn, ev frameEvent, n int) {
	if f.keepEvents {
		v.events = append(v.events, ev)
	}
	last := v.lastSeq.Load()
	if v.got > 0 && ev.seq <= last {
		return // A repeat: not counted twice.
	}
	if v.got > 0 && ev.seq > last+1 {
		f.gaps.Add(int64(ev.seq - last - 1))
	}
	if v.got == 0 {
		v.firstSeq = ev.seq
	}
	v.got++
	v.lastSeq.Store(ev.seq)
	f.received.Add(1)
	f.delivered.Add(int64(n))
}

// batchSeq returns the seq of a batch payload, in either shape.
func batchSeq(p []byte) (uint64, error) {
	i := bytes.Index(p, seqKey)
	if i < 0 {
		return 0, errors.New("batch without seq")
	}
	rest := p[i+len(seqKey):]
	end := bytes.IndexByte(rest, ',')
	return strconv.ParseUint(string(rest[:max(end, 0)]), 10, 64)
}

// batchCount returns how many danmaku a batch payload carries (a folded
// item counts its count); 0 if it does not decode.
func batchCount(p []byte) int {
	var b struct {
		Items []batchItem `json:"items"`
	}
	if err := json.Unmarshal(p, &b); err != nil {
		return 0
	}
	n := 0
	for _, it := range b.Items {
		n += it.count()
	}
	return n
}

// connect opens n viewers of url from the given source addresses, with
// conc dials at a time.
func (f *fleet) connect(ctx context.Context, url string, n, conc int, sources []net.IP, wantWelcome, deflate bool) error {
	var hdr http.Header
	if deflate {
		hdr = http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; client_no_context_takeover; server_no_context_takeover"}}
	}
	conc = max(conc, 1)
	sem := make(chan struct{}, conc)
	errc := make(chan error, 1)
	var mu sync.Mutex
	var err error
	for i := range n {
		select {
		case sem <- struct{}{}:
		case err = <-errc:
		}
		if err != nil {
			break
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
	// Wait for the dials in flight, so that every viewer that connected
	// is in f.viewers before the caller can close them.
	for range conc {
		sem <- struct{}{}
	}
	if err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	return nil
}

var (
	batchPrefix   = []byte(`{"type":"batch",`)
	seqKey        = []byte(`"seq":`)
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
				f.closed.Add(1)
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
			n := f.batchN[seq]
			f.mu.Unlock()
			if ok {
				if seq != 0 {
					f.note(v, frameEvent{seq: seq, at: at, bytes: int32(size)}, n)
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
				seq, _ = batchSeq(buf)
			}
			n = 0
			if seq != 0 {
				n = batchCount(buf)
			}
			f.mu.Lock()
			if _, ok := f.batchN[seq]; !ok && seq != 0 {
				f.batchN[seq] = n
			}
			f.zseq[key] = seq
			f.mu.Unlock()
		}
		switch {
		case bytes.HasPrefix(buf, batchPrefix):
			seq, err := batchSeq(buf)
			if err != nil {
				continue
			}
			f.mu.Lock()
			n, known := f.batchN[seq]
			_, stored := f.refs[seq]
			f.mu.Unlock()
			if !known {
				n = batchCount(buf)
			}
			if !known || !stored {
				f.mu.Lock()
				if _, ok := f.batchN[seq]; !ok {
					f.batchN[seq] = n
				}
				if _, ok := f.refs[seq]; !ok {
					f.refs[seq] = bytes.Clone(buf)
				}
				f.mu.Unlock()
			}
			f.note(v, frameEvent{seq: seq, at: at, bytes: int32(size)}, n)
		case bytes.HasPrefix(buf, welcomePrefix):
			close(v.welcome)
		case bytes.HasPrefix(buf, droppedPrefix):
			rest := buf[len(droppedPrefix):]
			end := bytes.IndexByte(rest, ',')
			if k, err := strconv.Atoi(string(rest[:max(end, 0)])); err == nil {
				v.dropped += k
				f.notices.Add(int64(k))
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
