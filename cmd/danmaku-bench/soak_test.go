package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/live"
)

func TestParseProm(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]float64
		wantErr bool
	}{
		{
			name: "plain, labels, comments, timestamps, specials",
			in: `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42

danmakud_dropped_total{reason="tick_cap"} 3
danmakud_dropped_total{reason="slow viewer } odd"} 1
danmakud_tick_lag_max_seconds 0.0125 1700000000000
x_bucket{le="+Inf"} +Inf
y NaN
`,
			want: map[string]float64{
				"go_goroutines": 42,
				`danmakud_dropped_total{reason="tick_cap"}`:          3,
				`danmakud_dropped_total{reason="slow viewer } odd"}`: 1,
				"danmakud_tick_lag_max_seconds":                      0.0125,
				`x_bucket{le="+Inf"}`:                                math.Inf(1),
				"y":                                                  math.NaN(),
			},
		},
		{name: "empty", in: "", want: map[string]float64{}},
		{name: "no value", in: "go_goroutines\n", wantErr: true},
		{name: "bad value", in: "go_goroutines many\n", wantErr: true},
		{name: "unclosed labels", in: `a{b="c" 1` + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProm(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d series %v, want %d", len(got), got, len(tt.want))
			}
			for k, w := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Fatalf("missing %q in %v", k, got)
				}
				if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Errorf("%s = %v, want %v", k, g, w)
				}
			}
		})
	}
}

func TestSlope(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		want   float64
		ok     bool
	}{
		{"flat", []float64{0, 1, 2, 3}, []float64{5, 5, 5, 5}, 0, true},
		{"line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, true},
		{"falling", []float64{0, 2, 4}, []float64{10, 9, 8}, -0.5, true},
		{"noisy", []float64{0, 1, 2, 3}, []float64{0, 2, 1, 3}, 0.8, true},
		{"one point", []float64{1}, []float64{1}, 0, false},
		{"same x", []float64{2, 2}, []float64{1, 5}, 0, false},
		{"mismatched", []float64{1, 2}, []float64{1}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := slope(tt.xs, tt.ys)
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("slope = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSlopeErr(t *testing.T) {
	if e := slopeErr([]float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}); e != 0 {
		t.Errorf("exact line: error %v, want 0", e)
	}
	// Residuals of y = 0.8x + 0.3 over (0,0) (1,2) (2,1) (3,3) are
	// -0.3, 0.9, -0.9, 0.3: sqrt(1.8 / 2 / 5).
	if e, want := slopeErr([]float64{0, 1, 2, 3}, []float64{0, 2, 1, 3}), math.Sqrt(0.18); math.Abs(e-want) > 1e-9 {
		t.Errorf("noisy: error %v, want %v", e, want)
	}
	if e := slopeErr([]float64{0, 1}, []float64{0, 1}); !math.IsNaN(e) {
		t.Errorf("two points: error %v, want NaN", e)
	}
}

func TestSoakSchedule(t *testing.T) {
	s := time.Second
	got := soakSchedule(25*s, 30*s, 10*s)
	want := []time.Duration{0, 10 * s, 20 * s, 25 * s, 35 * s, 45 * s, 55 * s}
	if len(got) != len(want) {
		t.Fatalf("schedule = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("schedule = %v, want %v", got, want)
		}
	}
	if got := soakSchedule(0, 20*s, 10*s); len(got) != 3 || got[0] != 0 || got[2] != 20*s {
		t.Errorf("no warm-up: schedule = %v", got)
	}
}

func TestTickVerdict(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                   string
		lagStart, lagEnd, late float64
		want                   string
	}{
		{"no late tick", 0.3, 0.3, 0, pass},
		{"late but under an interval", 0.2, 0.7, 3, pass},
		{"late by an interval in the window", 0.2, 1.5, 1, fail},
		{"late exactly one interval", 0.2, 1.0, 1, pass},
		{"max set in warm-up", 2.0, 2.0, 1, unknown},
		{"max set in warm-up, no late tick since", 2.0, 2.0, 0, pass},
		{"not scraped", nan, nan, nan, unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tickVerdict(tt.lagStart, tt.lagEnd, tt.late, time.Second)
			if v.status != tt.want {
				t.Errorf("status = %s (%s), want %s", v.status, v.detail, tt.want)
			}
		})
	}
}

