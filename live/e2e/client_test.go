package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// batch is a batch as a viewer receives it.
type batch struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq"`
	Items []struct {
		ID    string `json:"id"`
		Count int    `json:"count"`
	} `json:"items"`
}

// welcome is the first message of a connection.
type welcome struct {
	Type string `json:"type"`
	Room struct {
		Seq   uint64 `json:"seq"`
		Epoch string `json:"epoch"`
	} `json:"room"`
	Recovered bool    `json:"recovered"`
	Batches   []batch `json:"batches"`
}

// viewer is a WebSocket viewer of one room.
type viewer struct {
	t    *testing.T
	conn *wsclient.Conn
	w    welcome
}

// watch opens a WebSocket viewer of objectID; since and epoch, when
// epoch is not empty, resume.
func watch(t *testing.T, srv *testenv.Server, objectID, epoch string, since uint64) *viewer {
	t.Helper()
	u := testenv.WatchURL(srv.URL(), objectID, epoch, since)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, u, wsclient.Options{ReadBuffer: 1 << 20})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	v := &viewer{t: t, conn: c}
	t.Cleanup(func() { _ = c.Close() })
	p := v.read()
	if err := json.Unmarshal(p, &v.w); err != nil || v.w.Type != "welcome" {
		t.Fatalf("first message %s (%v), want a welcome", p, err)
	}
	return v
}

// read returns the next text message.
func (v *viewer) read() []byte {
	v.t.Helper()
	_ = v.conn.NetConn().SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		op, p, err := v.conn.ReadMessage()
		if err != nil {
			v.t.Fatalf("read: %v", err)
		}
		if op == wsclient.OpText {
			return p
		}
	}
}

// next returns the next batch, skipping other messages.
func (v *viewer) next() batch {
	v.t.Helper()
	for {
		p := v.read()
		var b batch
		if err := json.Unmarshal(p, &b); err != nil {
			v.t.Fatalf("message %s: %v", p, err)
		}
		if b.Type == "batch" {
			return b
		}
	}
}

// sender posts danmaku with one anonymous identity, so that it may
// delete them.
type sender struct {
	base   string
	client *http.Client
}

func newSender(t *testing.T, srv *testenv.Server) *sender {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sender{base: srv.URL(), client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// send stores one danmaku and returns its id.
func (s *sender) send(objectID, text string) (string, error) {
	body, err := json.Marshal(map[string]any{"objectId": objectID, "content": map[string]any{"text": text, "time": 1}})
	if err != nil {
		return "", err
	}
	res, err := s.client.Post(s.base+"/danmu/send", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("send %q: %s %s", text, res.Status, b)
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		return "", fmt.Errorf("send %q: answer %s (%v)", text, b, err)
	}
	return d.ID, nil
}

// mustSend is send for the test goroutine.
func (s *sender) mustSend(t *testing.T, objectID, text string) string {
	t.Helper()
	id, err := s.send(objectID, text)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// remove deletes a danmaku the sender sent.
func (s *sender) remove(t *testing.T, objectID, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, s.base+"/danmu/item/"+objectID+"/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("delete %s: %s %s", id, res.Status, b)
	}
}

// rooms returns the live rooms the server holds, from /metrics.
func rooms(t *testing.T, srv *testenv.Server) string {
	t.Helper()
	res, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "danmakud_rooms "); ok {
			return v
		}
	}
	t.Fatal("/metrics has no danmakud_rooms")
	return ""
}

// ids returns the ids of the items of bs.
func ids(bs []batch) []string {
	var out []string
	for _, b := range bs {
		for _, it := range b.Items {
			out = append(out, it.ID)
		}
	}
	return out
}
