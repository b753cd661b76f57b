package hostile

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// emptyRooms is how many empty rooms TestEmptyRoomsCostNoGoroutines makes.
const emptyRooms = 20_000

// TestEmptyRoomsCostNoGoroutines is issue 13's "an empty room does not
// tick": 16 addresses (127.0.0.2 to 127.0.0.17) open an SSE stream to
// 20,000 new rooms in all and leave at once. Once the rooms have parked
// (their first tick finds nobody watching), the server holds every room
// but runs no goroutine for them: its goroutine count is back near idle.
// Before parking, each of those rooms kept a goroutine that woke every
// second for 60 s.
func TestEmptyRoomsCostNoGoroutines(t *testing.T) {
	s := startServer(t, "-max-rooms-per-ip", fmt.Sprint(emptyRooms), "-live-idle-ticks", "600")
	idleRSS := s.idleRSS()
	idleG := s.metric("go_goroutines")
	if idleG == 0 {
		t.Fatal("no go_goroutines in /metrics")
	}

	const addrs = 16
	var opened, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range addrs {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}, Timeout: 5 * time.Second}
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
		wg.Go(func() {
			defer c.CloseIdleConnections()
			for n := range emptyRooms / addrs {
				resp, err := c.Get(fmt.Sprintf("%s/danmu/stream/empty-%d-%d", s.url, i, n))
				if err != nil {
					failed.Add(1)
					continue
				}
				if resp.StatusCode == http.StatusOK {
					opened.Add(1)
				} else {
					failed.Add(1)
				}
				resp.Body.Close() // Leave the room at once.
			}
		})
	}
	wg.Wait()
	made := time.Since(start)
	if opened.Load() != emptyRooms {
		t.Fatalf("%d rooms opened, %d failed; want %d opened", opened.Load(), failed.Load(), emptyRooms)
	}
	// Wait until every viewer has left and the rooms' next tick parked
	// them: the goroutine count settles.
	deadline := time.Now().Add(30 * time.Second)
	for s.metric("danmakud_viewers") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("viewers still connected: %v", s.metric("danmakud_viewers"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // A few ticks, and the server's own settling.
	rooms := s.metric("danmakud_rooms")
	g := s.metric("go_goroutines")
	rss := s.rssKB()
	// The CPU the server spends holding the empty rooms, over 5 s.
	cpu0 := s.cpuTicks()
	time.Sleep(5 * time.Second)
	cpu := float64(s.cpuTicks()-cpu0) / clockTicks / 5
	s.alive()
	t.Logf("%d empty rooms made in %v from %d addresses: %.0f rooms held; goroutines idle %.0f, with the rooms %.0f; RSS idle %d KiB, with the rooms %d KiB; CPU with the rooms %.1f%% of a core",
		emptyRooms, made.Round(time.Millisecond), addrs, rooms, idleG, g, idleRSS, rss, 100*cpu)
	if rooms != emptyRooms {
		t.Errorf("the server holds %.0f rooms, want %d (none evicted within -live-idle-ticks 600)", rooms, emptyRooms)
	}
	// A goroutine per room would be 20,000; allow for the server's own.
	if g > idleG+1000 {
		t.Errorf("%.0f goroutines with %d parked rooms (idle: %.0f): the empty rooms still run", g, emptyRooms, idleG)
	}
}

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ),
// 100 on Linux.
const clockTicks = 100

// cpuTicks returns the user and system CPU time the server has used, in
// clockTicks.
func (s *server) cpuTicks() int {
	s.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.PID()))
	if err != nil {
		s.t.Fatalf("read process stat: %v", err)
	}
	// The fields after the command name, which is in parentheses: utime
	// and stime are the 12th and 13th of them.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		s.t.Fatalf("process stat: %q", b)
	}
	u, err1 := strconv.Atoi(f[11])
	k, err2 := strconv.Atoi(f[12])
	if err1 != nil || err2 != nil {
		s.t.Fatalf("process stat: %q", b)
	}
	return u + k
}
