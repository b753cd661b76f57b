package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// streamGrace is how long requests in flight may run after shutdown
// starts before their contexts are cancelled.
const streamGrace = 2 * time.Second

// Defaults of serveConfig.
const (
	// DefaultMaxConnsPerIP is the default cap of concurrent connections
	// from one remote IP address (flag -max-conns-per-ip).
	DefaultMaxConnsPerIP = 200
	// DefaultBodyTimeout is how long a client may take to send a request
	// body (flag -body-timeout).
	DefaultBodyTimeout = 60 * time.Second
)

// Timeouts and sizes of the HTTP server, against slow or hanging clients.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 16 << 10
)

// serveConfig is how the server listens.
type serveConfig struct {
	// Addr is the address to listen on.
	Addr string
	// MaxConnsPerIP caps the concurrent connections from one remote IP
	// address, WebSocket connections on the live hub's poller included;
	// a connection over the cap is answered 429 and closed. Zero or less
	// means no cap.
	MaxConnsPerIP int
	// BodyTimeout bounds the time to read a request body, from the end of
	// its headers; zero means DefaultBodyTimeout. Requests without a body
	// (WebSocket upgrades, Server-Sent Events) have no read deadline once
	// their headers are read.
	BodyTimeout time.Duration
}

// serveWith listens on cfg.Addr, reports the bound address to ready, and
// serves h until ctx is cancelled; then it stops accepting and waits for
// requests in flight to finish.
func serveWith(ctx context.Context, cfg serveConfig, h http.Handler, log *slog.Logger, ready func(net.Addr)) error {
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	inner, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln := newLimitListener(inner, cfg.MaxConnsPerIP, log)
	// Request contexts end a moment after shutdown starts, so that
	// long-lived streams (Server-Sent Events) return and Shutdown can
	// finish, while ordinary requests in flight get time to complete.
	// WebSocket connections are not the server's after the upgrade: the
	// live hub holds them on its poller and closes them in Hub.Close.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           bodyDeadline(h, cfg.BodyTimeout),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       ln.connContext,
		ConnState:         ln.connState,
		// ReadTimeout and WriteTimeout stay zero: either would cut
		// Server-Sent Events streams. Bodies get bodyDeadline instead.
	}
	srv.RegisterOnShutdown(func() { time.AfterFunc(streamGrace, cancelBase) })
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// bodyDeadline gives a request with a body timeout to send it: the
// connection's read deadline is set before the handler runs and cleared
// once the body has been read to its end or closed, so that a client that
// trickles a body cannot hold a connection for ever, while requests
// without a body (streams, WebSocket upgrades) get no deadline.
func bodyDeadline(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.clear()
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	b.clear()
	return b.ReadCloser.Close()
}

func (b *deadlineBody) clear() {
	if !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

// tooManyConns is written to a connection over the per-IP cap before it
// is closed.
const tooManyConns = "HTTP/1.1 429 Too Many Requests\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: 104\r\n\r\n" +
	`{"error":{"code":"rate_limited","message":"too many connections from this address","retryAfterMs":1000}}`

// limitListener caps the concurrent connections per remote IP address.
// It returns the accepted *net.TCPConn unwrapped, so that the WebSocket
// upgrader can move it to the live hub's poller; it learns that a
// connection ended from the server's ConnState hook, and, for a connection
// that the live hub took over, from the release function that
// handOverConn returned.
type limitListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu     sync.Mutex
	perIP  map[string]int
	conns  map[net.Conn]*connSlot
	reject atomic.Int64 // Connections refused over the cap.
}

// connSlot is one counted connection.
type connSlot struct {
	l        *limitListener
	ip       string
	once     sync.Once
	handOver atomic.Bool // The live hub is taking the connection over.
	hijacked atomic.Bool // A handler hijacked the connection.
}

// release uncounts the connection; later calls do nothing.
func (s *connSlot) release() {
	s.once.Do(func() {
		s.l.mu.Lock()
		if n := s.l.perIP[s.ip] - 1; n > 0 {
			s.l.perIP[s.ip] = n
		} else {
			delete(s.l.perIP, s.ip)
		}
		s.l.mu.Unlock()
	})
}

func newLimitListener(ln net.Listener, max int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, max: max, log: log, perIP: map[string]int{}, conns: map[net.Conn]*connSlot{}}
}

// Accept returns the next connection whose address is under the cap;
// connections over it are answered 429 and closed here.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		l.mu.Lock()
		n := l.perIP[ip]
		if l.max > 0 && n >= l.max {
			l.mu.Unlock()
			l.refuse(c, ip)
			continue
		}
		l.perIP[ip] = n + 1
		l.conns[c] = &connSlot{l: l, ip: ip}
		l.mu.Unlock()
		return c, nil
	}
}

// refuse answers a connection over the cap and closes it. The answer is
// small enough for a fresh socket's send buffer, so the write does not
// wait for the client.
func (l *limitListener) refuse(c net.Conn, ip string) {
	if n := l.reject.Add(1); n == 1 || n%1000 == 0 {
		l.log.Warn("connection refused: too many from one address", "ip", ip, "max", l.max, "refusedTotal", n)
	}
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = io.WriteString(c, tooManyConns)
	_ = c.Close()
}

// connKey is the context key of a connection's *connSlot.
type connKey struct{}

// connContext puts the connection's slot in its requests' contexts, for
// handOverConn.
func (l *limitListener) connContext(ctx context.Context, c net.Conn) context.Context {
	l.mu.Lock()
	s := l.conns[c]
	l.mu.Unlock()
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, s)
}

// connState releases a connection's slot when the server closes it, or
// when a handler hijacks it without handing it over to the live hub.
func (l *limitListener) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	l.mu.Lock()
	s := l.conns[c]
	delete(l.conns, c)
	l.mu.Unlock()
	if s == nil {
		return
	}
	if st == http.StateHijacked {
		s.hijacked.Store(true)
		if s.handOver.Load() {
			return // The new owner releases it.
		}
	}
	s.release()
}

// handOverConn marks the connection that carries r as taken over by
// another owner (the live hub's poller, after a WebSocket upgrade) and
// returns the function that owner must call when the connection ends,
// or at once if the take-over fails (if the connection was not hijacked,
// it stays counted until the server closes it); calls after the first
// do nothing. Until it is called, the connection keeps counting against its
// address's cap. Without handOverConn, a hijacked connection stops
// counting at the hijack. For requests that did not come through
// serveWith it returns a function that does nothing.
//
// It fits live.Config's connection hook: the hub calls it before the
// upgrade and the returned function when the connection closes.
func handOverConn(r *http.Request) (release func()) {
	s, ok := r.Context().Value(connKey{}).(*connSlot)
	if !ok {
		return func() {}
	}
	s.handOver.Store(true)
	return func() {
		if s.hijacked.Load() {
			s.release()
			return
		}
		// The upgrade failed before the hijack: the connection goes on
		// serving HTTP and is released when the server closes it.
		s.handOver.Store(false)
	}
}

// remoteIP returns the IP address of a TCP remote address as text, or the
// whole address for other kinds.
func remoteIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
