package e2e

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// TestViewerOfflineThirtySeconds sends about 100 danmaku a second while a
// viewer watches for 2 s, goes away for 30 s and resumes: the welcome is
// recovered, and the viewer has every acknowledged danmaku exactly once,
// in batches whose seqs follow each other. Sends that failed (none are
// expected) may arrive once or not at all. It runs in about 35 s, so
// "go test -short" skips it.
func TestViewerOfflineThirtySeconds(t *testing.T) {
	testenv.SkipShort(t, "a viewer offline for 30 s")
	srv := start(t, t.TempDir())
	const obj = "offline-room"
	const rate = 100 // Danmaku a second.
	const offline = 30 * time.Second
	v := watch(t, srv, obj, "", 0)
	epoch := v.w.Room.Epoch

	// Four senders share one pace, so that a slow answer does not slow
	// the rate down.
	var mu sync.Mutex
	var acked []string
	var failed int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pace := time.NewTicker(time.Second / rate)
	defer pace.Stop()
	var n sync.Mutex
	next := 0
	for range 4 {
		s := newSender(t, srv)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				n.Lock()
				i := next
				next++
				n.Unlock()
				id, err := s.send(obj, fmt.Sprintf("offline %d", i))
				mu.Lock()
				if err != nil {
					failed++
					if failed <= 3 {
						t.Logf("send %d: %v", i, err)
					}
				} else {
					acked = append(acked, id)
				}
				mu.Unlock()
			}
		})
	}
	started := time.Now()

	var got []batch
	for until := time.Now().Add(2 * time.Second); time.Now().Before(until); {
		got = append(got, v.next())
	}
	_ = v.conn.Close()
	time.Sleep(offline) // Offline while danmaku keep coming.
	since := got[len(got)-1].Seq
	v = watch(t, srv, obj, epoch, since)
	if !v.w.Recovered || v.w.Room.Epoch != epoch {
		t.Fatalf("resume since %d after %v offline: recovered %v, epoch %q (want %q), room seq %d", since, offline, v.w.Recovered, v.w.Room.Epoch, epoch, v.w.Room.Seq)
	}
	if len(v.w.Batches) == 0 || v.w.Batches[0].Seq != since+1 {
		t.Fatalf("resume since %d: %d batches from %v, want them from %d", since, len(v.w.Batches), seqs(v.w.Batches[:min(1, len(v.w.Batches))]), since+1)
	}
	got = append(got, v.w.Batches...)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	elapsed := time.Since(started)

	mu.Lock()
	want := slices.Clone(acked)
	mu.Unlock()
	if perSec := float64(len(want)) / elapsed.Seconds(); perSec < 0.7*rate {
		t.Fatalf("%d danmaku acknowledged in %v (%.0f a second), want about %d a second", len(want), elapsed.Round(time.Millisecond), perSec, rate)
	}
	count := make(map[string]int)
	seen := func() bool {
		clear(count)
		for _, id := range ids(got) {
			count[id]++
		}
		for _, id := range want {
			if count[id] == 0 {
				return false
			}
		}
		return true
	}
	for !seen() {
		got = append(got, v.next())
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("batch %d follows batch %d", got[i].Seq, got[i-1].Seq)
		}
	}
	for _, id := range want {
		if count[id] != 1 {
			t.Fatalf("danmaku %s received %d times, want once", id, count[id])
		}
	}
	for id, c := range count {
		if c > 1 {
			t.Fatalf("danmaku %s received %d times", id, c)
		}
	}
	t.Logf("%d danmaku acknowledged (%d failed) in %v; %d batches, %d in the resumed welcome", len(want), failed, elapsed.Round(time.Millisecond), len(got), len(v.w.Batches))
}
