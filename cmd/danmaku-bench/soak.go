package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// soakSample is one reading of the server during a soak.
type soakSample struct {
	at         time.Duration // Since publishing started.
	warm       bool          // Taken during the warm-up, outside the measured window.
	rss        int64         // Server VmRSS, bytes.
	heap       float64       // go_memstats_heap_inuse_bytes; NaN when the scrape failed.
	goMem      float64       // Memory the Go runtime holds from the OS: go_memstats_sys_bytes minus heap_released; NaN if unknown.
	heapKept   float64       // Of it, the heap: go_memstats_heap_sys_bytes minus heap_released; NaN if unknown.
	heapUnused float64       // Of the heap in use, the unused slots of its spans: go_memstats_heap_inuse_bytes minus heap_alloc; NaN if unknown.
	live       float64       // go_gc_heap_live_bytes: the heap the last collection marked live; NaN if unknown.
	goal       float64       // go_gc_heap_goal_bytes: the heap size at which the next collection starts; NaN if unknown.
	storeMem   float64       // The store's bounded parts (block cache, memtables), bytes; NaN for other stores.
	storeLimit float64       // Their bounds.
	storeOnGo  bool          // The store's parts are on the Go heap (part of goMem).
	goroutines float64       // go_goroutines; NaN when the scrape failed.
	fds        int           // Server open file descriptors.
	cpu        float64       // Server user+system CPU seconds since it started.
	viewers    int64         // Bench viewers still reading.
	lagMax     float64       // danmakud_tick_lag_max_seconds (since the server started); NaN if unknown.
	late       float64       // danmakud_late_ticks_total; NaN if unknown.
	capDrops   float64       // danmakud_dropped_total{reason="tick_cap"}; NaN if unknown.
	delivered  int64         // Danmaku delivered to all viewers so far.
	perSecond  float64       // Danmaku delivered per second since the previous sample.
	missing    int64         // Viewer-batches skipped so far (gaps in seq).
	sendFails  int64         // Sends failed, refused or skipped so far.
}

// soakLoss is the end-of-run accounting over the whole soak, warm-up
// included.
type soakLoss struct {
	batches        int64 // Batches the viewers saw (max seq - min seq + 1).
	expected       int64 // Viewer-batches expected: viewers × batches.
	missing        int64 // Viewer-batches some viewer did not receive.
	notices        int64 // Batches the server reported dropped to viewers.
	closed         int64 // Viewers the server closed.
	accepted       int64 // Sends answered 2xx.
	failed         int64 // Sends that failed or were refused.
	skipped        int64 // Sends not made: the send queue was full.
	neverBroadcast int   // Accepted sends that no batch carried.
	capDrops       int64 // Of those, what the server counted over the per-tick cap.
}

// probe reads a server's figures: /proc for memory, fds and CPU, and
// its /metrics page for the rest.
type probe struct {
	pid        int
	metricsURL string
	cl         *http.Client
}

func newProbe(addr string, pid int) *probe {
	return &probe{pid: pid, metricsURL: "http://" + addr + "/metrics", cl: &http.Client{Timeout: 5 * time.Second}}
}

// read takes one sample of the server. A failed scrape leaves the
// metric fields NaN and is returned as scrapeErr; a failure to read
// /proc (the server is gone) is err.
func (p *probe) read(ctx context.Context) (s soakSample, scrapeErr, err error) {
	if s.rss, err = procRSS(p.pid); err != nil {
		return s, nil, fmt.Errorf("read server RSS: %w", err)
	}
	if s.fds, err = procFDs(p.pid); err != nil {
		return s, nil, fmt.Errorf("count server fds: %w", err)
	}
	if s.cpu, err = procCPU(p.pid); err != nil {
		return s, nil, fmt.Errorf("read server CPU: %w", err)
	}
	s.goroutines, s.heap, s.lagMax, s.late, s.capDrops = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	s.goMem, s.storeMem, s.storeLimit = math.NaN(), math.NaN(), math.NaN()
	s.heapKept, s.heapUnused, s.live, s.goal = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	m, scrapeErr := p.scrape(ctx)
	if scrapeErr != nil {
		return s, scrapeErr, nil
	}
	lookup := func(key string) float64 {
		if v, ok := m[key]; ok {
			return v
		}
		return math.NaN()
	}
	s.goroutines = lookup("go_goroutines")
	s.heap = lookup("go_memstats_heap_inuse_bytes")
	s.goMem = lookup("go_memstats_sys_bytes") - lookup("go_memstats_heap_released_bytes")
	s.heapKept = lookup("go_memstats_heap_sys_bytes") - lookup("go_memstats_heap_released_bytes")
	s.heapUnused = s.heap - lookup("go_memstats_heap_alloc_bytes")
	s.live, s.goal = lookup("go_gc_heap_live_bytes"), lookup("go_gc_heap_goal_bytes")
	s.storeMem, s.storeLimit = math.NaN(), math.NaN()
	for _, onGo := range []string{"0", "1"} {
		// The exposition sorts labels by name.
		c := lookup(`danmakud_store_memory_bytes{on_go_heap="` + onGo + `",part="block_cache"}`)
		m := lookup(`danmakud_store_memory_bytes{on_go_heap="` + onGo + `",part="memtables"}`)
		if !math.IsNaN(c + m) {
			s.storeMem, s.storeOnGo = c+m, onGo == "1"
		}
	}
	s.storeLimit = lookup(`danmakud_store_memory_limit_bytes{part="block_cache"}`) + lookup(`danmakud_store_memory_limit_bytes{part="memtables"}`)
	s.lagMax = lookup("danmakud_tick_lag_max_seconds")
	s.late = lookup("danmakud_late_ticks_total")
	s.capDrops = lookup(`danmakud_dropped_total{reason="tick_cap"}`)
	return s, nil, nil
}

