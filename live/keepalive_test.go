package live

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/wsclient"
)

// TestSilentViewerIsClosed checks the keep-alive that replaced nbio's
// read deadline: a WebSocket viewer that sends nothing, not even a pong,
// for 3 ping intervals is closed with 1001 at a ping tick, while one that
// answers stays.
func TestSilentViewerIsClosed(t *testing.T) {
	e := newEnv(t, nil)
	alive := e.dial("keep", wsclient.Options{})
	readType(t, alive, "welcome")
	m := e.ticker()
	silent := e.dial("keep", wsclient.Options{})
	readType(t, silent, "welcome")

	// Three ping ticks, 31 s apart: the live client answers every ping
	// (its reader answers ping frames with pongs), then sends a message
	// of its own and reads the answer, so that the server has handled
	// both before the clock moves on. The third tick finds the other
	// client silent for 93 s.
	ping := []byte(`{"type":"ping","ref":"r"}`)
	for round := range 3 {
		e.clock.Advance(30 * time.Second)
		e.tick(m)
		if err := alive.WriteText(ping); err != nil {
			t.Fatal(err)
		}
		readType(t, alive, "pong")
		if got := e.hub.Stats().SilentDisconnects; round < 2 && got != 0 {
			t.Fatalf("tick %d: %d viewers closed as silent, want none within 3 ping intervals", round+1, got)
		}
	}
	// The tick's fan-out runs after the room took the tick.
	waitUntil(t, "the silent viewer is closed", func() bool { return e.hub.Stats().SilentDisconnects == 1 })
	// Read raw frames: a reader that answered the pings on the way would
	// write to a connection whose read side the server has shut down.
	_ = silent.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		op, p := readFrame(t, silent.Reader())
		if op != wsclient.OpClose {
			continue
		}
		if len(p) < 2 || int(binary.BigEndian.Uint16(p)) != CloseGoingAway {
			t.Fatalf("silent viewer closed with %q, want code %d", p, CloseGoingAway)
		}
		break
	}
	e.publish("keep", "u1", "still here", false)
	e.tick(m)
	if b := readType(t, alive, "batch"); texts(b.Items) != "still here" {
		t.Fatalf("live viewer got %q", texts(b.Items))
	}
}

// writeLog is a sink that records each write it is handed, with a
// backlog the test sets.
type writeLog struct {
	writes  [][][]byte
	pending int64
}

func (w *writeLog) write(bufs [][]byte) error {
	w.writes = append(w.writes, slices.Clone(bufs))
	return nil
}
func (w *writeLog) writeOne(b []byte) error { return w.write([][]byte{b}) }
func (w *writeLog) backlog() int64          { return w.pending }
func (w *writeLog) close(int, string)       {}

// TestPingRidesWithTheBatch checks that a ping tick's keep-alive goes out
// in the same write as the tick's batch to a viewer that keeps up, alone
// when there is no batch, and not at all to a viewer that is backed up,
// whose batch is queued instead.
func TestPingRidesWithTheBatch(t *testing.T) {
	e := newEnv(t, nil)
	batch := &message{seq: 1, ws: []byte("batch")}
	tests := []struct {
		name    string
		msgs    []*message
		pending int64
		want    []string // Each write, its frames joined by "+".
	}{
		{"batch and ping", []*message{batch}, 0, []string{"batch+" + string(pingMessage.ws)}},
		{"ping alone", nil, 0, []string{string(pingMessage.ws)}},
		{"backed up", []*message{batch}, 100, nil},
	}
	for _, tc := range tests {
		w := &writeLog{pending: tc.pending}
		v := &viewer{room: &room{hub: e.hub}, sink: w}
		if v.ping(tc.msgs, pingMessage, 0, &e.hub.cfg, &e.hub.stats) {
			t.Fatalf("%s: closed as silent", tc.name)
		}
		var got []string
		for _, bufs := range w.writes {
			got = append(got, string(bytes.Join(bufs, []byte("+"))))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: writes %q, want %q", tc.name, got, tc.want)
		}
		if tc.pending > 0 && len(v.queue) != 1 {
			t.Errorf("%s: %d batches queued, want 1", tc.name, len(v.queue))
		}
	}
}