func TestLossVerdict(t *testing.T) {
	ok := soakLoss{batches: 10, expected: 100, accepted: 1000}
	tests := []struct {
		name string
		edit func(*soakLoss)
		want string
	}{
		{"nothing lost", func(*soakLoss) {}, pass},
		{"over the cap only", func(l *soakLoss) { l.neverBroadcast, l.capDrops = 2, 2 }, pass},
		{"missing batch", func(l *soakLoss) { l.missing = 1 }, fail},
		{"dropped notice", func(l *soakLoss) { l.notices = 1 }, fail},
		{"closed viewer", func(l *soakLoss) { l.closed = 1 }, fail},
		{"failed send", func(l *soakLoss) { l.failed = 1 }, fail},
		{"skipped send (judged as load)", func(l *soakLoss) { l.skipped = 1 }, pass},
		{"not broadcast beyond the cap", func(l *soakLoss) { l.neverBroadcast, l.capDrops = 3, 2 }, fail},
		{"nothing delivered", func(l *soakLoss) { l.batches, l.expected = 0, 0 }, fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ok
			tt.edit(&l)
			if v := lossVerdict(l); v.status != tt.want {
				t.Errorf("status = %s (%s), want %s", v.status, v.detail, tt.want)
			}
		})
	}
}

// samplesWithRSS returns a warm-up sample and window samples a minute
// apart with the given RSS values and steady other figures, from a
// server that reports neither its Go runtime's nor its store's memory.
func samplesWithRSS(rss ...int64) []soakSample {
	out := []soakSample{{at: 0, warm: true, rss: 1 << 30, goroutines: 500, lagMax: 3, late: 5}}
	for i, r := range rss {
		out = append(out, soakSample{at: time.Duration(i+1) * time.Minute, rss: r, goroutines: 30 + float64(i), heap: float64(i << 20),
			fds: 100, lagMax: 0.1, late: 0, delivered: int64(i) * 60_000, cpu: float64(i) * 30,
			goMem: math.NaN(), heapKept: math.NaN(), live: math.NaN(), goal: math.NaN(), storeMem: math.NaN(), storeLimit: math.NaN()})
	}
	return out
}

// summaryOpts suit samplesWithRSS: 10 viewers at 100 danmaku/s.
var summaryOpts = options{tick: time.Second, flat: 0.01, rate: 100, maxPerTick: 100}

func TestMemoryVerdict(t *testing.T) {
	const kib = 1024
	tests := []struct {
		name            string
		slope, se       float64
		want            string
		wantSignificant bool
	}{
		{"flat", 0, 5 * kib, pass, true},
		{"falling", -50 * kib, 5 * kib, pass, true},
		{"growing", 500 * kib, 50 * kib, fail, true},
		{"just under, noisy", 90 * kib, 40 * kib, pass, false},
		{"just over, noisy", 110 * kib, 40 * kib, fail, false},
		{"no error known", 50 * kib, math.NaN(), pass, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := memoryVerdict(tt.slope, tt.se, 100*kib, 0.01)
			if v.status != tt.want {
				t.Errorf("status = %s (%s), want %s", v.status, v.detail, tt.want)
			}
			if significant := !strings.Contains(v.detail, "not significant"); significant != tt.wantSignificant {
				t.Errorf("significant = %v (%s), want %v", significant, v.detail, tt.wantSignificant)
			}
		})
	}
}

