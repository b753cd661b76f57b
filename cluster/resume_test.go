package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/internal/wsclient"
	goredis "github.com/redis/go-redis/v9"
)

// welcome is the first message of a viewer's connection.
type welcome struct {
	Room struct {
		Seq   uint64 `json:"seq"`
		Epoch string `json:"epoch"`
	} `json:"room"`
	Recovered bool    `json:"recovered"`
	Batches   []batch `json:"batches"`
}

// resumeWatch connects a viewer to base's room, resuming after since in
// epoch when epoch is not empty, and returns its welcome and the watcher
// that records the batches after it.
func resumeWatch(t *testing.T, name, base, room, epoch string, since uint64) (welcome, *watcher) {
	t.Helper()
	u := testenv.WatchURL(base, room, epoch, since)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := wsclient.Dial(ctx, u, wsclient.Options{ReadBuffer: 1 << 20})
	if err != nil {
		t.Fatalf("viewer %s: %v", name, err)
	}
	var w welcome
	_ = conn.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		op, p, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("viewer %s: read the welcome: %v", name, err)
		}
		if op != wsclient.OpText {
			continue
		}
		if err := json.Unmarshal(p, &w); err != nil {
			t.Fatalf("viewer %s: welcome %s: %v", name, p, err)
		}
		break
	}
	_ = conn.NetConn().SetReadDeadline(time.Time{})
	v := &watcher{name: name, conn: conn, done: make(chan struct{})}
	t.Cleanup(func() { _ = conn.Close(); <-v.done })
	go v.read()
	return w, v
}

// seqsOf returns the seq of each batch.
func seqsOf(bs []batch) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

// checkOnce checks that bs follow each other by seq and carry every text
// of want exactly once, and gone never.
func checkOnce(t *testing.T, who string, bs []batch, want []sendResult, gone string) {
	t.Helper()
	for i := 1; i < len(bs); i++ {
		if bs[i].Seq != bs[i-1].Seq+1 {
			t.Fatalf("%s: batch %d follows batch %d", who, bs[i].Seq, bs[i-1].Seq)
		}
	}
	c := counts(bs)
	for _, r := range want {
		if r.Text == gone {
			continue
		}
		if c[r.Text] != 1 {
			t.Fatalf("%s: received %q %d times, want once", who, r.Text, c[r.Text])
		}
	}
	if gone != "" && c[gone] != 0 {
		t.Fatalf("%s: received the deleted %q", who, gone)
	}
}

// waitTexts waits until w has received every text of want but gone.
func waitTexts(t *testing.T, w *watcher, earlier []batch, want []sendResult, gone string) {
	t.Helper()
	waitFor(t, 15*time.Second, "viewer "+w.name+" to receive every danmaku", func() bool {
		c := counts(append(slices.Clone(earlier), w.snapshot()...))
		for _, r := range want {
			if r.Text != gone && c[r.Text] == 0 {
				return false
			}
		}
		return true
	})
}

// remove deletes a danmaku its author sent through client.
func remove(t *testing.T, client *http.Client, base, room, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, base+"/danmu/item/"+room+"/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("delete %s: %s %s", id, res.Status, b)
	}
}

