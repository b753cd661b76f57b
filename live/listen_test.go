package live

import (
	"encoding/json"
	"fmt"
	"testing"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// TestListenSeesWhatViewersSee registers a listener beside a WebSocket
// viewer: the listener gets each batch with the same seq and the same
// items, after the same fair cap, as the JSON the API returns; once
// stopped it gets nothing more.
func TestListenSeesWhatViewersSee(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DefaultRoom.MaxPerTick = 2 })
	got := make(chan Batch, 16)
	stop, err := e.hub.Listen("v1", func(b Batch) { got <- b })
	if err != nil {
		t.Fatal(err)
	}
	tk := e.ticker()
	ws := e.dial("v1", wsclient.Options{})
	readType(t, ws, "welcome")

	for u := range 5 {
		e.publish("v1", fmt.Sprintf("u%d", u), fmt.Sprintf("text %d", u), false)
	}
	e.tick(tk)
	m := readType(t, ws, "batch")
	var viewer struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(m.raw, &viewer); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if b.Seq != m.Seq || len(b.Items) != 2 || len(viewer.Items) != 2 {
		t.Fatalf("listener: seq %d with %d items; viewer: seq %d with %d items; want the same seq, 2 items each (the cap)", b.Seq, len(b.Items), m.Seq, len(viewer.Items))
	}
	for i := range b.Items {
		if string(b.Items[i]) != string(viewer.Items[i]) {
			t.Errorf("item %d: listener %s, viewer %s", i, b.Items[i], viewer.Items[i])
		}
		var d danmaku.Danmaku
		if err := json.Unmarshal(b.Items[i], &d); err != nil || d.ObjectID != "v1" {
			t.Errorf("item %d %s is not a danmaku of v1: %v", i, b.Items[i], err)
		}
	}

	stop()
	stop() // A second call does nothing.
	e.publish("v1", "u9", "after stop", false)
	e.tick(tk)
	readType(t, ws, "batch")
	select {
	case b := <-got:
		t.Errorf("listener got batch %d after stop", b.Seq)
	default:
	}
	if _, err := e.hub.Listen("bad id!", func(Batch) {}); danmaku.ErrorCode(err) != danmaku.EINVALID {
		t.Errorf("Listen with an invalid id: %v, want EINVALID", err)
	}
}
