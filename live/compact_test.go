package live

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// compactBatch is a version-2 batch as docs/protocol.md describes it.
type compactBatch struct {
	Type  string `json:"type"`
	V     int    `json:"v"`
	Seq   uint64 `json:"seq"`
	At    int64  `json:"at"`
	Node  uint32 `json:"node"`
	Items []struct {
		T   string          `json:"t"`
		D   int64           `json:"d"`
		MS  int64           `json:"ms"`
		K   int64           `json:"k"`
		Q   uint16          `json:"q"`
		N   *uint32         `json:"n"`
		ID  string          `json:"id"`
		U   string          `json:"u"`
		O   string          `json:"o"`
		SE  string          `json:"se"`
		C   string          `json:"c"`
		S   int             `json:"s"`
		P   int             `json:"p"`
		X   int             `json:"x"`
		Src *danmaku.Source `json:"src"`
	} `json:"items"`
}

// full rebuilds the items of b in the seed's shape, by the rules the
// SDK's batchItems follows.
func (b compactBatch) full(t *testing.T, objectID string) []*danmaku.Danmaku {
	t.Helper()
	var out []*danmaku.Danmaku
	for _, it := range b.Items {
		created := b.At + it.D
		id := it.ID
		if id == "" {
			node := b.Node
			if it.N != nil {
				node = *it.N
			}
			tail := fmt.Sprintf("%013d%04d%05d", created+it.K, it.Q, node)
			if it.MS > 0 {
				id = strconv.FormatInt(it.MS, 10) + tail
			} else if id = strings.TrimLeft(tail, "0"); id == "" {
				id = "0"
			}
		}
		pid, err := danmaku.ParseID(id)
		if err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		c := danmaku.White
		if it.C != "" {
			if c, err = danmaku.ParseColor(it.C); err != nil {
				t.Fatal(err)
			}
		}
		d := &danmaku.Danmaku{ID: pid, ObjectID: objectID, UserID: it.U, OwnerID: it.O, Session: it.SE, CreatedAt: created, Count: it.X, Source: it.Src,
			Content: danmaku.Content{Text: it.T, Color: c, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll, Time: danmaku.Time(it.MS)}}
		if it.S != 0 {
			d.Content.Size = danmaku.Size(it.S)
		}
		if it.P != 0 {
			d.Content.Position = it.P
		}
		out = append(out, d)
	}
	return out
}

func TestCompactBatchesCarryWhatFullOnesDo(t *testing.T) {
	e := newEnv(t, nil)
	full := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	compact := e.dial("v1?v=2", wsclient.Options{})
	readType(t, full, "welcome")
	readType(t, compact, "welcome")

	now := e.clock.Now().UnixMilli()
	mk := func(text string, playMs int64, f func(*danmaku.Danmaku)) {
		d := &danmaku.Danmaku{ID: e.ids.Next(danmaku.Time(playMs)), ObjectID: "v1", UserID: "sender-" + text, CreatedAt: now - 400,
			Content: danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll, Time: danmaku.Time(playMs)}}
		if f != nil {
			f(d)
		}
		if err := e.hub.Publish(context.Background(), d, false); err != nil {
			t.Fatal(err)
		}
	}
	mk("前方高能", 0, nil)
	mk("白色滚动", 12_500, nil)
	mk("红色顶部", 61_001, func(d *danmaku.Danmaku) {
		d.Content.Color, d.Content.Size, d.Content.Position, d.OwnerID = 0xfe0302, danmaku.SizeSmall, danmaku.ModeTop, "owner"
	})
	mk("另一节点", 3_000, func(d *danmaku.Danmaku) { d.ID.Node = (d.ID.Node + 1) % 100000 })
	mk("时间不符", 7_000, func(d *danmaku.Danmaku) { d.ID.PlayMs = 6_999 })
	mk("时钟超前", 0, func(d *danmaku.Danmaku) { d.ID.UnixMs += 3 })
	mk("直播中", 0, func(d *danmaku.Danmaku) { d.Session = "mxb1hwzm" })
	mk("匿名观众", 0, func(d *danmaku.Danmaku) { d.UserID = "anon-lvB-_qWYFVjl7CsiiLKtcg" })
	mk("666", 0, nil)
	mk("666", 0, nil) // Folded with the one before.
	e.tick(tk)

	want := readType(t, full, "batch")
	got := readCompact(t, compact)
	if got.V != 2 || got.Seq != want.Seq || got.At != want.At {
		t.Fatalf("compact batch v=%d seq=%d at=%d, full seq=%d at=%d", got.V, got.Seq, got.At, want.Seq, want.At)
	}
	for _, d := range want.Items {
		if strings.HasPrefix(d.UserID, "anon-") {
			d.UserID = "" // Compact items do not name anonymous senders.
		}
	}
	if items := got.full(t, "v1"); !reflect.DeepEqual(items, want.Items) {
		a, _ := json.Marshal(items)
		b, _ := json.Marshal(want.Items)
		t.Fatalf("compact items rebuilt:\n%s\nfull items:\n%s", a, b)
	}

	// A joiner asking for version 2 gets the recent batches compact too.
	late := e.dial("v1?v=2", wsclient.Options{})
	w := readType(t, late, "welcome")
	var wb struct {
		Batches []compactBatch `json:"batches"`
	}
	if err := json.Unmarshal(w.raw, &wb); err != nil || len(wb.Batches) != 1 || wb.Batches[0].V != 2 || len(wb.Batches[0].Items) != len(got.Items) {
		t.Fatalf("welcome of a version-2 joiner = %s (%v)", w.raw, err)
	}
}

