package live

import (
	"encoding/binary"
	"errors"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// rawFrame encodes one final client frame, masked unless unmasked is set.
func rawFrame(op byte, payload []byte, unmasked bool) []byte {
	return wsclient.Frame(true, 0, op, payload, unmasked)
}

// closeCode reads from c until the server's close frame and returns its
// code, or 0 if the connection ended without one. It then checks that the
// server closes the connection too.
func closeCode(t *testing.T, c *wsclient.Conn) int {
	t.Helper()
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *wsclient.CloseError
		switch {
		case errors.As(err, &ce):
			if _, _, err := c.ReadMessage(); !errors.Is(err, io.EOF) && !isReset(err) {
				t.Fatalf("after the close frame: %v, want the end of the connection", err)
			}
			return ce.Code
		case errors.Is(err, io.EOF) || isReset(err):
			return 0
		case err != nil:
			t.Fatalf("read: %v", err)
		}
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// scannerCount returns how many connections the hub's masking check
// follows.
func (h *Hub) scannerCount() int {
	n := 0
	h.scanners.Range(func(any, any) bool { n++; return true })
	return n
}

// TestUnmaskedFrameCloses writes raw frames over real upgraded connections:
// a masked frame is answered, an unmasked one (RFC 6455 §5.1) closes the
// connection with 1002 once the frames before it were handled, wherever
// the reads split the frames.
func TestUnmaskedFrameCloses(t *testing.T) {
	e := newEnv(t, nil)
	ping := []byte(`{"type":"ping","ref":"m"}`)
	long := []byte(`{"type":"ping","ref":"long","pad":"` + strings.Repeat("x", 300) + `"}`)

	c := e.dial("v1", wsclient.Options{})
	readType(t, c, "welcome")
	for ref, p := range map[string][]byte{"m": ping, "long": long} {
		if _, err := c.NetConn().Write(rawFrame(opText, p, false)); err != nil {
			t.Fatal(err)
		}
		if m := readType(t, c, "pong"); m.Ref != ref {
			t.Fatalf("pong %s, want ref %q", m.raw, ref)
		}
	}
	if _, err := c.NetConn().Write(rawFrame(opText, ping, true)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, c); code != CloseProtocolError {
		t.Fatalf("unmasked text frame: close code %d, want %d", code, CloseProtocolError)
	}

	// A masked frame and an unmasked ping frame in one write, then the
	// same sent a byte at a time.
	for _, bytewise := range []bool{false, true} {
		c := e.dial("v1", wsclient.Options{})
		readType(t, c, "welcome")
		b := append(rawFrame(opText, long, false), rawFrame(opPing, []byte("p"), true)...)
		if bytewise {
			for i := range b {
				if _, err := c.NetConn().Write(b[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, err := c.NetConn().Write(b); err != nil {
			t.Fatal(err)
		}
		readType(t, c, "pong")
		if code := closeCode(t, c); code != CloseProtocolError {
			t.Fatalf("unmasked ping frame (bytewise %v): close code %d, want %d", bytewise, code, CloseProtocolError)
		}
	}
	waitUntil(t, "the viewers are gone", func() bool { return e.hub.Stats().Viewers == 0 })
	waitUntil(t, "the hub forgets the closed connections", func() bool { return e.hub.scannerCount() == 0 })
}

// TestCloseFrames checks the close codes the hub sends: a client's close
// frame is answered with its code (1000 if it had none, 1002 if its reason
// is not UTF-8), a text frame that is not UTF-8 gets 1002, and the viewer
// leaves its room each time.
func TestCloseFrames(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		frame []byte
		want  int
	}{
		{"going away", rawFrame(opClose, binary.BigEndian.AppendUint16(nil, 1001), false), 1001},
		{"with reason", rawFrame(opClose, append(binary.BigEndian.AppendUint16(nil, 4000), "bye"...), false), 4000},
		{"no code", rawFrame(opClose, nil, false), CloseNormal},
		{"reason not UTF-8", rawFrame(opClose, append(binary.BigEndian.AppendUint16(nil, 1000), 0xff), false), CloseProtocolError},
		{"text not UTF-8", rawFrame(opText, []byte("{\"type\":\"ping\xff\"}"), false), CloseProtocolError},
	}
	for _, tc := range tests {
		c := e.dial("v1", wsclient.Options{})
		readType(t, c, "welcome")
		if _, err := c.NetConn().Write(tc.frame); err != nil {
			t.Fatal(err)
		}
		if code := closeCode(t, c); code != tc.want {
			t.Errorf("%s: close code %d, want %d", tc.name, code, tc.want)
		}
	}
	waitUntil(t, "the viewers are gone", func() bool { return e.hub.Stats().Viewers == 0 })
}

// TestFrameScanner feeds streams of masked frames of every length form,
// some followed by an unmasked one, to the scanner in random pieces: it
// must pass every byte before the unmasked frame and stop there.
func TestFrameScanner(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	sizes := []int{0, 1, 4, 125, 126, 127, 300, 0xFFFF, 0x10000}
	for range 300 {
		var stream []byte
		bad := -1
		for range 1 + rng.IntN(6) {
			unmasked := rng.IntN(6) == 0
			if unmasked && bad < 0 {
				bad = len(stream)
			}
			stream = append(stream, rawFrame(opText, make([]byte, sizes[rng.IntN(len(sizes))]), unmasked)...)
		}
		var f frameScanner
		passed := 0
		for off := 0; off < len(stream) && !f.failed; {
			n := 1 + rng.IntN(min(len(stream)-off, 1<<rng.IntN(17)))
			k := f.scan(stream[off : off+n])
			if !f.failed && k != n {
				t.Fatalf("scan passed %d of %d bytes of masked frames", k, n)
			}
			passed += k
			off += n
		}
		switch {
		case bad < 0 && (f.failed || passed != len(stream)):
			t.Fatalf("masked frames only: failed %v, passed %d of %d", f.failed, passed, len(stream))
		case bad >= 0 && (!f.failed || passed < bad || passed > bad+1):
			// The first byte of the unmasked frame's header may have been
			// passed with an earlier piece.
			t.Fatalf("unmasked frame at %d: failed %v, passed %d", bad, f.failed, passed)
		}
	}
}