// scrape fetches and parses the server's /metrics.
func (p *probe) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	resp, err := p.cl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("scrape %s: status %s", p.metricsURL, resp.Status)
	}
	m, err := parseProm(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", p.metricsURL, err)
	}
	return m, nil
}

// procFDs counts the open file descriptors of pid.
func procFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// soakSchedule returns when to sample, as offsets from the start of
// publishing: every interval through the warm-up, then at the start of
// the window and every interval after it, the last one at its end.
func soakSchedule(warmup, window, interval time.Duration) []time.Duration {
	interval = max(interval, time.Millisecond)
	var at []time.Duration
	for t := time.Duration(0); t < warmup; t += interval {
		at = append(at, t)
	}
	for t := time.Duration(0); t < window; t += interval {
		at = append(at, warmup+t)
	}
	return append(at, warmup+window)
}

// soakRun is everything a soak measured.
type soakRun struct {
	viewers   int
	rssBefore int64 // Before any viewer connected.
	samples   []soakSample
	scrapeErr int // Scrapes of /metrics that failed.
	loss      soakLoss
}

// runSoak keeps o.viewers viewers of o.room on the server at addr (whose
// process is pid) and o.rate danmaku a second flowing for o.warmup and
// then o.soak, sampling the server every o.sample. progress, if not nil,
// receives a line per sample as it is taken.
func runSoak(ctx context.Context, o options, addr string, pid int, progress io.Writer) (*soakRun, error) {
	pr := newProbe(addr, pid)
	run := &soakRun{}
	var err error
	if run.rssBefore, err = procRSS(pid); err != nil {
		return nil, fmt.Errorf("read server RSS: %w", err)
	}
	start := time.Now()
	f := newFleet(start)
	f.keepEvents = false
	sources := make([]net.IP, max(1, o.sources))
	for i := range sources {
		sources[i] = net.IPv4(127, 0, 0, byte(i+1))
	}
	url := "ws://" + addr + "/danmu/ws/" + o.room
	logf(progress, "soak: connecting %d viewers to %s\n", o.viewers, addr)
	if err := f.connect(ctx, url, o.viewers, o.dialConc, sources, true, o.deflate); err != nil {
		f.closeAll()
		return nil, err
	}
	run.viewers = len(f.viewers)
	logf(progress, "soak: %d viewers connected in %v; warm-up %v, window %v, a sample every %v\n",
		f.open.Load(), time.Since(start).Round(time.Millisecond), o.warmup, o.soak, o.sample)

	pubStart := time.Now()
	pub := newPublisher(addr, o.room, start)
	pctx, cancel := context.WithCancel(ctx)
	var pubWG sync.WaitGroup
	pubWG.Go(func() { pub.run(pctx, o.rate) })
	stopPub := func() {
		cancel()
		pubWG.Wait()
	}

	logf(progress, "soak: %s\n", sampleHeader)
	var prev soakSample
	for i, off := range soakSchedule(o.warmup, o.soak, o.sample) {
		select {
		case <-ctx.Done():
			stopPub()
			f.closeAll()
			return nil, ctx.Err()
		case <-time.After(time.Until(pubStart.Add(off))):
		}
		at := time.Since(pubStart)
		s, scrapeErr, err := pr.read(ctx)
		if err != nil {
			stopPub()
			f.closeAll()
			return nil, err
		}
		if scrapeErr != nil {
			run.scrapeErr++
			logf(progress, "soak: %v\n", scrapeErr)
		}
		s.at = at
		s.warm = off < o.warmup
		s.viewers = f.open.Load()
		s.delivered = f.delivered.Load()
		s.missing = f.gaps.Load()
		s.sendFails = pub.failed.Load() + pub.skipped.Load()
		if i > 0 && s.at > prev.at {
			s.perSecond = float64(s.delivered-prev.delivered) / (s.at - prev.at).Seconds()
		}
		run.samples = append(run.samples, s)
		logf(progress, "soak: %s\n", formatSample(s))
		prev = s
	}
	stopPub()
	f.settle(ctx, 2*o.tick, 2*o.tick+15*time.Second)
	end, _, err := pr.read(ctx)
	if err != nil {
		f.closeAll()
		return nil, err
	}
	f.closeAll()
	run.loss = soakAccount(f, pub)
	if first := run.samples[0].capDrops; !math.IsNaN(end.capDrops) && !math.IsNaN(first) {
		run.loss.capDrops = int64(end.capDrops - first)
	}
	return run, nil
}