// readCompact reads one compact batch from c.
func readCompact(t *testing.T, c *wsclient.Conn) compactBatch {
	t.Helper()
	m := readType(t, c, "batch")
	var b compactBatch
	if err := json.Unmarshal(m.raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnknownProtocolVersionRefused(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/danmu/ws/v1?v=3", "/danmu/stream/v1?v=x"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"v"`) {
			t.Errorf("GET %s: %d %s, want 400 naming the field v", path, resp.StatusCode, body)
		}
	}
}

// TestCompactOverSSE: an SSE client asking for version 2 gets the compact
// batch as a "batch" event with the same resume id as version 1's.
func TestCompactOverSSE(t *testing.T) {
	e := newEnv(t, nil)
	ws := e.dial("v1", wsclient.Options{})
	tk := e.ticker()
	readType(t, ws, "welcome")
	resp, err := http.Get(e.srv.URL + "/danmu/stream/v1?v=2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan [3]string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var ev [3]string // id, event, data
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev[1] != "" {
					events <- ev
				}
				ev = [3]string{}
			case strings.HasPrefix(line, "id: "):
				ev[0] = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev[1] = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev[2] = line[6:]
			}
		}
	}()
	next := func() [3]string {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("SSE stream ended")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no SSE event")
			return [3]string{}
		}
	}
	if w := next(); w[1] != "welcome" {
		t.Fatalf("first event %v", w)
	}
	e.publish("v1", "alice", "你好", false)
	e.tick(tk)
	full := readType(t, ws, "batch")
	ev := next()
	var b compactBatch
	if err := json.Unmarshal([]byte(ev[2]), &b); err != nil || ev[1] != "batch" || b.V != 2 || b.Seq != full.Seq || len(b.Items) != 1 || b.Items[0].T != "你好" {
		t.Fatalf("SSE event %v (%v), want the compact form of %s", ev, err, full.raw)
	}
	if want := ":" + strconv.FormatUint(full.Seq, 10); !strings.HasSuffix(ev[0], want) || len(ev[0]) <= len(want) {
		t.Errorf("SSE id %q, want <epoch>%s", ev[0], want)
	}
}

// TestEncodeBatchIsEncodingJSON: the batch encoder writes what
// encoding/json writes for the same batch.
func TestEncodeBatchIsEncodingJSON(t *testing.T) {
	ids := danmaku.NewIDGen(nil)
	items := []*danmaku.Danmaku{
		{ID: ids.Next(12_500), ObjectID: "v1", UserID: "u<1>", OwnerID: "o&", CreatedAt: 1767268799412,
			Content: danmaku.Content{Text: "前方高能 \"<script>\u2028\\", Color: 0xfe0302, Size: danmaku.SizeSmall, Position: danmaku.ModeTop, Time: 12_500}, Count: 3},
		{ID: ids.Next(0), ObjectID: "v1", Content: danmaku.Content{Text: "666", Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll},
			Source: &danmaku.Source{Pool: 1, Hash: "abc", DMID: "42", Weight: 7}},
	}
	for _, its := range [][]*danmaku.Danmaku{items, items[:0], nil} {
		m, err := encodeBatch("e", 7, 1767268800000, its)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(batchJSON{Type: "batch", Seq: 7, At: 1767268800000, Items: its})
		if err != nil {
			t.Fatal(err)
		}
		if string(m.payload) != string(want) {
			t.Errorf("encodeBatch:\n%s\nencoding/json:\n%s", m.payload, want)
		}
	}
}
