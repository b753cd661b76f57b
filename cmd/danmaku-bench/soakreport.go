package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parseProm reads the Prometheus text format and returns every sample by
// its series as written: "name" or `name{label="value",...}`. Comments,
// blank lines and timestamps are ignored; a line that does not parse is
// an error.
func parseProm(r io.Reader) (map[string]float64, error) {
	m := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var key, rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("line %d: unclosed labels: %q", n, line)
			}
			key, rest = line[:j+1], line[j+1:]
		} else {
			var ok bool
			key, rest, ok = strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("line %d: no value: %q", n, line)
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: no value: %q", n, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value: %w", n, err)
		}
		m[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}

// slope returns the least-squares slope of ys over xs, and false when
// there are fewer than two distinct xs.
func slope(xs, ys []float64) (float64, bool) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

// slopeErr returns the standard error of the least-squares slope of ys
// over xs, NaN with fewer than three points or distinct xs.
func slopeErr(xs, ys []float64) float64 {
	b, ok := slope(xs, ys)
	if !ok || len(xs) < 3 {
		return math.NaN()
	}
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var ss, sxx float64
	for i := range xs {
		r := ys[i] - (my + b*(xs[i]-mx))
		ss += r * r
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	return math.Sqrt(ss / (n - 2) / sxx)
}

// Verdict statuses.
const (
	pass    = "PASS"
	fail    = "FAIL"
	unknown = "UNKNOWN"
)

// verdict is one soak target and whether it was met.
type verdict struct {
	target string
	status string // pass, fail or unknown.
	detail string
}

// soakSummary is a soak's figures over the measured window (the samples
// after the warm-up) and its verdicts.
type soakSummary struct {
	window           time.Duration // From the first window sample to the last.
	samples          int           // In the window.
	rssBefore        int64         // Before the viewers connected.
	rssStart, rssEnd int64
	rssMax           int64
	rssSlope         float64 // Bytes per minute.
	rssSlopeErr      float64 // Its standard error; NaN with fewer than three samples.
	heapStart        float64 // Go heap in use, bytes (NaN if not scraped).
	heapEnd          float64
	heapSlope        float64 // Bytes per minute.
	flatLimit        float64 // Bytes per minute the memory target allows.
	// The memory the verdict judges when the server reports it (see
	// judgedMemory): NaN otherwise, and the verdict goes by RSS.
	judgedStart, judgedEnd, judgedSlope, judgedErr float64
	goMemStart, goMemEnd                           float64
	liveStart, liveEnd, liveSlope                  float64 // Go heap marked live, the least of the minute up to each sample; NaN if not reported.
	keptMax, goalMax                               float64 // Go heap kept from the OS and the collector's goal, at most; NaN if not reported.
	unusedMax                                      float64 // The unused slots of the Go heap's spans, at most (0 for samples that lack them).
	outsideMax                                     float64 // RSS beyond the Go runtime's memory, at most, when the store's parts are C memory; NaN otherwise.
	storeStart, storeEnd, storeMax, storeLimit     float64
	storeOnGo                                      bool
	perViewer                                      float64 // (rssEnd - rssBefore) / viewers.
	gStart, gMax                                   float64
	gEnd, gSlope                                   float64 // gSlope: goroutines per minute.
	fdStart, fdMax                                 int
	fdEnd                                          int
	lagStart, lagEnd                               float64 // Max tick lag since the server started, seconds.
	lateInWindow                                   float64
	interval                                       time.Duration
	perSecond                                      float64 // Danmaku delivered per second over the window.
	cpuCores                                       float64 // Server CPU over the window.
	viewers                                        int
	scrapeErr                                      int
	loss                                           soakLoss
	verdicts                                       []verdict
	flatFractionPer10                              float64
}

// failed returns how many verdicts are not a pass.
func (s *soakSummary) failed() int {
	n := 0
	for _, v := range s.verdicts {
		if v.status != pass {
			n++
		}
	}
	return n
}

// summarize computes run's figures over its window and judges the
// targets (see goroutineVerdict, tickVerdict, lossVerdict and
// loadVerdict): memory flat (the RSS slope below o.flat × the starting
// RSS per 10 minutes), goroutines bounded, no tick late by more than
// o.tick, zero loss, and the load held.
func summarize(run *soakRun, o options) *soakSummary {
	interval, flat := o.tick, o.flat
	s := &soakSummary{rssBefore: run.rssBefore, interval: interval, viewers: run.viewers, scrapeErr: run.scrapeErr,
		loss: run.loss, flatFractionPer10: flat}
	var win []soakSample
	for _, x := range run.samples {
		if !x.warm {
			win = append(win, x)
		}
	}
	s.samples = len(win)
	if len(win) == 0 {
		s.verdicts = []verdict{{"memory flat", unknown, "no sample in the window"}}
		s.verdicts = append(s.verdicts, lossVerdict(s.loss))
		return s
	}
	first, last := win[0], win[len(win)-1]
	s.window = last.at - first.at
	s.rssStart, s.rssEnd = first.rss, last.rss
	s.fdStart, s.fdEnd = first.fds, last.fds
	s.gStart, s.gEnd = first.goroutines, last.goroutines
	s.heapStart, s.heapEnd = first.heap, last.heap
	s.lagStart, s.lagEnd = first.lagMax, last.lagMax
	s.lateInWindow = last.late - first.late
	s.gMax = math.NaN()
	var mins, rss, gmins, gs, hmins, hs []float64
	for _, x := range win {
		s.rssMax = max(s.rssMax, x.rss)
		s.fdMax = max(s.fdMax, x.fds)
		mins = append(mins, x.at.Minutes())
		rss = append(rss, float64(x.rss))
		if !math.IsNaN(x.goroutines) {
			if math.IsNaN(s.gMax) || x.goroutines > s.gMax {
				s.gMax = x.goroutines
			}
			gmins = append(gmins, x.at.Minutes())
			gs = append(gs, x.goroutines)
		}
		if !math.IsNaN(x.heap) {
			hmins = append(hmins, x.at.Minutes())
			hs = append(hs, x.heap)
		}
	}
	if secs := s.window.Seconds(); secs > 0 {
		s.perSecond = float64(last.delivered-first.delivered) / secs
		s.cpuCores = (last.cpu - first.cpu) / secs
	}
	if run.viewers > 0 {
		s.perViewer = float64(s.rssEnd-s.rssBefore) / float64(run.viewers)
	}

	var ok bool
	s.rssSlope, ok = slope(mins, rss)
	s.rssSlopeErr = slopeErr(mins, rss)
	s.flatLimit = flat * float64(s.rssStart) / 10
	s.judgedStart, s.judgedEnd, s.judgedSlope, s.judgedErr = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	s.goMemStart, s.goMemEnd, s.storeStart, s.storeEnd, s.storeMax, s.storeLimit = first.goMem, last.goMem, first.storeMem, last.storeMem, math.NaN(), last.storeLimit
	s.storeOnGo = last.storeOnGo
	s.liveStart, s.liveEnd, s.liveSlope, s.keptMax, s.goalMax, s.outsideMax, s.unusedMax = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	var jmins, js, lmins, ls []float64
	floor := liveFloor(run.samples)
	for i, x := range run.samples {
		if x.warm {
			continue
		}
		if !x.storeOnGo && !math.IsNaN(x.goMem) {
			s.outsideMax = max(float64(x.rss)-x.goMem, nanTo(s.outsideMax, 0))
		}
		if j := judgedMemory(floor[i]); !math.IsNaN(j) {
			jmins = append(jmins, x.at.Minutes())
			js = append(js, j)
			s.storeMax = max(x.storeMem, nanTo(s.storeMax, 0))
		}
		if !math.IsNaN(x.live + x.heapKept + x.goal) {
			lmins = append(lmins, x.at.Minutes())
			ls = append(ls, floor[i].live)
			s.keptMax, s.goalMax = max(x.heapKept, nanTo(s.keptMax, 0)), max(x.goal, nanTo(s.goalMax, 0))
			s.unusedMax = max(nanTo(x.heapUnused, 0), nanTo(s.unusedMax, 0))
		}
	}
	if len(ls) >= 2 {
		s.liveStart, s.liveEnd = ls[0], ls[len(ls)-1]
		s.liveSlope, _ = slope(lmins, ls)
	}
	if len(js) == len(win) && len(js) >= 2 {
		s.judgedStart, s.judgedEnd = js[0], js[len(js)-1]
		s.judgedSlope, _ = slope(jmins, js)
		s.judgedErr = slopeErr(jmins, js)
		v := memoryVerdict(s.judgedSlope, s.judgedErr, s.flatLimit, flat)
		v.detail = "Go memory (of the heap the live part): " + v.detail
		s.verdicts = append(s.verdicts, v, storeVerdict(s.storeMax, s.storeLimit))
		if !s.storeOnGo {
			s.verdicts = append(s.verdicts, outsideVerdict(s.outsideMax, s.storeLimit))
		}
		if len(ls) == len(win) {
			s.verdicts = append(s.verdicts, heapVerdict(s.keptMax, s.goalMax, s.unusedMax))
		}
	} else if ok {
		s.verdicts = append(s.verdicts, memoryVerdict(s.rssSlope, s.rssSlopeErr, s.flatLimit, flat))
	} else {
		s.verdicts = append(s.verdicts, verdict{"memory flat", unknown, "fewer than two samples in the window"})
	}
	s.gSlope, _ = slope(gmins, gs)
	s.heapSlope, _ = slope(hmins, hs)
	s.verdicts = append(s.verdicts, goroutineVerdict(gs, o.rate))
	s.verdicts = append(s.verdicts, tickVerdict(s.lagStart, s.lagEnd, s.lateInWindow, interval))
	s.verdicts = append(s.verdicts, lossVerdict(s.loss))
	s.verdicts = append(s.verdicts, loadVerdict(s.perSecond, run.viewers, o, s.loss.skipped))
	return s
}

// judgedMemory is the memory of sample x that must stay flat: the
// memory the Go runtime holds (less the store's bounded parts when they
// are on the Go heap), and, when the store's parts are on the Go heap
// too, what RSS holds beyond it.
//
// Of the Go heap, only the live heap counts when the server reports it,
// and x.live is then the least live heap of the minute up to x (see
// liveFloor): the heap the runtime keeps beyond the live heap (garbage
// not collected yet, and freed pages it has not returned to the OS)
// follows the collector's goal (1.5 times the live heap with danmakud's
// -gc-percent 50), and is judged against that goal (heapVerdict); and a
// collection counts as live everything allocated while it marks, so one
// that runs while thousands of viewers catch up on a backlog marks their
// frames too. A leak raises the floor.
//
// With cgo, Pebble's block cache and memtables are C memory, the only C
// memory of the server: what RSS holds beyond the Go runtime's memory is
// then judged against the store's bound (outsideVerdict), not for
// growth, since the cache and memtables fill for about half an hour at
// 100 danmaku/s and C's allocator keeps some of what they free. NaN when
// the server does not report these figures.
func judgedMemory(x soakSample) float64 {
	if math.IsNaN(x.goMem) || math.IsNaN(x.storeMem) {
		return math.NaN()
	}
	goOwn := x.goMem
	if !math.IsNaN(x.live + x.heapKept) {
		goOwn -= x.heapKept - x.live
	}
	if !x.storeOnGo {
		return goOwn
	}
	return goOwn - x.storeMem + max(float64(x.rss)-x.goMem, 0)
}

// liveFloor returns samples with each live heap replaced by the least
// live heap of the samples taken in the minute up to it (warm-up
// included).
func liveFloor(samples []soakSample) []soakSample {
	out := slices.Clone(samples)
	for i := range out {
		for k := i - 1; k >= 0 && samples[i].at-samples[k].at < time.Minute; k-- {
			if !math.IsNaN(samples[k].live) {
				out[i].live = min(nanTo(out[i].live, samples[k].live), samples[k].live)
			}
		}
	}
	return out
}

// outsideVerdict judges "C memory within the store's bound": with cgo,
// where the store's parts are C memory, RSS beyond the Go runtime's
// memory never above the store's bound in the window.
func outsideVerdict(maxBytes, limit float64) verdict {
	return boundVerdict("C memory within the store's bound", maxBytes, limit, "the server does not report its store's memory",
		fmt.Sprintf("RSS beyond the Go runtime's memory at most %.1f MiB, bound %.1f MiB (the store's block cache and memtables)", maxBytes/(1<<20), limit/(1<<20)))
}

// storeVerdict judges "store memory bounded": the store's bounded parts
// never above their bounds in the window.
func storeVerdict(maxBytes, limit float64) verdict {
	return boundVerdict("store memory bounded", maxBytes, limit, "the server does not report its store's memory",
		fmt.Sprintf("block cache and memtables at most %.1f MiB, bound %.1f MiB", maxBytes/(1<<20), limit/(1<<20)))
}

// boundVerdict is the verdict target passes when the window's largest
// figure, maxBytes, is at most limit: unknown with missing as its detail
// when either is NaN, else detail.
func boundVerdict(target string, maxBytes, limit float64, missing, detail string) verdict {
	switch {
	case math.IsNaN(maxBytes) || math.IsNaN(limit):
		return verdict{target, unknown, missing}
	case maxBytes > limit:
		return verdict{target, fail, detail}
	}
	return verdict{target, pass, detail}
}

// heapRetainSlack is how far above the heap it aims for the runtime keeps
// heap: its scavenger returns free pages to the OS while the heap it keeps
// exceeds that by more than 10 %.
const heapRetainSlack = 1.10

// heapVerdict judges "Go heap within its goal": the heap the Go runtime
// kept from the OS (in use and free, not returned) never above what its
// scavenger aims for. The scavenger keeps 10 % over the heap in use at
// the end of the last collection (scaled to the new goal), and that heap
// is at most the goal plus the unused slots of its spans. So the bound is
// 10 % over the window's largest goal (the scavenger works towards the
// goal of the last collection, so a goal that falls leaves freed pages
// for it to return at its pace) plus the largest unused part of the heap
// in use.
func heapVerdict(keptMax, goalMax, unusedMax float64) verdict {
	unused := nanTo(unusedMax, 0)
	bound := heapRetainSlack * (goalMax + unused)
	return boundVerdict("Go heap within its goal", keptMax, bound, "the server does not report its heap's goal",
		fmt.Sprintf("heap kept from the OS at most %.1f MiB, bound %.1f MiB (%.0f%% over the largest goal, %.1f MiB, and the spans' unused slots, at most %.1f MiB)",
			keptMax/(1<<20), bound/(1<<20), 100*(heapRetainSlack-1), goalMax/(1<<20), unused/(1<<20)))
}

func nanTo(v, alt float64) float64 {
	if math.IsNaN(v) {
		return alt
	}
	return v
}

// memoryVerdict judges "memory flat after warm-up": the least-squares
// slope of RSS over the window (bytes a minute) at most limit, which is
// the fraction flat of the starting RSS per 10 minutes. The verdict goes
// by the slope itself; the detail says when the limit lies within two
// standard errors (se) of it, that is when the window was too short or
// too noisy to tell.
func memoryVerdict(slope, se, limit, flat float64) verdict {
	const name = "memory flat"
	status, cmp := pass, "≤"
	if slope > limit {
		status, cmp = fail, ">"
	}
	d := fmt.Sprintf("slope %s/min %s %s/min (%.3g%% of the start RSS per 10 min)", signedBytes(slope), cmp, signedBytes(limit), 100*flat)
	if !math.IsNaN(se) && math.Abs(slope-limit) <= 2*se {
		d += fmt.Sprintf("; not significant: the limit is within two standard errors (%s/min) of the slope", unsignedBytes(se))
	}
	return verdict{name, status, d}
}

// goroutineVerdict judges "goroutine count bounded" from the window's
// counts in order: never above twice the first count plus 50 plus one
// second of sends at rate a second (so nothing grows per viewer or stays
// per send: a send's handler is a goroutine while it runs, and a store
// write that stalls for a second holds a second of them), and no upward
// drift: the median of the last third at most the larger of 10 and 10 %
// above the median of the first third (medians, so that the handlers in
// flight at one sample do not decide it).
func goroutineVerdict(gs []float64, rate int) verdict {
	const name = "goroutines bounded"
	if len(gs) == 0 {
		return verdict{name, unknown, "go_goroutines not scraped"}
	}
	top := slices.Max(gs)
	bound := 2*gs[0] + 50 + float64(rate)
	third := max(1, len(gs)/3)
	early, late := median(gs[:third]), median(gs[len(gs)-third:])
	allowed := max(10, math.Ceil(early/10))
	d := fmt.Sprintf("max %.0f (bound 2 × start %.0f + 50 + a second of sends, %d = %.0f); median %.0f in the first third, %.0f in the last (drift allowed %.0f)",
		top, gs[0], rate, bound, early, late, allowed)
	if top <= bound && late-early <= allowed {
		return verdict{name, pass, d}
	}
	return verdict{name, fail, d}
}

// median returns the median of xs, which it does not change.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// loadVerdict judges whether the run held its load, without which the
// other verdicts are not about the asked-for load: over the window the
// viewers together received at least 95 % of viewers × the rate (the
// rate capped at max-per-tick a tick), and no send was skipped because
// the server or the bench fell behind.
func loadVerdict(perSecond float64, viewers int, o options, skipped int64) verdict {
	const name = "load held"
	rate := float64(o.rate)
	if o.tick > 0 && o.maxPerTick > 0 {
		rate = min(rate, float64(o.maxPerTick)/o.tick.Seconds())
	}
	want := float64(viewers) * rate
	d := fmt.Sprintf("%.0f danmaku/s delivered of %.0f (%d viewers × %.0f/s), %d sends skipped", perSecond, want, viewers, rate, skipped)
	if want > 0 && perSecond >= 0.95*want && skipped == 0 {
		return verdict{name, pass, d}
	}
	return verdict{name, fail, d}
}

// tickVerdict judges "no tick late by more than one interval" in the
// window from the server's running maximum lag at its start and end and
// the late ticks (over half an interval) counted in it.
func tickVerdict(lagStart, lagEnd, late float64, interval time.Duration) verdict {
	iv := interval.Seconds()
	const name = "no tick late by an interval"
	switch {
	case math.IsNaN(lagStart) || math.IsNaN(lagEnd) || math.IsNaN(late):
		return verdict{name, unknown, "tick lag not scraped"}
	case late == 0:
		return verdict{name, pass, fmt.Sprintf("no tick over half an interval late in the window (max lag since start %.3f s, interval %v)", lagEnd, interval)}
	case lagEnd <= iv:
		return verdict{name, pass, fmt.Sprintf("%.0f ticks over half an interval late; max lag %.3f s ≤ interval %v", late, lagEnd, interval)}
	case lagEnd > lagStart:
		return verdict{name, fail, fmt.Sprintf("a tick in the window ran %.3f s late > interval %v (%.0f over half an interval)", lagEnd, interval, late)}
	default:
		return verdict{name, unknown, fmt.Sprintf("%.0f ticks over half an interval late in the window; the max lag since start, %.3f s > %v, was set in the warm-up, so the window's own max is not known", late, lagEnd, interval)}
	}
}

// lossVerdict judges "zero loss": every viewer got every batch, nothing
// was dropped or closed, every send made was accepted, and every accepted
// danmaku was broadcast except those over the per-tick cap (by design).
// Sends the bench skipped are judged by loadVerdict.
func lossVerdict(l soakLoss) verdict {
	uncapped := int64(l.neverBroadcast) - l.capDrops
	d := fmt.Sprintf("%d of %d viewer-batches missing, %d dropped notices, %d viewers closed, %d sends failed, %d accepted but not broadcast (%d over the tick cap)",
		l.missing, l.expected, l.notices, l.closed, l.failed, l.neverBroadcast, l.capDrops)
	if l.missing == 0 && l.notices == 0 && l.closed == 0 && l.failed == 0 && uncapped <= 0 && l.expected > 0 {
		return verdict{"zero loss", pass, d}
	}
	if l.expected == 0 {
		return verdict{"zero loss", fail, "no batch reached any viewer"}
	}
	return verdict{"zero loss", fail, d}
}

const sampleHeader = "     t  phase    RSS MiB  heap MiB  live MiB  goroutines    fds  viewers  tick lag max  late ticks  delivered/s  missing  send fails"

// formatSample formats s as a row under sampleHeader.
func formatSample(s soakSample) string {
	phase := "window"
	if s.warm {
		phase = "warm-up"
	}
	return fmt.Sprintf("%6s  %-7s  %7.1f  %8s  %8s  %10s  %5d  %7d  %10s s  %10s  %11.0f  %7d  %10d",
		s.at.Round(time.Second), phase, float64(s.rss)/(1<<20), orUnknown(s.heap/(1<<20), "%.1f"), orUnknown(s.live/(1<<20), "%.1f"), orUnknown(s.goroutines, "%.0f"), s.fds, s.viewers,
		orUnknown(s.lagMax, "%.3f"), orUnknown(s.late, "%.0f"), s.perSecond, s.missing, s.sendFails)
}

func orUnknown(v float64, format string) string {
	if math.IsNaN(v) {
		return "?"
	}
	return fmt.Sprintf(format, v)
}

// signedBytes formats a byte rate with its sign, in KiB or MiB.
func signedBytes(b float64) string {
	sign := "+"
	if b < 0 {
		sign = "-"
	}
	a := math.Abs(b)
	if a >= 1<<20 {
		return fmt.Sprintf("%s%.2f MiB", sign, a/(1<<20))
	}
	return fmt.Sprintf("%s%.1f KiB", sign, a/(1<<10))
}

// printSoak writes the table of samples, the summary and the verdicts.
func printSoak(w io.Writer, run *soakRun, s *soakSummary) {
	fmt.Fprintf(w, "\n== soak samples ==\n%s\n", sampleHeader)
	for _, x := range run.samples {
		fmt.Fprintln(w, formatSample(x))
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(w, "\n== soak summary (window: %v after the warm-up, %d samples) ==\n", s.window.Round(time.Second), s.samples)
	fmt.Fprintf(w, "RSS: %.1f MiB before viewers; %.1f MiB at the window's start, %.1f MiB at its end, %.1f MiB max; slope %s/min ± %s/min (standard error) = %+.3f%% of the start per 10 min; %.0f bytes per viewer at the end\n",
		mib(s.rssBefore), mib(s.rssStart), mib(s.rssEnd), mib(s.rssMax), signedBytes(s.rssSlope), unsignedBytes(s.rssSlopeErr), pct10(s.rssSlope, s.rssStart), s.perViewer)
	fmt.Fprintf(w, "Go heap in use: %s MiB at the window's start, %s MiB at its end; slope %s/min\n",
		orUnknown(s.heapStart/(1<<20), "%.1f"), orUnknown(s.heapEnd/(1<<20), "%.1f"), signedBytes(s.heapSlope))
	if !math.IsNaN(s.judgedStart) {
		where := "C memory (outside the Go heap)"
		if s.storeOnGo {
			where = "on the Go heap"
		}
		fmt.Fprintf(w, "Go runtime memory (sys - released): %.1f MiB at the window's start, %.1f MiB at its end\n", s.goMemStart/(1<<20), s.goMemEnd/(1<<20))
		fmt.Fprintf(w, "store's bounded parts (Pebble block cache + memtables, %s): %.1f MiB at the start, %.1f MiB at the end, %.1f MiB max, bound %.1f MiB\n",
			where, s.storeStart/(1<<20), s.storeEnd/(1<<20), s.storeMax/(1<<20), s.storeLimit/(1<<20))
		if !math.IsNaN(s.liveSlope) {
			fmt.Fprintf(w, "Go heap marked live (the least of the minute up to each sample): %.1f MiB at the window's start, %.1f MiB at its end; slope %s/min; heap kept from the OS at most %.1f MiB, collector's goal at most %.1f MiB\n",
				s.liveStart/(1<<20), s.liveEnd/(1<<20), signedBytes(s.liveSlope), s.keptMax/(1<<20), s.goalMax/(1<<20))
		}
		fmt.Fprintf(w, "judged memory (Go runtime memory, of its heap the least live heap of the last minute; the store's parts left out): %.1f MiB at the start, %.1f MiB at the end; slope %s/min ± %s/min\n",
			s.judgedStart/(1<<20), s.judgedEnd/(1<<20), signedBytes(s.judgedSlope), unsignedBytes(s.judgedErr))
	}
	fmt.Fprintf(w, "goroutines: %s at the start, %s max, %s at the end (slope %+.2f/min)\n",
		orUnknown(s.gStart, "%.0f"), orUnknown(s.gMax, "%.0f"), orUnknown(s.gEnd, "%.0f"), s.gSlope)
	fmt.Fprintf(w, "open fds: %d at the start, %d max, %d at the end (%d viewers)\n", s.fdStart, s.fdMax, s.fdEnd, s.viewers)
	fmt.Fprintf(w, "tick lag: max since start %s s at the window's start, %s s at its end (interval %v); %s ticks over half an interval late in the window\n",
		orUnknown(s.lagStart, "%.3f"), orUnknown(s.lagEnd, "%.3f"), s.interval, orUnknown(s.lateInWindow, "%.0f"))
	fmt.Fprintf(w, "delivered: %.0f danmaku/s over the window; server CPU %.2f cores\n", s.perSecond, s.cpuCores)
	l := s.loss
	fmt.Fprintf(w, "loss (whole run): %d of %d viewer-batches (%d batches × %d viewers); dropped notices %d; viewers closed %d\n",
		l.missing, l.expected, l.batches, s.viewers, l.notices, l.closed)
	fmt.Fprintf(w, "sends: %d accepted, %d failed, %d skipped; %d accepted but never broadcast, %d counted over the tick cap\n",
		l.accepted, l.failed, l.skipped, l.neverBroadcast, l.capDrops)
	if s.scrapeErr > 0 {
		fmt.Fprintf(w, "metrics scrapes failed: %d\n", s.scrapeErr)
	}
	fmt.Fprintf(w, "\n== verdicts ==\n")
	for _, v := range s.verdicts {
		fmt.Fprintf(w, "%-8s %-28s %s\n", v.status, v.target, v.detail)
	}
}

// unsignedBytes formats a non-negative byte figure, or "?" for NaN.
func unsignedBytes(b float64) string {
	if math.IsNaN(b) {
		return "?"
	}
	return strings.TrimPrefix(signedBytes(b), "+")
}

// pct10 is a per-minute slope as a percentage of base per 10 minutes.
func pct10(perMin float64, base int64) float64 {
	if base == 0 {
		return 0
	}
	return 100 * perMin * 10 / float64(base)
}