// settle waits at least minWait, then until every viewer still reading
// has the latest batch any viewer has, or until maxWait has passed.
func (f *fleet) settle(ctx context.Context, minWait, maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	select {
	case <-ctx.Done():
		return
	case <-time.After(minWait):
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var top uint64
		for _, v := range f.viewers {
			top = max(top, v.lastSeq.Load())
		}
		behind := 0
		for _, v := range f.viewers {
			if v.lastSeq.Load() < top {
				behind++
			}
		}
		if behind == 0 || f.open.Load() == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakAccount counts what the viewers missed and what the publisher's
// sends became, over the whole run. The viewers' readers must have
// ended.
func soakAccount(f *fleet, pub *publisher) soakLoss {
	var l soakLoss
	var lo, hi uint64
	for _, v := range f.viewers {
		if v.got == 0 {
			continue
		}
		if lo == 0 || v.firstSeq < lo {
			lo = v.firstSeq
		}
		hi = max(hi, v.lastSeq.Load())
	}
	if hi > 0 {
		l.batches = int64(hi - lo + 1)
	}
	for _, v := range f.viewers {
		l.expected += l.batches
		l.missing += l.batches - v.got
	}
	l.notices = f.notices.Load()
	l.closed = f.closed.Load()
	l.accepted = pub.accepted.Load()
	l.failed = pub.failed.Load()
	l.skipped = pub.skipped.Load()
	seen := make(map[string]bool)
	for _, p := range f.refs {
		var b batchRef
		if err := json.Unmarshal(p, &b); err != nil {
			continue
		}
		for _, it := range b.Items {
			seen[it.text()] = true
		}
	}
	_, l.neverBroadcast = pub.count(seen, math.MinInt64, math.MaxInt64)
	return l
}

// logf writes to w unless it is nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// runSoakCommand is the -soak mode: it starts the target server, soaks
// it and prints the samples, the summary and a verdict per target to
// stdout. It returns an error when a target is missed.
func runSoakCommand(o options) error {
	if o.target == "baseline" {
		return fmt.Errorf("-soak measures a real server: -target hub or danmakud, not baseline")
	}
	if o.sample <= 0 {
		return fmt.Errorf("-sample must be positive, not %v", o.sample)
	}
	fmt.Printf("soak: viewers=%d rate=%d/s tick=%v max-per-tick=%d target=%s deflate=%v warm-up=%v window=%v sample=%v\n",
		o.viewers, o.rate, o.tick, o.maxPerTick, o.target, o.deflate, o.warmup, o.soak, o.sample)
	srv, err := startServer(o, o.target)
	if err != nil {
		return fmt.Errorf("%s: %w", o.target, err)
	}
	defer srv.stop()
	time.Sleep(500 * time.Millisecond)
	run, err := runSoak(context.Background(), o, srv.addr, srv.pid(), os.Stderr)
	if err != nil {
		return fmt.Errorf("soak %s: %w", o.target, err)
	}
	sum := summarize(run, o)
	printSoak(os.Stdout, run, sum)
	if failed := sum.failed(); failed > 0 {
		return fmt.Errorf("soak: %d of %d targets not met", failed, len(sum.verdicts))
	}
	return nil
}
