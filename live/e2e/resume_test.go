package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// start runs danmakud on the embedded store in dir with short ticks and a
// short idle eviction.
func start(t *testing.T, dir string) *testenv.Server {
	t.Helper()
	testenv.SkipShort(t, "the live end-to-end tests")
	return testenv.Danmakud(t, "-data", dir, "-rate-limits=false", "-demo=false", "-duplicate-window", "0",
		"-tick", "200ms", "-max-per-tick", "1000", "-live-idle-ticks", "5")
}

// sendSeen sends n danmaku one at a time and returns the batch that
// carried each, as v received it.
func sendSeen(t *testing.T, s *sender, v *viewer, objectID string, n int) []batch {
	t.Helper()
	var out []batch
	for i := range n {
		id := s.mustSend(t, objectID, fmt.Sprintf("%s #%d at %d", objectID, i, time.Now().UnixNano()))
		b := v.next()
		if got := ids([]batch{b}); !slices.Equal(got, []string{id}) {
			t.Fatalf("batch %d carries %v, want just %s", b.Seq, got, id)
		}
		out = append(out, b)
	}
	return out
}

// seqs returns the seq of each batch.
func seqs(bs []batch) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

// TestEvictionThenRejoin checks that a room evicted from memory comes back
// with its seq, its epoch and its recent batches, and serves resumes.
func TestEvictionThenRejoin(t *testing.T) {
	srv := start(t, t.TempDir())
	s := newSender(t, srv)
	const obj = "evicted-room"
	v := watch(t, srv, obj, "", 0)
	epoch := v.w.Room.Epoch
	before := sendSeen(t, s, v, obj, 3)
	if !slices.Equal(seqs(before), []uint64{1, 2, 3}) {
		t.Fatalf("first batches have seqs %v", seqs(before))
	}
	_ = v.conn.Close()
	deadline := time.Now().Add(15 * time.Second)
	for rooms(t, srv) != "0" {
		if time.Now().After(deadline) {
			t.Fatal("the room was not evicted after its viewer left")
		}
		time.Sleep(100 * time.Millisecond)
	}

	v = watch(t, srv, obj, "", 0)
	if v.w.Room.Seq != 3 || v.w.Room.Epoch != epoch || v.w.Recovered {
		t.Fatalf("welcome after eviction: seq %d epoch %q recovered %v, want seq 3 epoch %q, not recovered", v.w.Room.Seq, v.w.Room.Epoch, v.w.Recovered, epoch)
	}
	if !slices.Equal(ids(v.w.Batches), ids(before)) || !slices.Equal(seqs(v.w.Batches), []uint64{1, 2, 3}) {
		t.Fatalf("welcome after eviction has batches %v %v, want %v", seqs(v.w.Batches), ids(v.w.Batches), ids(before))
	}
	after := sendSeen(t, s, v, obj, 1)
	if after[0].Seq != 4 {
		t.Fatalf("the first batch after eviction has seq %d, want 4", after[0].Seq)
	}

	r := watch(t, srv, obj, epoch, 1)
	if !r.w.Recovered || !slices.Equal(seqs(r.w.Batches), []uint64{2, 3, 4}) {
		t.Fatalf("resume since 1: recovered %v batches %v, want recovered batches 2…4", r.w.Recovered, seqs(r.w.Batches))
	}
	r = watch(t, srv, obj, "another-epoch", 1)
	if r.w.Recovered || !slices.Equal(seqs(r.w.Batches), []uint64{1, 2, 3, 4}) {
		t.Fatalf("resume from another epoch: recovered %v batches %v, want not recovered and the recent batches", r.w.Recovered, seqs(r.w.Batches))
	}
}

