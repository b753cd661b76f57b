// Package wsclient is a minimal WebSocket client for tests and the bench
// tool: no extensions, text and control frames, masking as RFC 6455
// requires. It is not meant for browsers' use cases.
package wsclient

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Opcodes.
const (
	OpText  = 0x1
	OpClose = 0x8
	OpPing  = 0x9
	OpPong  = 0xA
)

// Options tune a connection. The zero value is usable.
type Options struct {
	// RecvBuffer, if positive, sets SO_RCVBUF before connecting (a small
	// value makes a client that never reads fill up quickly).
	RecvBuffer int
	// LocalIP, if set, is the source address (for example 127.0.0.2).
	LocalIP net.IP
	// ReadBuffer is the bufio size (default 4096).
	ReadBuffer int
	// Header is sent with the upgrade request.
	Header http.Header
}

// Conn is a client WebSocket connection. Reads must come from one
// goroutine; writes are serialised.
type Conn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	// BytesRead counts every byte read from the socket, frames included.
	BytesRead int64
	// LastCompressed reports whether the last frame read had RSV1 set
	// (permessage-deflate); its payload is then still compressed.
	LastCompressed bool
}

// CloseError is returned by ReadMessage when the server sent a close frame.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("websocket closed: %d %s", e.Code, e.Reason) }

// Dial connects to a ws:// URL.
func Dial(ctx context.Context, rawURL string, opt Options) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	d := net.Dialer{}
	if opt.LocalIP != nil {
		d.LocalAddr = &net.TCPAddr{IP: opt.LocalIP}
	}
	if opt.RecvBuffer > 0 || opt.LocalIP != nil {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				if opt.RecvBuffer > 0 {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, opt.RecvBuffer)
				}
				if serr == nil && opt.LocalIP != nil {
					// IP_BIND_ADDRESS_NO_PORT (24): pick the port at connect
					// time, so many source addresses share the port range.
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, 24, 1)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u.Host, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", u.RequestURI(), u.Host, k)
	for name, vs := range opt.Header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(nc, req.String()); err != nil {
		nc.Close()
		return nil, fmt.Errorf("write upgrade: %w", err)
	}
	size := opt.ReadBuffer
	if size <= 0 {
		size = 4096
	}
	br := bufio.NewReaderSize(nc, size)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		nc.Close()
		return nil, &HandshakeError{Status: resp.StatusCode, Body: string(body)}
	}
	h := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		nc.Close()
		return nil, errors.New("bad Sec-WebSocket-Accept")
	}
	_ = nc.SetDeadline(time.Time{})
	return &Conn{nc: nc, br: br}, nil
}

// HandshakeError is returned when the server refuses the upgrade.
type HandshakeError struct {
	Status int
	Body   string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("upgrade refused: %d %s", e.Status, strings.TrimSpace(e.Body))
}

// Reader returns the buffered reader of the connection, which may already
// hold frames that arrived with the handshake; raw frame readers must use
// it rather than NetConn.
func (c *Conn) Reader() *bufio.Reader { return c.br }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// ReadMessage returns the next data message. Pings are answered, pongs
// skipped, and a close frame becomes a *CloseError. Fragmented messages
// are reassembled.
func (c *Conn) ReadMessage() (op byte, payload []byte, err error) {
	var msg []byte
	var msgOp byte
	for {
		fin, fop, p, err := c.readFrame()
		if err != nil {
			return 0, nil, err
		}
		switch fop {
		case OpPing:
			if err := c.write(OpPong, p); err != nil {
				return 0, nil, err
			}
			continue
		case OpPong:
			continue
		case OpClose:
			ce := &CloseError{Code: 1005}
			if len(p) >= 2 {
				ce.Code = int(binary.BigEndian.Uint16(p))
				ce.Reason = string(p[2:])
			}
			return OpClose, nil, ce
		case 0:
			msg = append(msg, p...)
		default:
			msgOp = fop
			msg = p
		}
		if fin {
			return msgOp, msg, nil
		}
	}
}

func (c *Conn) readFrame() (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return
	}
	c.LastCompressed = h[0]&0x40 != 0
	fin = h[0]&0x80 != 0
	op = h[0] & 0x0F
	n := uint64(h[1] & 0x7F)
	c.BytesRead += 2
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		c.BytesRead += 2
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(c.br, b[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(b[:])
		c.BytesRead += 8
	}
	if h[1]&0x80 != 0 {
		return false, 0, nil, errors.New("server frame is masked")
	}
	if n > 64<<20 {
		return false, 0, nil, errors.New("frame too large")
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(c.br, payload); err != nil {
		return
	}
	c.BytesRead += int64(n)
	return
}

// WriteText sends one masked text frame.
func (c *Conn) WriteText(p []byte) error { return c.write(OpText, p) }

// WritePong answers a ping.
func (c *Conn) WritePong(p []byte) error { return c.write(OpPong, p) }

// WriteClose sends a close frame with code.
func (c *Conn) WriteClose(code int) error {
	return c.write(OpClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
}

func (c *Conn) write(op byte, p []byte) error {
	b := Frame(true, 0, op, p, false)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// Frame encodes one client frame: the fin and rsv bits, the opcode, and
// the payload, masked with a random key unless unmasked is set (which a
// server must refuse; tests use it to check that it does).
func Frame(fin bool, rsv, op byte, payload []byte, unmasked bool) []byte {
	b0 := rsv<<4 | op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0, 0}
	n := len(payload)
	switch {
	case n < 126:
		b[1] = byte(n)
	case n <= 0xFFFF:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if unmasked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= mask[i%4]
	}
	return b
}

// Inflate decompresses a permessage-deflate payload.
func Inflate(p []byte) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	defer r.Close()
	return io.ReadAll(r)
}

// Close closes the connection without a closing handshake.
func (c *Conn) Close() error { return c.nc.Close() }