// TestClusterResume runs three danmakud nodes on a private Redis. A viewer
// leaves node a room's leader runs on and resumes on another node; the
// leader is killed with SIGKILL while danmaku are sent; the killed node
// comes back and serves a resume. Each time the welcome carries the
// room's one epoch, resumes are recovered with exactly the batches
// missed (less a deleted danmaku), and seq goes on without a gap or a
// repeat.
func TestClusterResume(t *testing.T) {
	testenv.SkipShort(t, "cluster: the resume run starts three nodes")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := testenv.Binary(t)
	rs := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	nodes := startNodes(ctx, t, bin, rs.Addr(), strings.Repeat("r", 40), []string{"a", "b", "c"})

	const room = "resume-1"
	lease := "danmakud:{" + room + "}:lease"
	// Viewers on a and b make those two the candidates for the lease.
	wa, _ := resumeWatch(t, "a0", nodes["a"].URL(), room, "", 0)
	wb, _ := resumeWatch(t, "b0", nodes["b"].URL(), room, "", 0)
	epoch := wa.Room.Epoch
	if epoch == "" || wb.Room.Epoch != epoch {
		t.Fatalf("welcome epochs %q on a and %q on b, want one epoch", epoch, wb.Room.Epoch)
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return rdb.Get(ctx, lease).Val() != "" })
	leader := rdb.Get(ctx, lease).Val()
	survivor := map[string]string{"a": "b", "b": "a"}[leader]
	if survivor == "" {
		t.Fatalf("leader %q: want a or b, the nodes that watch the room", leader)
	}
	t.Logf("leader %s, survivor %s", leader, survivor)
	// The survivor's viewer, from the room's first batch on.
	_, stay := resumeWatch(t, "stay", nodes[survivor].URL(), room, "", 0)
	_, onLeader := resumeWatch(t, "on-leader", nodes[leader].URL(), room, "", 0)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	s := &sender{client: client, base: nodes["c"].URL(), room: room, results: map[string][]sendResult{}}

	// A viewer of the leader's node leaves, and comes back on node c,
	// which has no room in memory, after a danmaku sent meanwhile was
	// deleted.
	_, hop := resumeWatch(t, "hop", nodes[leader].URL(), room, "", 0)
	s.run("before", 2*time.Second)
	waitTexts(t, hop, nil, s.acked("before"), "")
	_ = hop.conn.Close()
	<-hop.done
	seen := hop.snapshot()
	last := seen[len(seen)-1].Seq
	// Away for longer than the 10 recent batches a room keeps in memory
	// (250 ms ticks), so that node c reads the rest from Redis.
	s.run("away", 4*time.Second)
	away := s.acked("away")
	if len(away) < 10 {
		t.Fatalf("%d danmaku acknowledged in 4 s", len(away))
	}
	gone := away[len(away)/2]
	remove(t, client, nodes["c"].URL(), room, gone.ID)
	w, back := resumeWatch(t, "hop-back", nodes["c"].URL(), room, epoch, last)
	if !w.Recovered || w.Room.Epoch != epoch || w.Room.Seq <= last {
		t.Fatalf("resume on node c since %d: recovered %v epoch %q seq %d, want recovered in epoch %q after seq %d", last, w.Recovered, w.Room.Epoch, w.Room.Seq, epoch, last)
	}
	if got := seqsOf(w.Batches); len(got) <= 10 || got[0] != last+1 || got[len(got)-1] != w.Room.Seq {
		t.Fatalf("resume on node c since %d: batches %v, want %d…%d, more than the 10 recent ones", last, got, last+1, w.Room.Seq)
	}
	// An SSE viewer resumes alike on another node with Last-Event-ID.
	id, sw := sseWelcome(t, nodes[survivor].URL(), room, fmt.Sprintf("%s:%d", epoch, last))
	if !sw.Recovered || sw.Room.Epoch != epoch || len(sw.Batches) < len(w.Batches) || sw.Batches[0].Seq != last+1 {
		t.Fatalf("SSE resume on node %s since %d: recovered %v epoch %q batches %v, want recovered from %d", survivor, last, sw.Recovered, sw.Room.Epoch, seqsOf(sw.Batches), last+1)
	}
	if id != fmt.Sprintf("%s:%d", epoch, sw.Room.Seq) {
		t.Fatalf("SSE welcome id %q, want %s:%d", id, epoch, sw.Room.Seq)
	}
	for i, b := range w.Batches {
		if b.Seq != sw.Batches[i].Seq || !slices.Equal(textsOf(b, ""), textsOf(sw.Batches[i], "")) {
			t.Fatalf("SSE resume on node %s: batch %d has %v, the WebSocket resume on node c %v", survivor, b.Seq, textsOf(sw.Batches[i], ""), textsOf(b, ""))
		}
	}
	s.run("back", time.Second)
	earlier := append(seen, w.Batches...)
	want := s.acked("before", "away", "back")
	waitTexts(t, back, earlier, want, gone.Text)
	checkOnce(t, "the viewer that resumed on node c", append(earlier, back.snapshot()...), want, gone.Text)

	// The leader dies with SIGKILL while danmaku are sent.
	var beforeKill []batch
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(time.Second)
		beforeKill = onLeader.snapshot()
		nodes[leader].Kill()
	})
	s.run("kill", 4*time.Second)
	wg.Wait()
	waitFor(t, 10*time.Second, "a new leader", func() bool {
		v := rdb.Get(ctx, lease).Val()
		return v != "" && v != leader
	})
	s.run("after", time.Second)
	want = s.acked("before", "away", "back", "kill", "after")
	waitTexts(t, stay, nil, want, gone.Text)
	ref := stay.snapshot()
	if ref[0].Seq != 1 {
		t.Fatalf("the survivor's viewer started at seq %d, want 1", ref[0].Seq)
	}
	// The deleted danmaku may have gone out before its deletion, to the
	// viewers that watched all along.
	c := counts(ref)
	if c[gone.Text] > 1 {
		t.Fatalf("the survivor's viewer received the deleted %q %d times", gone.Text, c[gone.Text])
	}
	for i, b := range ref {
		if b.Seq != uint64(i+1) {
			t.Fatalf("the survivor's viewer: batch %d has seq %d, want %d", i, b.Seq, i+1)
		}
	}
	c = counts(ref)
	for _, r := range want {
		if r.Text != gone.Text && c[r.Text] != 1 {
			t.Fatalf("the survivor's viewer received %q %d times, want once", r.Text, c[r.Text])
		}
	}
	for _, name := range []string{survivor, "c"} {
		w, _ := resumeWatch(t, "new-on-"+name, nodes[name].URL(), room, "", 0)
		if w.Room.Epoch != epoch || w.Room.Seq < ref[len(ref)-1].Seq {
			t.Fatalf("welcome on node %s after the failover: epoch %q seq %d, want epoch %q and seq ≥ %d", name, w.Room.Epoch, w.Room.Seq, epoch, ref[len(ref)-1].Seq)
		}
	}

	// The killed node comes back and serves a resume from where its
	// viewer was cut off.
	if len(beforeKill) == 0 {
		t.Fatal("the leader's viewer received nothing before the kill")
	}
	since := beforeKill[len(beforeKill)-1].Seq
	nodes[leader].Restart(t)
	w, _ = resumeWatch(t, "resume-on-"+leader, nodes[leader].URL(), room, epoch, since)
	if !w.Recovered || w.Room.Epoch != epoch || w.Room.Seq < ref[len(ref)-1].Seq {
		t.Fatalf("resume on the restarted node %s since %d: recovered %v epoch %q seq %d, want recovered in epoch %q up to seq ≥ %d", leader, since, w.Recovered, w.Room.Epoch, w.Room.Seq, epoch, ref[len(ref)-1].Seq)
	}
	for i, b := range w.Batches {
		seq := since + 1 + uint64(i)
		if b.Seq != seq {
			t.Fatalf("resume on the restarted node: batch %d has seq %d, want %d", i, b.Seq, seq)
		}
		if int(seq) <= len(ref) && !slices.Equal(textsOf(b, gone.Text), textsOf(ref[seq-1], gone.Text)) {
			t.Fatalf("resume on the restarted node: batch %d has %v, the survivor's viewer got %v", seq, textsOf(b, ""), textsOf(ref[seq-1], ""))
		}
	}
	if got := uint64(len(w.Batches)); since+got != w.Room.Seq {
		t.Fatalf("resume on the restarted node since %d: %d batches up to seq %d", since, got, w.Room.Seq)
	}
}

// sseWelcome opens base's event stream of room with Last-Event-ID lastID
// and returns its welcome event's id and data.
func sseWelcome(t *testing.T, base, room, lastID string) (string, welcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/danmu/stream/"+room, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Last-Event-ID", lastID)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /danmu/stream/%s: %s", room, res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var id, event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: ") && event == "welcome":
			var w welcome
			if err := json.Unmarshal([]byte(line[6:]), &w); err != nil {
				t.Fatalf("SSE welcome %s: %v", line, err)
			}
			return id, w
		case line == "":
			id, event = "", ""
		}
	}
	t.Fatalf("the event stream ended without a welcome: %v", sc.Err())
	return "", welcome{}
}

// textsOf returns the texts of a batch's items but gone.
func textsOf(b batch, gone string) []string {
	var out []string
	for _, it := range b.Items {
		if it.Content.Text != gone {
			out = append(out, it.Content.Text)
		}
	}
	return out
}
