package live

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// TestPingFloodHoldsOnePong checks that a client that sends ping frames
// and reads nothing makes the server hold at most one pong: the flood's
// pongs would be 2.5 MB, over the 1 MiB backlog that disconnects a viewer,
// yet the connection stays up and the server writes a small part of them.
func TestPingFloodHoldsOnePong(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SocketSendBuffer = 4096 })
	c := e.dial("flood", wsclient.Options{RecvBuffer: 4096})
	readType(t, c, "welcome")
	const pings, size = 20_000, 125
	payload := bytes.Repeat([]byte("p"), size)
	var buf []byte
	for i := range pings {
		buf = append(buf, wsclient.Frame(true, 0, wsclient.OpPing, payload, false)...)
		if len(buf) > 64<<10 || i == pings-1 {
			if _, err := c.NetConn().Write(buf); err != nil {
				t.Fatalf("write pings: %v", err)
			}
			buf = buf[:0]
		}
	}
	// The last ping's pong comes after every ping was handled: while the
	// connection is backed up the server keeps the latest one only.
	if _, err := c.NetConn().Write(wsclient.Frame(true, 0, wsclient.OpPing, []byte("end"), false)); err != nil {
		t.Fatal(err)
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		op, p := readFrame(t, c.Reader())
		if op == wsclient.OpClose {
			t.Fatalf("closed during the flood: %q", p)
		}
		if op == wsclient.OpPong && string(p) == "end" {
			break
		}
	}
	if w := e.hub.Stats().BytesWritten; w > pings*size/4 {
		t.Fatalf("the server wrote %d bytes for %d pings of %d bytes; want most pongs coalesced", w, pings, size)
	}
}

// readFrame reads one unmasked server frame from r, control frames
// included, and returns its opcode and payload.
func readFrame(t *testing.T, r *bufio.Reader) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return h[0] & 0x0F, p
}
