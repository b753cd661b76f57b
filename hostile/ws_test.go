package hostile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// frame encodes one client frame: fin and rsv bits, opcode, and the payload
// masked unless unmasked is set.
func frame(fin bool, rsv, op byte, payload []byte, unmasked bool) []byte {
	return wsclient.Frame(fin, rsv, op, payload, unmasked)
}

func text(p string) []byte { return frame(true, 0, 0x1, []byte(p), false) }

// Outcomes of a hostile frame.
const (
	replyError = "error"  // An error message; the connection stays open.
	replyPong  = "pong"   // A pong message.
	replyClose = "closed" // The server closed the connection.
)

// badFrame is one hostile frame sequence and the outcome it must get.
type badFrame struct {
	name string
	data []byte
	want string
}

// closeCodes names the close code the server must send after some of the
// bad frames, by name.
var closeCodes = map[string]int{
	"invalid utf-8":         1002,
	"unmasked":              1002,
	"unmasked after masked": 1002,
}

func badFrames() []badFrame {
	deep := strings.Repeat("[", 4000)
	big := bytes.Repeat([]byte("a"), 1<<20)
	return []badFrame{
		{"binary frame", frame(true, 0, 0x2, []byte(`{"type":"ping"}`), false), replyError},
		{"not json", text("hello"), replyError},
		{"json array", text(`[1,2,3]`), replyError},
		{"unknown type", text(`{"type":"hack","content":{}}`), replyError},
		{"no type", text(`{"content":{"text":"x"}}`), replyError},
		{"type number", text(`{"type":1}`), replyError},
		{"deep array", text(deep), replyError},
		{"deep content", text(`{"type":"send","content":` + deep), replyError},
		{"deep content closed", text(`{"type":"send","content":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`), replyError},
		{"number bomb", text(`{"type":"send","content":{"text":"x","time":1e99999}}`), replyError},
		{"long ref", text(`{"type":"ping","ref":"` + strings.Repeat("r", 100) + `"}`), replyError},
		{"send no content", text(`{"type":"send"}`), replyError},
		{"send bad text", text(`{"type":"send","content":{"text":""}}`), replyError},
		{"send control char", text(`{"type":"send","content":{"text":"a\u0000b"}}`), replyError},
		{"send long text", text(`{"type":"send","content":{"text":"` + strings.Repeat("弹", 101) + `"}}`), replyError},
		{"fragmented ping", append(append(frame(false, 0, 0x1, []byte(`{"type":`), false), frame(false, 0, 0x0, []byte(`"pi`), false)...), frame(true, 0, 0x0, []byte(`ng"}`), false)...), replyPong},
		{"fragmented with ping frame", append(append(frame(false, 0, 0x1, []byte(`{"type":`), false), frame(true, 0, 0x9, []byte("p"), false)...), frame(true, 0, 0x0, []byte(`"ping"}`), false)...), replyPong},
		{"invalid utf-8", text("{\"type\":\"send\",\"content\":{\"text\":\"\xff\xfe\"}}"), replyClose},
		{"1 MiB frame", frame(true, 0, 0x1, big, false), replyClose},
		{"5 KiB frame", frame(true, 0, 0x1, bytes.Repeat([]byte(" "), 5000), false), replyClose},
		{"fragments over limit", fragments(20, 400), replyClose},
		{"continuation first", frame(true, 0, 0x0, []byte(`{"type":"ping"}`), false), replyClose},
		{"new message inside fragments", append(frame(false, 0, 0x1, []byte(`{"type":`), false), text(`{"type":"ping"}`)...), replyClose},
		// RFC 6455 §5.1: a server must close the connection on an
		// unmasked client frame (the hub checks it; nbio would accept it).
		{"unmasked", frame(true, 0, 0x1, []byte(`{"type":"ping"}`), true), replyClose},
		{"unmasked after masked", append(text(`{"type":"hack"}`), frame(true, 0, 0x9, nil, true)...), replyError},
		{"reserved opcode", frame(true, 0, 0x3, []byte("x"), false), replyClose},
		{"reserved control opcode", frame(true, 0, 0xB, []byte("x"), false), replyClose},
		{"rsv2 set", frame(true, 2, 0x1, []byte(`{"type":"ping"}`), false), replyClose},
		{"long control frame", frame(true, 0, 0x9, bytes.Repeat([]byte("p"), 200), false), replyClose},
		{"fragmented control frame", frame(false, 0, 0x9, []byte("p"), false), replyClose},
		{"huge length header", append([]byte{0x81, 0xFF}, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4), replyClose},
	}
}

// fragments returns a text message split into n fragments of size bytes.
func fragments(n, size int) []byte {
	var b []byte
	for i := range n {
		op := byte(0x0)
		if i == 0 {
			op = 0x1
		}
		b = append(b, frame(i == n-1, 0, op, bytes.Repeat([]byte(" "), size), false)...)
	}
	return b
}

