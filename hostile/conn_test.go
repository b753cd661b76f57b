package hostile

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// closedWithin reads from c until the server closes it and reports whether
// that happened before limit. Bytes the server sends (an error answer) are
// discarded.
func closedWithin(c net.Conn, limit time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestSlowlorisAndHangingConnections opens connections that trickle their
// headers a byte at a time and connections that send nothing at all; the
// header timeout (5 s) must close every one, while a well-behaved client
// is served throughout.
func TestSlowlorisAndHangingConnections(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false")
	const n = 40
	var wg sync.WaitGroup
	closed := make(chan bool, 2*n)
	for i := range 2 * n {
		c := s.dialTCP()
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 1 { // Connect and hang.
				closed <- closedWithin(c, 30*time.Second)
				return
			}
			head := "GET /healthz HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Slow: y\r\n", 100)
			done := make(chan bool, 1)
			go func() { done <- closedWithin(c, 30*time.Second) }()
			for j := 0; j < len(head); j++ {
				if _, err := c.Write([]byte{head[j]}); err != nil {
					break // Closed by the server.
				}
				select {
				case ok := <-done:
					closed <- ok
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			closed <- <-done
		}()
	}
	// Meanwhile, ordinary requests are answered.
	c := newClient()
	for range 20 {
		resp, err := c.Get(s.url + "/healthz")
		if err != nil {
			t.Fatalf("healthz during the attack: %v", err)
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(closed)
	open := 0
	for ok := range closed {
		if !ok {
			open++
		}
	}
	if open > 0 {
		t.Errorf("%d of %d slow or hanging connections were still open after 30 s", open, 2*n)
	}
	s.alive()
}

// httpOK sends GET /healthz on a raw keep-alive connection and returns
// the status, or 0 if the connection was closed without an answer.
func httpOK(c net.Conn, br *bufio.Reader) int {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		// The server may have answered 429 and closed before the write.
		resp, rerr := http.ReadResponse(br, nil)
		if rerr != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// dialFrom opens a TCP connection from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	return c
}

// TestConnectionFlood opens more connections from one address than the
// per-address cap (200 by default): those over it are answered 429 and
// closed, other addresses are unaffected, and closing connections frees
// their places — WebSocket connections, which live on the hub's poller
// after the upgrade, included.
func TestConnectionFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false")
	const limit, extra = 200, 50
	type held struct {
		c  net.Conn
		br *bufio.Reader
	}
	var conns []held
	defer func() {
		for _, h := range conns {
			h.c.Close()
		}
	}()
	ok, refused := 0, 0
	for range limit + extra {
		c := dialFrom(t, "127.0.0.2", s.addr)
		h := held{c, bufio.NewReader(c)}
		switch st := httpOK(h.c, h.br); st {
		case 200:
			ok++
			conns = append(conns, h)
		case 429, 0:
			refused++
			c.Close()
		default:
			t.Fatalf("flood: status %d", st)
		}
	}
	if ok != limit || refused != extra {
		t.Fatalf("flood from one address: %d served, %d refused; want %d and %d", ok, refused, limit, extra)
	}
	// Another address is served.
	other := dialFrom(t, "127.0.0.3", s.addr)
	if st := httpOK(other, bufio.NewReader(other)); st != 200 {
		t.Errorf("another address during the flood: %d", st)
	}
	other.Close()
	// Closing connections frees their places.
	for _, h := range conns[:extra] {
		h.c.Close()
	}
	conns = conns[extra:]
	time.Sleep(200 * time.Millisecond) // Let the server see the closes.
	for i := range extra {
		c := dialFrom(t, "127.0.0.2", s.addr)
		h := held{c, bufio.NewReader(c)}
		if st := httpOK(h.c, h.br); st != 200 {
			t.Fatalf("after closing %d connections, new connection %d got %d", extra, i, st)
		}
		conns = append(conns, h)
	}

	// WebSocket connections count while they are open and free their
	// places when they close.
	ws := func() (*wsclient.Conn, error) {
		ctx, cancel := contextTimeout(10 * time.Second)
		defer cancel()
		return wsclient.Dial(ctx, s.wsURL("flood", ""), wsclient.Options{LocalIP: net.ParseIP("127.0.0.4")})
	}
	var viewers []*wsclient.Conn
	for i := range limit {
		c, err := ws()
		if err != nil {
			t.Fatalf("websocket %d: %v", i, err)
		}
		viewers = append(viewers, c)
	}
	if c, err := ws(); err == nil {
		c.Close()
		t.Errorf("websocket %d from one address was accepted; the cap is %d", limit+1, limit)
	}
	for _, c := range viewers {
		c.Close()
	}
	time.Sleep(500 * time.Millisecond) // Let the poller see the closes.
	for i := range limit {
		c, err := ws()
		if err != nil {
			t.Fatalf("after closing the websockets, websocket %d: %v", i, err)
		}
		defer c.Close()
	}
	s.alive()
}

// TestViewersThatNeverRead connects viewers with tiny receive buffers that
// never read, while danmaku flow; a well-behaved viewer in the same room
// must receive every batch, in order, and every danmaku, and the server's
// memory must stay bounded.
func TestViewersThatNeverRead(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false", "-tick", "100ms")
	const room = "hostile-slow"
	var stuck []*wsclient.Conn
	for range 50 {
		stuck = append(stuck, s.dialWS(room, "", wsclient.Options{RecvBuffer: 2048}))
	}
	w := s.watch(room)
	rss0 := s.rssKB()
	c := newClient()
	tok := s.token("flow", "viewer")
	var want []string
	pad := strings.Repeat("弹幕", 40)
	for i := range 400 {
		txt := fmt.Sprintf("%d %s", i, pad)
		send(t, c, s.url, tok, room, txt)
		want = append(want, txt)
		if i%20 == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	w.waitFor(t, want, 30*time.Second)
	w.checkContiguous(t)
	rss1 := s.rssKB()
	t.Logf("50 viewers that never read, 400 danmaku of %d bytes: RSS %d KiB before, %d KiB after", len(want[0]), rss0, rss1)
	if rss1 > 200<<10 {
		t.Errorf("RSS grew to %d KiB", rss1)
	}
	s.alive()
	_ = stuck
}