func TestGoroutineVerdict(t *testing.T) {
	tests := []struct {
		name string
		gs   []float64
		want string
	}{
		{"steady", []float64{40, 41, 39, 40, 40, 42}, pass},
		{"spikes of handlers in flight", []float64{40, 60, 39, 90, 40, 41, 62, 40, 39}, pass},
		{"one per viewer", []float64{40, 15040, 15041}, fail},
		{"a second of sends held by a stalled store", []float64{44, 45, 152, 44, 43}, pass},
		{"sends piling up", []float64{44, 45, 240, 44, 43}, fail},
		{"drifting up", []float64{40, 41, 52, 60, 71, 80}, fail},
		{"falling", []float64{80, 60, 40, 40}, pass},
		{"not scraped", nil, unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := goroutineVerdict(tt.gs, 100); v.status != tt.want {
				t.Errorf("status = %s (%s), want %s", v.status, v.detail, tt.want)
			}
		})
	}
}

func TestLoadVerdict(t *testing.T) {
	o := options{rate: 100, maxPerTick: 100, tick: time.Second}
	capped := options{rate: 100, maxPerTick: 50, tick: time.Second}
	tests := []struct {
		name      string
		perSecond float64
		o         options
		skipped   int64
		want      string
	}{
		{"held", 1_499_000, o, 0, pass},
		{"short", 1_300_000, o, 0, fail},
		{"skipped sends", 1_499_000, o, 3, fail},
		{"rate above the cap", 749_000, capped, 0, pass},
		{"nothing", 0, o, 0, fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := loadVerdict(tt.perSecond, 15_000, tt.o, tt.skipped); v.status != tt.want {
				t.Errorf("status = %s (%s), want %s", v.status, v.detail, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	in := []float64{3, 1, 2}
	if m := median(in); m != 2 || in[0] != 3 {
		t.Errorf("median = %v (input now %v), want 2 and the input unchanged", m, in)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even median = %v, want 2.5", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestSummarize(t *testing.T) {
	const mb = 1 << 20
	okLoss := soakLoss{batches: 600, expected: 6000, accepted: 600}
	tests := []struct {
		name string
		rss  []int64
		want map[string]string
	}{
		{"flat with noise", []int64{100 * mb, 101 * mb, 99 * mb, 100 * mb, 100 * mb},
			map[string]string{"memory flat": pass, "goroutines bounded": pass, "no tick late by an interval": pass, "zero loss": pass, "load held": pass}},
		{"growing", []int64{100 * mb, 101 * mb, 102 * mb, 103 * mb},
			map[string]string{"memory flat": fail}},
		{"one window sample", []int64{100 * mb},
			map[string]string{"memory flat": unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := &soakRun{viewers: 10, rssBefore: 50 * mb, samples: samplesWithRSS(tt.rss...), loss: okLoss}
			s := summarize(run, summaryOpts)
			got := map[string]string{}
			for _, v := range s.verdicts {
				got[v.target] = v.status
			}
			for target, want := range tt.want {
				if got[target] != want {
					t.Errorf("%s = %s, want %s (%v)", target, got[target], want, s.verdicts)
				}
			}
			if s.rssStart != tt.rss[0] || s.rssEnd != tt.rss[len(tt.rss)-1] {
				t.Errorf("RSS start/end = %d/%d, want the window's first and last", s.rssStart, s.rssEnd)
			}
		})
	}

	run := &soakRun{viewers: 10, rssBefore: 50 * mb, samples: samplesWithRSS(100*mb, 101*mb, 102*mb), loss: okLoss}
	s := summarize(run, summaryOpts)
	if math.Abs(s.rssSlope-mb) > 1 {
		t.Errorf("slope = %v bytes/min, want %v", s.rssSlope, mb)
	}
	if s.gMax != 32 || s.gStart != 30 || s.gSlope != 1 {
		t.Errorf("goroutines start/max/slope = %v/%v/%v, want 30/32/1 (the warm-up's 500 excluded)", s.gStart, s.gMax, s.gSlope)
	}
	if s.heapSlope != mb {
		t.Errorf("heap slope = %v, want %v", s.heapSlope, float64(mb))
	}
	if s.perSecond != 1000 {
		t.Errorf("delivered/s = %v, want 1000", s.perSecond)
	}
	if s.window != 2*time.Minute || s.samples != 3 {
		t.Errorf("window %v with %d samples, want 2m0s with 3", s.window, s.samples)
	}
	if s.failed() != 1 {
		t.Errorf("failed verdicts = %d, want 1 (memory): %v", s.failed(), s.verdicts)
	}
	var b strings.Builder
	printSoak(&b, run, s)
	for _, want := range []string{"== soak samples ==", "warm-up", "slope +1.00 MiB/min", "FAIL     memory flat", "PASS     zero loss"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestSoakHub soaks a live hub served in this process for a moment: the
// samples come on schedule with the server's figures filled in, and the
// accounting adds up with nothing lost.
func TestSoakHub(t *testing.T) {
	testenv.SkipShort(t, "danmaku-bench: a soak run")
	hub, err := live.New(live.Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const tick = 200 * time.Millisecond
	if err := hub.SetRoomConfig("soak", live.RoomConfig{TickInterval: tick, MaxPerTick: 100}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hubHandler(hub))
	defer func() {
		srv.Close()
		_ = hub.Close()
	}()
	o := options{viewers: 20, rate: 20, tick: tick, maxPerTick: 100, room: "soak", sources: 1, dialConc: 8,
		warmup: 400 * time.Millisecond, soak: time.Second, sample: 250 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := runSoak(ctx, o, srv.Listener.Addr().String(), os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(soakSchedule(o.warmup, o.soak, o.sample)); len(run.samples) != want {
		t.Fatalf("%d samples, want %d", len(run.samples), want)
	}
	for i, s := range run.samples {
		if s.rss <= 0 || s.fds < o.viewers || math.IsNaN(s.goroutines) || math.IsNaN(s.heap) || math.IsNaN(s.lagMax) || math.IsNaN(s.late) {
			t.Errorf("sample %d incomplete: %+v", i, s)
		}
		if s.viewers != int64(o.viewers) {
			t.Errorf("sample %d: %d viewers reading, want %d", i, s.viewers, o.viewers)
		}
		if i > 0 && s.delivered < run.samples[i-1].delivered {
			t.Errorf("sample %d: delivered fell from %d to %d", i, run.samples[i-1].delivered, s.delivered)
		}
	}
	if run.scrapeErr != 0 {
		t.Errorf("%d failed scrapes", run.scrapeErr)
	}
	l := run.loss
	if l.accepted == 0 || l.batches == 0 {
		t.Fatalf("nothing flowed: %+v", l)
	}
	if l.expected != l.batches*int64(o.viewers) {
		t.Errorf("expected %d viewer-batches, want %d × %d", l.expected, l.batches, o.viewers)
	}
	if v := lossVerdict(l); v.status != pass {
		t.Errorf("loss: %s", v.detail)
	}
	if last := run.samples[len(run.samples)-1]; last.delivered == 0 {
		t.Errorf("no danmaku counted as delivered")
	}
	s := summarize(run, o)
	if s.samples != len(soakSchedule(0, o.soak, o.sample)) {
		t.Errorf("%d window samples, want %d", s.samples, len(soakSchedule(0, o.soak, o.sample)))
	}
}

// TestConnectRefusedThenClose: when the server refuses some viewers,
// connect reports it only once every dial in flight has ended, so that
// closeAll closes every viewer that did connect and returns.
func TestConnectRefusedThenClose(t *testing.T) {
	hub, err := live.New(live.Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	upgrades := 0
	ws := hubHandler(hub)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upgrades++
		refuse := upgrades > 5
		mu.Unlock()
		if refuse {
			http.Error(w, "too many", http.StatusTooManyRequests)
			return
		}
		ws.ServeHTTP(w, r)
	}))
	defer func() {
		srv.Close()
		_ = hub.Close()
	}()
	f := newFleet(time.Now())
	err = f.connect(context.Background(), "ws://"+srv.Listener.Addr().String()+"/danmu/ws/refuse", 40, 8,
		[]net.IP{net.IPv4(127, 0, 0, 1)}, true, false)
	if err == nil {
		t.Fatal("connect succeeded past the refusals")
	}
	if len(f.viewers) != 5 {
		t.Errorf("%d viewers connected, want 5", len(f.viewers))
	}
	done := make(chan struct{})
	go func() {
		f.closeAll()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("closeAll did not return: a viewer connected after connect returned")
	}
	if n := f.open.Load(); n != 0 {
		t.Errorf("%d viewers still reading after closeAll", n)
	}
}

// TestMemtablesFillingIsNotALeak: RSS grows by 1 MiB a minute because a
// memtable in C memory fills, which the store reports; the verdict judges
// the rest of the memory, which is flat, and the store against its bound.
func TestMemtablesFillingIsNotALeak(t *testing.T) {
	const mb = 1 << 20
	okLoss := soakLoss{batches: 600, expected: 6000, accepted: 600}
	samples := samplesWithRSS(100*mb, 101*mb, 102*mb, 103*mb)
	for i := range samples {
		samples[i].goMem = 60 * mb
		samples[i].storeMem = 64 * mb // A 16 MiB memtable is counted whole as it fills.
		samples[i].storeLimit = 176 * mb
	}
	run := &soakRun{viewers: 10, rssBefore: 50 * mb, samples: samples, loss: okLoss}
	s := summarize(run, summaryOpts)
	got := map[string]string{}
	for _, v := range s.verdicts {
		got[v.target] = v.status
	}
	if got["memory flat"] != pass || got["store memory bounded"] != pass {
		t.Fatalf("verdicts = %v, want memory flat and store memory bounded to pass", s.verdicts)
	}

	// The same C memory over the store's bound fails.
	for i := range samples {
		samples[i].storeLimit = 40 * mb
	}
	s = summarize(&soakRun{viewers: 10, rssBefore: 50 * mb, samples: samples, loss: okLoss}, summaryOpts)
	for _, v := range s.verdicts {
		if v.target == "C memory within the store's bound" && v.status != fail {
			t.Fatalf("%s = %s (%s), want a failure when RSS beyond Go (43 MiB) passes the store's bound (40 MiB)", v.target, v.status, v.detail)
		}
	}
}

func TestJudgedMemory(t *testing.T) {
	const mb = 1 << 20
	c := soakSample{rss: 200 * mb, goMem: 80 * mb, storeMem: 100 * mb}
	if got := judgedMemory(c); got != 80*mb {
		t.Errorf("cgo build: judged = %v MiB, want 80 (Go's; C memory is judged against the store's bound)", got/mb)
	}
	g := soakSample{rss: 200 * mb, goMem: 190 * mb, storeMem: 100 * mb, storeOnGo: true}
	if got := judgedMemory(g); got != 100*mb {
		t.Errorf("build without cgo: judged = %v MiB, want 100 (90 of Go and 10 outside it)", got/mb)
	}
	if v := storeVerdict(200*mb, 176*mb); v.status != fail {
		t.Errorf("store over its bound: %s", v.status)
	}
	if got := judgedMemory(soakSample{rss: mb, goMem: math.NaN(), storeMem: math.NaN()}); !math.IsNaN(got) {
		t.Errorf("without the figures: judged = %v, want NaN", got)
	}
}

// TestGarbageIsJudgedAgainstTheGoal: the heap the runtime keeps beyond
// the live heap swings with the collector's cycle and is bounded by its
// goal; the live heap is what a leak grows.
func TestGarbageIsJudgedAgainstTheGoal(t *testing.T) {
	const mb = 1 << 20
	x := soakSample{rss: 200 * mb, goMem: 120 * mb, heapKept: 100 * mb, live: 40 * mb, goal: 80 * mb, storeMem: 50 * mb}
	if got := judgedMemory(x); got != 60*mb {
		t.Errorf("judged = %v MiB, want 60 (40 live, 20 of the runtime outside its heap)", got/mb)
	}
	if v := heapVerdict(88*mb, 80*mb, 0); v.status != pass {
		t.Errorf("heap kept 88 MiB for a goal of 80: %s (%s), want a pass", v.status, v.detail)
	}
	if v := heapVerdict(89*mb, 80*mb, 0); v.status != fail {
		t.Errorf("heap kept 89 MiB for a goal of 80: %s (%s), want a failure", v.status, v.detail)
	}
	// The scavenger aims over the heap in use at a collection's end,
	// which holds the unused slots of its spans besides the objects.
	if v := heapVerdict(91*mb, 80*mb, 3*mb); v.status != pass {
		t.Errorf("heap kept 91 MiB for a goal of 80 and 3 unused: %s (%s), want a pass", v.status, v.detail)
	}
	if v := heapVerdict(91.5*mb, 80*mb, 1*mb); v.status != fail {
		t.Errorf("heap kept 91.5 MiB for a goal of 80 and 1 unused: %s (%s), want a failure", v.status, v.detail)
	}
	if v := heapVerdict(math.NaN(), 80*mb, 0); v.status != unknown {
		t.Errorf("heap kept unknown: %s, want unknown", v.status)
	}

	// A live heap that grows by 1 MiB a minute fails "memory flat" while
	// the garbage that comes and goes with each cycle does not.
	okLoss := soakLoss{batches: 600, expected: 6000, accepted: 600}
	samples := samplesWithRSS(200*mb, 200*mb, 200*mb, 200*mb, 200*mb, 200*mb)
	for i := range samples {
		samples[i].storeMem, samples[i].storeLimit = 50*mb, 176*mb
		samples[i].live, samples[i].goal = 40*mb, 80*mb
		samples[i].heapKept = float64(60+20*(i%2)) * mb // Garbage swinging by 20 MiB.
		samples[i].goMem = samples[i].heapKept + 20*mb
		samples[i].rss = int64(samples[i].goMem) + 80*mb
	}
	verdicts := func() map[string]string {
		got := map[string]string{}
		for _, v := range summarize(&soakRun{viewers: 10, rssBefore: 50 * mb, samples: samples, loss: okLoss}, summaryOpts).verdicts {
			got[v.target] = v.status
		}
		return got
	}
	if got := verdicts(); got["memory flat"] != pass || got["Go heap within its goal"] != pass {
		t.Errorf("garbage swinging by 20 MiB: %v, want memory flat and the heap within its goal", got)
	}
	for i := range samples {
		samples[i].live = float64(40+i) * mb
	}
	if got := verdicts(); got["memory flat"] != fail {
		t.Errorf("live heap growing 1 MiB a minute: %v, want memory flat to fail", got)
	}
}

// TestLiveFloor: a collection that marks while a burst is handled counts
// the burst as live; the least live heap of the minute leaves it out,
// and still rises with a leak.
func TestLiveFloor(t *testing.T) {
	const mb = 1 << 20
	var samples []soakSample
	for i, live := range []float64{30, 30, 45, 30, 31, 46, 31, 32, 32} {
		samples = append(samples, soakSample{at: time.Duration(i) * 20 * time.Second, live: live * mb})
	}
	var got []float64
	for _, x := range liveFloor(samples) {
		got = append(got, x.live/mb)
	}
	want := []float64{30, 30, 30, 30, 30, 30, 31, 31, 31}
	if !slices.Equal(got, want) {
		t.Errorf("floor = %v, want %v", got, want)
	}
	if samples[2].live != 45*mb {
		t.Error("liveFloor changed its argument")
	}
}
