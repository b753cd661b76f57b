package live

import (
	"encoding/binary"
	"math"
	"net"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// This file holds what the hub adds to nbio's handling of a WebSocket
// connection on its poller: the masking check that RFC 6455 §5.1 asks of
// a server, and a way of closing a connection that cannot hurt the next
// connection to get the same descriptor number.

// frameScanner follows the frame boundaries of one client's byte stream,
// reading only the frame headers, to find a frame that is not masked.
// nbio v1.6.8 accepts unmasked client frames and has no option to refuse
// them, so the hub looks at the bytes before nbio parses them.
type frameScanner struct {
	hdr    [10]byte // The current frame's header, up to the masking key.
	n      int      // How many bytes of hdr have arrived.
	skip   uint64   // Bytes of the current frame (masking key and payload) still to come.
	failed bool     // An unmasked frame arrived; the connection is being closed.
}

// scan reads b, the next bytes from the client, and returns how many of
// them to pass on: len(b) if every frame header in b is masked, else the
// offset in b where the first unmasked frame starts (0 when it started in
// an earlier read), and then failed is set.
func (f *frameScanner) scan(b []byte) int {
	start := 0 // Where the frame being read started in b.
	for i := 0; i < len(b); {
		if f.skip > 0 {
			k := min(f.skip, uint64(len(b)-i))
			f.skip -= k
			i += int(k)
			continue
		}
		if f.n == 0 {
			start = i
		}
		f.hdr[f.n] = b[i]
		f.n++
		i++
		if f.n < 2 {
			continue
		}
		if f.hdr[1]&0x80 == 0 {
			f.failed = true
			return start
		}
		need := 2
		switch f.hdr[1] & 0x7F {
		case 126:
			need = 4
		case 127:
			need = 10
		}
		if f.n < need {
			continue
		}
		size := uint64(f.hdr[1] & 0x7F)
		switch need {
		case 4:
			size = uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 10:
			size = binary.BigEndian.Uint64(f.hdr[2:10])
		}
		f.n = 0
		// nbio refuses a frame over MaxMessageBytes anyway; the bound only
		// keeps the sum from overflowing.
		f.skip = 4 + min(size, math.MaxUint64-4)
	}
	return len(b)
}

// onData receives every read from a viewer's socket on the connection's
// poller goroutine, before nbio parses it. It passes the bytes on to
// nbio's parser up to the first unmasked frame, if any, and then closes
// the connection with CloseProtocolError once the messages before that
// frame have been handled.
//
// A connection's scanner is kept in h.scanners only while a frame
// continues past a read, or after the connection failed: most reads hold
// whole frames (a pong, a short message), so that an open connection
// costs the map nothing. Reads of one connection come in order on its
// poller goroutine, so the load, scan and store need no lock.
func (h *Hub) onData(c *nbio.Conn, data []byte) {
	var f frameScanner
	kept, ok := h.scanners.Load(c)
	if ok {
		f = *kept.(*frameScanner)
	}
	if f.failed {
		return
	}
	if flooded(c) {
		// The connection is being closed: what it sent is dropped.
		h.scanners.Store(c, &frameScanner{failed: true})
		return
	}
	n := f.scan(data)
	switch {
	case f.failed || f.n > 0 || f.skip > 0:
		// A copy goes into the map, so that f itself stays on the stack
		// for the reads that keep nothing.
		keep := f
		h.scanners.Store(c, &keep)
	case ok:
		h.scanners.Delete(c)
	}
	if parse := c.DataHandler(); n > 0 && parse != nil {
		parse(c, data[:n])
	}
	if f.failed {
		// nbio runs a connection's message handlers in order on its
		// Execute queue; the refusal goes after them.
		c.Execute(func() { refuseUnmasked(c) })
	}
}

// refuseUnmasked closes c, which sent an unmasked frame.
func refuseUnmasked(c *nbio.Conn) {
	const reason = "unmasked frame"
	if wsc, ok := c.Session().(*websocket.Conn); ok {
		if s, ok := wsc.Session().(*wsSink); ok {
			s.v.close(CloseProtocolError, reason)
			return
		}
	}
	// The viewer is not set up yet; ServeWS finds the connection closed.
	endConn(c, closeFrame(CloseProtocolError, reason))
}

// endConn writes frame (a close frame, or nil) to c and has c's poller
// goroutine close it.
//
// nbio v1.6.8 closes the descriptor at once from whichever goroutine
// calls Close, while the poller may hold events from its last wait that
// it has not handled yet, looked up by descriptor number. If the client
// has just sent something (typically its end of the connection, having
// read the close frame) and a new viewer gets the same number before the
// poller catches up, the poller hands the old connection's EPOLLRDHUP to
// the new one and closes it: under CPU load about one reconnect in ten
// thousand lost its connection right after the welcome this way. Shutting
// down the read side instead makes the socket readable; the poller reads
// end-of-file and closes the descriptor while handling that event, so no
// event of the old connection is left behind.
func endConn(c *nbio.Conn, frame []byte) {
	if frame != nil {
		_, _ = c.Write(frame)
	}
	err := net.ErrClosed
	// Under the connection's lock, so that nbio cannot close the
	// descriptor (and the number cannot be reused) meanwhile.
	c.Lock()
	closed, _ := c.IsClosed()
	if !closed {
		err = shutdownRead(c)
	}
	c.Unlock()
	if err != nil && !closed {
		_ = c.Close()
	}
}

// shutdownRead shuts down the read side of c's socket.
func shutdownRead(c *nbio.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_RD) }); err != nil {
		return err
	}
	return serr
}

// closeWait bounds how long a client's close frame waits for the poller
// to close the connection.
const closeWait = 100 * time.Millisecond

// waitClosed waits up to d for c to be closed.
func waitClosed(c *nbio.Conn, d time.Duration) {
	for end := time.Now().Add(d); !isClosed(c) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
}

// isClosed reports whether c has been closed.
func isClosed(c *nbio.Conn) bool {
	c.Lock()
	defer c.Unlock()
	closed, _ := c.IsClosed()
	return closed
}
