package hostile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/live"
)

// metric returns the value of one line of the server's /metrics, e.g.
// `danmakud_slow_disconnects_total` or
// `danmakud_dropped_total{reason="slow_viewer"}`; 0 if it is absent.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				s.t.Fatalf("metrics: %q: %v", sc.Text(), err)
			}
			return f
		}
	}
	return 0
}

// readSlow reads c's next message within 10 s.
func readSlow(t *testing.T, c *wsclient.Conn) (wireMsg, error) {
	t.Helper()
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		return wireMsg{}, err
	}
	var m wireMsg
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatalf("slow viewer: undecodable message %q", p)
	}
	return m, nil
}

// TestSlowViewerDroppedThenClosed proves the slow-viewer rule of
// docs/protocol.md with a real client that stops reading over a socket
// with a small receive buffer (SO_RCVBUF set before connecting), against
// a server whose viewer sockets have a small send buffer
// (-live-send-buffer), so that the backlog builds in user space after a
// few batches instead of disappearing into the kernel's buffers:
//
//   - stopped long enough for batches to be dropped (the server counts
//     them), then reading again, it receives every batch up to where it
//     fell behind, a "dropped" message whose count is exactly the gap, and
//     the batches after it from "next" on;
//   - stopped again, it is disconnected: reading at last, it finds the
//     batches that were on their way, then a close frame with code 4008;
//   - meanwhile two viewers that read receive every batch, in order, none
//     dropped, each round's danmaku before the next round is sent.
//
// Batches are counted by their seq, so that no assertion depends on how
// the danmaku fell into ticks.
func TestSlowViewerDroppedThenClosed(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-rate-limits=false", "-tick", "100ms", "-live-send-buffer", "4096")
	const room = "hostile-slow-4008"
	slow := s.dialWS(room, "", wsclient.Options{RecvBuffer: 2048})
	welcome, err := readSlow(t, slow)
	if err != nil || welcome.Type != "welcome" || welcome.Room == nil {
		t.Fatalf("slow viewer: first message %+v, %v; want a welcome", welcome, err)
	}
	watchers := []*watcher{s.watch(room), s.watch(room)}
	c := newClient()
	tok := s.token("flow", "viewer")
	pad := strings.Repeat("弹幕", 40)
	round := 0
	// sendRound sends a few large danmaku and waits until every watcher
	// has them: the "on time" of the watchers.
	sendRound := func() {
		t.Helper()
		var texts []string
		for i := range 8 {
			txt := fmt.Sprintf("%d.%d %s", round, i, pad)
			send(t, c, s.url, tok, room, txt)
			texts = append(texts, txt)
		}
		for _, w := range watchers {
			w.waitFor(t, texts, 10*time.Second)
		}
		round++
	}
	lastSeq := func() uint64 {
		w := watchers[0]
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.seqs) == 0 {
			return w.start
		}
		return w.seqs[len(w.seqs)-1]
	}
	const droppedMetric = `danmakud_dropped_total{reason="slow_viewer"}`
	const closedMetric = `danmakud_slow_disconnects_total`

	// 1. The slow viewer reads nothing until the server has dropped
	// batches from its queue.
	for s.metric(droppedMetric) == 0 {
		if round == 60 {
			t.Fatalf("no batch was dropped after %d rounds: the backlog did not build", round)
		}
		sendRound()
	}
	if n := s.metric(closedMetric); n != 0 {
		t.Fatalf("the slow viewer was disconnected before it could catch up (%v disconnects after %d rounds)", n, round)
	}
	last := lastSeq()
	t.Logf("batches dropped after %d rounds, %d batches", round, last-welcome.Room.Seq)

	// It reads again: the batches up to where it fell behind, "dropped"
	// with the gap, the batches from "next" on.
	var (
		received, gap int
		told          bool
		prev          = welcome.Room.Seq
	)
	for prev < last {
		m, err := readSlow(t, slow)
		if err != nil {
			t.Fatalf("slow viewer, catching up after seq %d of %d: %v", prev, last, err)
		}
		switch m.Type {
		case "batch":
			if m.Seq != prev+1 {
				t.Fatalf("slow viewer: batch %d after %d without a dropped message", m.Seq, prev)
			}
			prev = m.Seq
			received++
		case "dropped":
			if told {
				t.Fatalf("slow viewer: a second dropped message %+v", m)
			}
			told = true
			if m.Count <= 0 || m.Next != prev+uint64(m.Count)+1 {
				t.Fatalf("slow viewer: dropped %+v after batch %d; want a count equal to the gap before next", m, prev)
			}
			gap = m.Count
			prev = m.Next - 1
		default:
			t.Fatalf("slow viewer: unexpected %+v", m)
		}
	}
	if !told {
		t.Fatal("slow viewer: batches were dropped but it was never told")
	}
	if dropped := s.metric(droppedMetric); float64(gap) != dropped {
		t.Errorf("slow viewer was told of %d dropped batches, the server counted %v", gap, dropped)
	}
	if uint64(received+gap) != last-welcome.Room.Seq {
		t.Errorf("slow viewer received %d batches and was told of %d dropped; %d were sent", received, gap, last-welcome.Room.Seq)
	}
	t.Logf("slow viewer caught up: %d batches received, %d dropped", received, gap)

	// 2. It stops reading again, until the server disconnects it.
	for s.metric(closedMetric) == 0 {
		if round == 200 {
			t.Fatalf("the slow viewer was not disconnected after %d rounds", round)
		}
		sendRound()
	}
	var code int
	for code == 0 {
		m, err := readSlow(t, slow)
		var ce *wsclient.CloseError
		switch {
		case errors.As(err, &ce):
			code = ce.Code
		case err != nil:
			t.Fatalf("slow viewer: the connection ended without a close frame after batch %d: %v", prev, err)
		case m.Type == "batch" && m.Seq == prev+1:
			prev = m.Seq
		default:
			t.Fatalf("slow viewer: %+v after batch %d while falling behind again; want the next batch or the close frame", m, prev)
		}
	}
	if code != live.CloseTooSlow {
		t.Errorf("slow viewer closed with %d, want %d", code, live.CloseTooSlow)
	}
	t.Logf("slow viewer closed with %d after batch %d of %d (%d rounds)", code, prev, lastSeq(), round)

	for _, w := range watchers {
		w.checkContiguous(t)
		w.mu.Lock()
		n := len(w.seqs)
		w.mu.Unlock()
		if want := int(lastSeq() - w.start); n != want {
			t.Errorf("watcher received %d batches, want %d", n, want)
		}
	}
	s.alive()
}
