package live

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/store/pebble"
	"github.com/danmakud/danmakud/webapi"
)

// stillTicker never ticks, so that a fuzzed connection receives only the
// answers to its own messages.
type stillTicker struct{ ch chan time.Time }

func (s stillTicker) C() <-chan time.Time { return s.ch }
func (s stillTicker) Reset(time.Duration) {}
func (s stillTicker) Stop()               {}

// FuzzClientMessage sends each input as one WebSocket text frame to a real
// hub, whose sends go through the real service to an embedded store, and
// checks the answer: a text frame of valid UTF-8 within the size limit
// gets exactly one message, an ack, a pong or an error that is never an
// internal error, and the connection stays usable; any other frame may
// only close the connection. The hub must never panic or hang.
func FuzzClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","ref":"1","content":{"text":"hello","color":"#ff0000","size":25,"position":1,"time":12.5}}`,
		`{"type":"send","content":{"text":"弹幕","color":"yellow","size":"40px"}}`,
		`{"type":"send","content":{"text":""}}`,
		`{"type":"send","content":{"text":"x","time":1e999}}`,
		`{"type":"send","content":[[[[[[]]]]]]}`,
		`{"type":"ping","ref":"p"}`,
		`{"type":"hack"}`,
		`{"type":"send","content":null}`,
		`[]`, `null`, `"send"`, `{`, "",
	} {
		f.Add([]byte(s))
	}
	st, err := pebble.Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	hub, err := New(Config{
		NewTicker: func(time.Duration) Ticker { return stillTicker{make(chan time.Time)} },
		Auth: webapi.AuthFunc(func(*http.Request) (danmaku.Actor, error) {
			return danmaku.Actor{UserID: "fuzzer", IP: "127.0.0.1"}, nil
		}),
	})
	if err != nil {
		f.Fatal(err)
	}
	svc := service.New(service.Config{}, st, service.Options{Broker: hub})
	hub.SetSender(svc)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /danmu/ws/{objectId}", hub.ServeWS)
	srv := httptest.NewServer(mux)
	f.Cleanup(func() {
		srv.Close()
		if err := hub.Close(); err != nil {
			f.Error(err)
		}
		if err := st.Close(); err != nil {
			f.Error(err)
		}
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/danmu/ws/fuzz"
	var conn *wsclient.Conn
	dial := func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := wsclient.Dial(ctx, url, wsclient.Options{})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if typ, p, err := readAnswer(c); err != nil || typ != "welcome" {
			t.Fatalf("welcome: %s %s %v", typ, p, err)
		}
		conn = c
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			// nbio v1.6.8 does not deliver empty messages, so there is no
			// answer to wait for.
			return
		}
		if conn == nil {
			dial(t)
		}
		if err := conn.WriteText(data); err != nil {
			t.Fatalf("write: %v", err)
		}
		typ, p, err := readAnswer(conn)
		mustAnswer := utf8.Valid(data) && len(data) <= 4096
		if err != nil {
			var ce *wsclient.CloseError
			if mustAnswer || !errors.As(err, &ce) && !errors.Is(err, errEOF) {
				t.Fatalf("no answer to %q: %v", data, err)
			}
			conn.Close()
			conn = nil
			return
		}
		if !mustAnswer {
			t.Fatalf("answered %s %s to a frame the server must refuse", typ, p)
		}
		switch typ {
		case "ack", "pong":
		case "error":
			var e struct{ Code, Message string }
			if json.Unmarshal(p, &e) != nil || e.Code == "" || e.Code == danmaku.EINTERNAL || e.Message == "" {
				t.Fatalf("bad error answer to %q: %s", data, p)
			}
		default:
			t.Fatalf("answer to %q is %s: %s", data, typ, p)
		}
	})
}

// errEOF is the end of a connection the server closed without a frame.
var errEOF = errors.New("EOF")

// readAnswer reads the next message that is not a batch and returns its
// type.
func readAnswer(c *wsclient.Conn) (string, []byte, error) {
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			if strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
				return "", nil, errEOF
			}
			return "", nil, err
		}
		var m struct{ Type string }
		if err := json.Unmarshal(p, &m); err != nil {
			return "", p, err
		}
		if m.Type != "batch" && m.Type != "delete" && m.Type != "dropped" {
			return m.Type, p, nil
		}
	}
}