// TestRestartThenResume kills the server with SIGKILL and checks that a
// viewer that left before resumes on the restarted server with exactly
// the batches it missed, less a danmaku deleted meanwhile, and that seq
// goes on.
func TestRestartThenResume(t *testing.T) {
	srv := start(t, t.TempDir())
	s := newSender(t, srv)
	const obj = "restarted-room"
	a := watch(t, srv, obj, "", 0)
	epoch := a.w.Room.Epoch
	seen := sendSeen(t, s, a, obj, 2)
	_ = a.conn.Close()

	b := watch(t, srv, obj, "", 0)
	missed := sendSeen(t, s, b, obj, 5)
	gone := missed[1].Items[0].ID
	s.remove(t, obj, gone)
	for {
		var m struct {
			Type string   `json:"type"`
			IDs  []string `json:"ids"`
		}
		if err := json.Unmarshal(b.read(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "delete" && slices.Equal(m.IDs, []string{gone}) {
			break
		}
	}
	// The batches and the deletion reach the store within milliseconds of
	// going out; a crash in between may lose the last tick's history.
	time.Sleep(500 * time.Millisecond)
	srv.Kill()
	srv.Restart(t)

	r := watch(t, srv, obj, epoch, seen[1].Seq)
	if !r.w.Recovered || r.w.Room.Epoch != epoch || r.w.Room.Seq != missed[4].Seq {
		t.Fatalf("resume after restart: recovered %v epoch %q seq %d, want recovered, epoch %q, seq %d", r.w.Recovered, r.w.Room.Epoch, r.w.Room.Seq, epoch, missed[4].Seq)
	}
	want := slices.DeleteFunc(ids(missed), func(id string) bool { return id == gone })
	if !slices.Equal(seqs(r.w.Batches), seqs(missed)) || !slices.Equal(ids(r.w.Batches), want) {
		t.Fatalf("resume after restart: batches %v with %v, want %v with %v", seqs(r.w.Batches), ids(r.w.Batches), seqs(missed), want)
	}
	next := sendSeen(t, s, r, obj, 1)
	if next[0].Seq != missed[4].Seq+1 {
		t.Fatalf("the first batch after the restart has seq %d, want %d", next[0].Seq, missed[4].Seq+1)
	}
}

// TestOfflineViewerGetsEveryDanmakuOnce sends 100 danmaku a second for 10
// seconds while a viewer watches, goes away for 4 seconds and resumes: it
// must have received every acknowledged danmaku exactly once, in batches
// whose seqs follow each other.
func TestOfflineViewerGetsEveryDanmakuOnce(t *testing.T) {
	srv := start(t, t.TempDir())
	const obj = "busy-room"
	const total = 1000
	v := watch(t, srv, obj, "", 0)
	epoch := v.w.Room.Epoch

	var mu sync.Mutex
	var acked []string
	var sendErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := newSender(t, srv)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := range total {
			<-tk.C
			id, err := s.send(obj, fmt.Sprintf("busy %d", i))
			mu.Lock()
			if err != nil {
				sendErr = err
				mu.Unlock()
				return
			}
			acked = append(acked, id)
			mu.Unlock()
		}
	}()

	var got []batch
	for until := time.Now().Add(3 * time.Second); time.Now().Before(until); {
		got = append(got, v.next())
	}
	_ = v.conn.Close()
	time.Sleep(4 * time.Second) // Offline while danmaku keep coming.
	v = watch(t, srv, obj, epoch, got[len(got)-1].Seq)
	if !v.w.Recovered {
		t.Fatalf("resume since %d after 4 s offline: not recovered (room seq %d)", got[len(got)-1].Seq, v.w.Room.Seq)
	}
	got = append(got, v.w.Batches...)
	<-done
	mu.Lock()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	want := len(acked)
	mu.Unlock()
	if want != total {
		t.Fatalf("%d danmaku acknowledged, want %d", want, total)
	}
	for len(ids(got)) < want {
		got = append(got, v.next())
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("batch %d follows batch %d", got[i].Seq, got[i-1].Seq)
		}
	}
	count := make(map[string]int)
	for _, id := range ids(got) {
		count[id]++
	}
	for _, id := range acked {
		if count[id] != 1 {
			t.Errorf("danmaku %s received %d times", id, count[id])
		}
	}
	if len(count) != total || len(ids(got)) != total {
		t.Fatalf("received %d items, %d distinct, want %d", len(ids(got)), len(count), total)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

// openSSE opens the room's event stream, resuming after lastID if it is
// not empty, and returns its events.
func openSSE(t *testing.T, srv *testenv.Server, objectID, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/danmu/stream/"+objectID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /danmu/stream: %s", res.Status)
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return ch, func() { _ = res.Body.Close() }
}

// nextSSE returns the next event of one kind.
func nextSSE(t *testing.T, ch <-chan sseEvent, event string) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended before a %s event", event)
			}
			if ev.event == event {
				return ev
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event", event)
		}
	}
}

// TestSSELastEventIDResumes checks that an SSE client reconnecting with
// the Last-Event-ID of the last batch it received gets exactly the
// batches it missed.
func TestSSELastEventIDResumes(t *testing.T) {
	srv := start(t, t.TempDir())
	s := newSender(t, srv)
	const obj = "sse-room"
	ch, stop := openSSE(t, srv, obj, "")
	w := nextSSE(t, ch, "welcome")
	var wj welcome
	if err := json.Unmarshal([]byte(w.data), &wj); err != nil {
		t.Fatal(err)
	}
	epoch := wj.Room.Epoch
	if w.id != epoch+":0" {
		t.Fatalf("welcome id %q, want %q", w.id, epoch+":0")
	}
	for i := range 2 {
		s.mustSend(t, obj, fmt.Sprintf("sse %d", i))
		if ev := nextSSE(t, ch, "batch"); ev.id != fmt.Sprintf("%s:%d", epoch, i+1) {
			t.Fatalf("batch id %q, want %s:%d", ev.id, epoch, i+1)
		}
	}
	stop()
	v := watch(t, srv, obj, "", 0)
	missed := sendSeen(t, s, v, obj, 2)

	ch, stop = openSSE(t, srv, obj, epoch+":2")
	defer stop()
	w = nextSSE(t, ch, "welcome")
	if err := json.Unmarshal([]byte(w.data), &wj); err != nil {
		t.Fatal(err)
	}
	if !wj.Recovered || !slices.Equal(seqs(wj.Batches), []uint64{3, 4}) || !slices.Equal(ids(wj.Batches), ids(missed)) {
		t.Fatalf("SSE resume: recovered %v batches %v %v, want batches 3, 4 with %v", wj.Recovered, seqs(wj.Batches), ids(wj.Batches), ids(missed))
	}
	if w.id != epoch+":4" {
		t.Fatalf("resumed welcome id %q, want %s:4", w.id, epoch)
	}
}