// outcome reads from c until the server answers with a message or closes
// the connection, and returns which.
func outcome(c *wsclient.Conn) (string, string) {
	_ = c.NetConn().SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		var ce *wsclient.CloseError
		switch {
		case errors.As(err, &ce):
			return replyClose, fmt.Sprintf("close %d %s", ce.Code, ce.Reason)
		case errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "reset"):
			return replyClose, err.Error()
		case err != nil:
			return "read error", err.Error()
		}
		var m wireMsg
		if json.Unmarshal(p, &m) != nil {
			return "undecodable", string(p)
		}
		switch m.Type {
		case "batch", "delete", "dropped":
			continue
		case "error":
			if m.Code == "" || m.Code == "internal" {
				return "bad error", string(p)
			}
		}
		return m.Type, string(p)
	}
}

// TestMalformedFrames sends about a thousand hostile WebSocket frame
// sequences, each on its own connection, while a sender sends valid
// danmaku over WebSocket and a watcher watches. Each hostile sequence must
// get an error message (the connection staying usable) or a closed
// connection, as listed; the server must stay up with bounded memory, and
// every valid danmaku must be acknowledged, stored and delivered with
// contiguous batches.
func TestMalformedFrames(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false", "-tick", "100ms")
	const room = "hostile-ws"
	w := s.watch(room)
	sender := s.dialWS(room, s.token("ws-sender", "viewer"), wsclient.Options{})
	if m, p := outcome(sender); m != "welcome" {
		t.Fatalf("sender's first message: %s %s", m, p)
	}
	rss0 := s.rssKB()

	var valid []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	frames := badFrames()
	const rounds, workers = 32, 4
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := wk; round < rounds; round += workers {
				for _, bf := range frames {
					if t.Failed() {
						return
					}
					checkFrame(t, s, room, bf)
				}
			}
		}()
	}
	// Valid sends over WebSocket in the meantime.
	for i := range 100 {
		txt := fmt.Sprintf("ws valid %d", i)
		msg, _ := json.Marshal(map[string]any{"type": "send", "ref": fmt.Sprint(i), "content": map[string]any{"text": txt}})
		if err := sender.WriteText(msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		if m, p := outcome(sender); m != "ack" {
			t.Fatalf("valid send %d: got %s %s", i, m, p)
		}
		mu.Lock()
		valid = append(valid, txt)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s.alive()
	w.waitFor(t, valid, 30*time.Second)
	stored := storedTexts(t, newClient(), s.url, room)
	for _, v := range valid {
		if stored[v] != 1 {
			t.Errorf("valid danmaku %q stored %d times", v, stored[v])
		}
	}
	if len(stored) != len(valid) {
		t.Errorf("%d texts stored, %d valid sent", len(stored), len(valid))
	}
	w.checkContiguous(t)
	rss1 := s.rssKB()
	t.Logf("%d hostile frame sequences, %d valid danmaku; RSS %d KiB before, %d KiB after", rounds*len(frames), len(valid), rss0, rss1)
	if rss1 > 200<<10 {
		t.Errorf("RSS grew to %d KiB", rss1)
	}
}

// checkFrame opens a connection, reads its welcome, writes bf and checks
// the outcome and the close code closeCodes names; after an error reply without
// a close code it checks that the connection still answers a ping.
func checkFrame(t *testing.T, s *server, room string, bf badFrame) {
	t.Helper()
	c, err := dialQuiet(s, room)
	if err != nil {
		t.Errorf("%s: dial: %v", bf.name, err)
		return
	}
	defer c.Close()
	if m, p := outcome(c); m != "welcome" {
		t.Errorf("%s: first message %s %s", bf.name, m, p)
		return
	}
	if _, err := c.NetConn().Write(bf.data); err != nil && bf.want != replyClose {
		t.Errorf("%s: write: %v", bf.name, err)
		return
	}
	got, detail := outcome(c)
	if got != bf.want {
		t.Errorf("%s: got %s (%s), want %s", bf.name, got, detail, bf.want)
		return
	}
	if code := closeCodes[bf.name]; code != 0 {
		if got != replyClose {
			got, detail = outcome(c) // The close that follows the answer.
		}
		if want := fmt.Sprintf("close %d ", code); got != replyClose || !strings.HasPrefix(detail, want) {
			t.Errorf("%s: got %s (%s), want %s", bf.name, got, detail, want)
		}
		return
	}
	if got == replyClose {
		return
	}
	if err := c.WriteText([]byte(`{"type":"ping","ref":"after"}`)); err != nil {
		t.Errorf("%s: ping after: %v", bf.name, err)
		return
	}
	if got, detail := outcome(c); got != replyPong {
		t.Errorf("%s: after the error, ping got %s (%s)", bf.name, got, detail)
	}
}

// dialQuiet opens a WebSocket without registering a cleanup.
func dialQuiet(s *server, room string) (*wsclient.Conn, error) {
	ctx, cancel := contextTimeout(10 * time.Second)
	defer cancel()
	return wsclient.Dial(ctx, s.wsURL(room, ""), wsclient.Options{Header: http.Header{}})
}
