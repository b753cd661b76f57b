// Command danmaku-bench measures live fan-out: it starts a server (the
// full danmakud, or the live hub alone), opens V WebSocket viewers of one
// room on loopback (asking for protocol version -v, 2 by default: compact
// batches), publishes R realistic danmaku a second through POST
// /danmu/send (unique Chinese texts of about ten characters, the seed's
// fields, mostly white scrolling ones; see realistic.go), and reports
// delivered danmaku a second, loss, end-to-end latency, server CPU per
// delivered danmaku, server RSS per viewer, wire bytes per delivered
// danmaku and the server's CPU per send. In the same run it measures a
// baseline server that writes one pre-encoded frame of the same items in
// the same shape per tick to as many raw connections, with the per-send
// phases against its minimal durable send path (net/http, append, fsync),
// and prints the ratios and a markdown table.
//
//	go run ./cmd/danmaku-bench -target danmakud -viewers 15000 -rate 100 -max-per-tick 200
//
// With -cluster N it measures N danmakud nodes on a private Redis, V
// viewers on each, against one node serving V alone (cluster.go).
// scripts/bench-fanout.sh runs every measurement of docs/benchmarks-fanout.md.
//
// With -soak it instead keeps the viewers and the rate going for a long
// window and samples the server every -sample: RSS, goroutines, open
// fds, tick lag, delivered danmaku a second and loss so far; at the end
// it prints the samples, the RSS slope and a verdict per target (memory
// flat, goroutines bounded, no tick late by an interval, zero loss, load
// held), and exits 1 if one is missed.
//
//	go run ./cmd/danmaku-bench -viewers 15000 -rate 100 -target danmakud -soak 10m -sample 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

type options struct {
	viewers    int
	rate       int
	duration   time.Duration
	warmup     time.Duration
	tick       time.Duration
	maxPerTick int
	target     string
	room       string
	sources    int
	dialConc   int
	baseline   bool
	workers    int
	deflate    bool
	proto      int           // Protocol version the viewers ask for (?v=).
	sendWindow time.Duration // Window of each per-send CPU phase; 0 skips them.
	markdown   bool          // Print the results as a markdown table too.
	extraArgs  string        // More danmakud flags, space-separated.
	bin        string        // A prebuilt danmakud to measure; empty builds ./cmd/danmakud.
	cluster    int           // Nodes of the measured cluster; 0 measures one server against the floor.
	soak       time.Duration // The soak's measured window; 0 runs the fixed-window bench.
	sample     time.Duration // How often the soak samples the server.
	flat       float64       // Memory-flat threshold: RSS growth per 10 minutes as a fraction of the start.
}

// benchSeed seeds the realistic items, so that the baseline carries the
// same texts as the server.
const benchSeed = 16

// soakWarmup is the soak's warm-up when -warmup is not given.
const soakWarmup = time.Minute

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "danmaku-bench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("danmaku-bench", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.viewers, "viewers", 15000, "WebSocket viewers in one room")
	fs.IntVar(&o.rate, "rate", 100, "danmaku published per second")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measurement window")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "publishing before the window opens")
	fs.DurationVar(&o.tick, "tick", time.Second, "tick interval (hub target and baseline)")
	fs.IntVar(&o.maxPerTick, "max-per-tick", 100, "per-tick cap (hub target)")
	fs.StringVar(&o.target, "target", "hub", `server to measure: "hub" (the live package behind a minimal send handler) or "danmakud" (the full server, built from ./cmd/danmakud)`)
	fs.StringVar(&o.room, "room", "bench", "room objectId")
	fs.IntVar(&o.sources, "sources", 4, "source addresses 127.0.0.1..127.0.0.N for the viewers")
	fs.IntVar(&o.dialConc, "dial-concurrency", 64, "viewers connecting at once")
	fs.BoolVar(&o.baseline, "baseline", true, "also measure the baseline server")
	fs.BoolVar(&o.deflate, "deflate", false, "viewers offer permessage-deflate (the baseline then compresses its frame once per tick, as the server does)")
	fs.IntVar(&o.proto, "v", 2, "protocol version the viewers ask for: 2 (compact batches) or 1 (the seed's shape); the baseline writes the same shape")
	fs.DurationVar(&o.sendWindow, "send-window", 10*time.Second, "window of each per-send CPU phase (idle, sends to another room, idle again; before the viewers connect and again with them); 0 skips them")
	fs.BoolVar(&o.markdown, "markdown", true, "also print the results as a markdown table")
	fs.IntVar(&o.cluster, "cluster", 0, "measure this many danmakud nodes on a private Redis (redis-server on the PATH), -viewers on each, against one node serving -viewers alone; 0 measures one server against the baseline")
	fs.StringVar(&o.bin, "danmakud-bin", "", "a prebuilt danmakud binary to measure instead of building ./cmd/danmakud (for example an older version, to compare two in one run)")
	fs.StringVar(&o.extraArgs, "danmakud-flags", "", `more danmakud flags, space-separated, e.g. "-debug-addr 127.0.0.1:6060" to profile it`)
	fs.IntVar(&o.workers, "fanout-workers", 0, "fan-out goroutines per room (hub target; 0 means GOMAXPROCS)")
	fs.DurationVar(&o.soak, "soak", 0, "soak mode: keep the viewers and the rate for this measured window (after -warmup, 1m by default here), sampling the server's RSS, goroutines, fds and tick lag; 0 runs the fixed-window bench")
	fs.DurationVar(&o.sample, "sample", 10*time.Second, "soak mode: sampling interval")
	fs.Float64Var(&o.flat, "flat", 0.01, "soak mode: memory counts as flat when the RSS slope is below this fraction of the window's starting RSS per 10 minutes")
	serve := fs.String("serve", "", `internal: run a server ("hub" or "baseline") instead of the bench`)
	addr := fs.String("addr", "127.0.0.1:0", "internal: server address")
	dir := fs.String("dir", "", "internal: the baseline's directory for the log of its durable sends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *serve {
	case "hub":
		return runHubServer(*addr, o.room, o.tick, o.maxPerTick, o.workers)
	case "baseline":
		return runBaselineServer(*addr, *dir, o.tick, o.rate, o.proto)
	case "":
	default:
		return fmt.Errorf("unknown -serve %q", *serve)
	}
	if o.soak > 0 {
		warmupSet := false
		fs.Visit(func(f *flag.Flag) { warmupSet = warmupSet || f.Name == "warmup" })
		if !warmupSet {
			o.warmup = soakWarmup
		}
		return runSoakCommand(o)
	}

	if o.cluster > 0 {
		return runCluster(o)
	}
	fmt.Printf("viewers=%d rate=%d/s tick=%v window=%v warmup=%v target=%s deflate=%v\n", o.viewers, o.rate, o.tick, o.duration, o.warmup, o.target, o.deflate)
	main, err := measure(o, o.target)
	if err != nil {
		return fmt.Errorf("%s: %w", o.target, err)
	}
	main.print(o.target)
	if !o.baseline {
		return nil
	}
	time.Sleep(2 * time.Second) // Let the kernel reap the closed sockets.
	base, err := measure(o, "baseline")
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	base.print("baseline")
	fmt.Printf("\nratios %s/baseline: CPU per delivered danmaku %.2f×, RSS per viewer %.2f×, wire bytes per danmaku %.2f×, batch→receive p99 %.2f×\n",
		o.target, ratio(main.cpuPerMillion, base.cpuPerMillion), ratio(main.rssPerViewer, base.rssPerViewer),
		ratio(main.wirePerDanmaku, base.wirePerDanmaku), ratio(main.d99.Seconds(), base.d99.Seconds()))
	if o.markdown {
		printMarkdown(os.Stdout, o, main, base)
	}
	return nil
}

// printMarkdown writes the server's and the baseline's results side by
// side as a markdown table, ready for docs/benchmarks-fanout.md. When the
// per-send phases ran, it adds the floor with its minimal durable send
// path (runBaselineServer).
func printMarkdown(w io.Writer, o options, srv, base result) {
	frames := "plain frames"
	if o.deflate {
		frames = "permessage-deflate"
	}
	fmt.Fprintf(w, "\n| %d viewers, %d/s, %s, v%d | floor | %s | ratio |\n|---|---|---|---|\n", o.viewers, o.rate, frames, o.proto, o.target)
	fmt.Fprintf(w, "| CPU per delivered danmaku | %.3f µs | %.3f µs | %.2f× |\n", base.cpuPerMillion, srv.cpuPerMillion, ratio(srv.cpuPerMillion, base.cpuPerMillion))
	fmt.Fprintf(w, "| wire bytes per delivered danmaku | %.1f | %.1f | %.2f× |\n", base.wirePerDanmaku, srv.wirePerDanmaku, ratio(srv.wirePerDanmaku, base.wirePerDanmaku))
	fmt.Fprintf(w, "| send→receive p50 / p99 | %v / %v | %v / %v | p99 %+d ms |\n", base.p50, base.p99, srv.p50, srv.p99, (srv.p99 - base.p99).Milliseconds())
	fmt.Fprintf(w, "| loss: viewer-batches missed; sends never broadcast | %d of %d | %d of %d; %d | |\n", base.missing, base.expected, srv.missing, srv.expected, srv.undelivered)
	fmt.Fprintf(w, "| server memory per viewer (RSS growth less the store's cache and memtables' growth of %.1f MiB) | %.2f KB | %.2f KB | %.2f× |\n",
		srv.storeGrowth/(1<<20), base.rssPerViewer/1024, srv.rssPerViewer/1024, ratio(srv.rssPerViewer, base.rssPerViewer))
	fmt.Fprintf(w, "| delivered danmaku/s | %.0f | %.0f | |\n", base.deliveredPerS, srv.deliveredPerS)
	if f := srv.fanoutCPU(); f > 0 {
		fmt.Fprintf(w, "| CPU per delivered danmaku without the send path (window CPU less its %d sends × the per-send CPU) | %.3f µs | %.3f µs | %.2f× |\n",
			srv.accepted, base.cpuPerMillion, f, ratio(f, base.cpuPerMillion))
	}
	if srv.sends0.sends > 0 || srv.sendsN.sends > 0 {
		fmt.Fprintf(w, "| per-send CPU (POST /danmu/send to another room; the floor's: net/http, validate, append, fsync): 0 viewers / %d viewers | %.0f µs / %.0f µs | %.0f µs / %.0f µs | %.2f× / %.2f× |\n",
			srv.viewers, base.sends0.perSend, base.sendsN.perSend, srv.sends0.perSend, srv.sendsN.perSend,
			ratio(srv.sends0.perSend, base.sends0.perSend), ratio(srv.sendsN.perSend, base.sendsN.perSend))
	}
	if with := base.withSends(srv.accepted, base.sendsN.perSend); with > 0 && base.sendsN.perSend > 0 {
		fmt.Fprintf(w, "| CPU per delivered danmaku, the floor with its durable send path (its window's CPU + %d sends × its per-send CPU with viewers) | %.3f µs | %.3f µs | %.2f× |\n",
			srv.accepted, with, srv.cpuPerMillion, ratio(srv.cpuPerMillion, with))
	}
	fmt.Fprintf(w, "| POST /danmu/send round trip p50 / p99 | — | %v / %v | |\n", srv.rtt50, srv.rtt99)
}

// danmakudBinary returns o.bin when it is set, else a danmakud built from
// the repository into dir.
func danmakudBinary(o options, dir string) (string, error) {
	if o.bin != "" {
		return o.bin, nil
	}
	bin, err := testenv.Build(context.Background(), dir)
	if err != nil {
		return "", fmt.Errorf("%w (run the bench from the repository root)", err)
	}
	return bin, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// server is a child process serving on addr: danmakud (srv) or this
// command's own hub or baseline server (proc).
type server struct {
	addr     string
	sendAddr string // Where POST /danmu/send goes: addr, or the baseline's second listener.
	srv      *testenv.Server
	proc     *testenv.Process
	tmp      string
}

// startServer starts the server of the given kind.
func startServer(o options, kind string) (*server, error) {
	tmp, err := os.MkdirTemp("", "danmaku-bench-")
	if err != nil {
		return nil, err
	}
	s := &server{tmp: tmp}
	switch kind {
	case "hub", "baseline":
		err = s.startSelf(o, kind)
	case "danmakud":
		err = s.startDanmakud(o)
	default:
		err = fmt.Errorf("unknown target %q", kind)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	return s, nil
}

// startDanmakud builds danmakud (or takes o.bin) and starts it with its
// data in s.tmp.
func (s *server) startDanmakud(o options) error {
	bin, err := danmakudBinary(o, s.tmp)
	if err != nil {
		return err
	}
	// The viewers come from a few loopback addresses, so the cap of
	// connections per address is off along with the rate limits.
	s.srv, err = testenv.StartServer(context.Background(), testenv.ServerConfig{Bin: bin, Log: os.Stderr, Args: append([]string{
		"-data", filepath.Join(s.tmp, "data"), "-rate-limits=false", "-max-conns-per-ip", "0",
		"-tick", o.tick.String(), "-max-per-tick", fmt.Sprint(o.maxPerTick)}, strings.Fields(o.extraArgs)...)})
	if err != nil {
		return err
	}
	s.addr = s.srv.Addr()
	s.sendAddr = s.addr
	return nil
}

// startSelf runs this command's own hub or baseline server and reads the
// address from its "READY <addr>" line.
func (s *server) startSelf(o options, kind string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	s.proc, err = testenv.StartProcessOutputs(self, []string{"-serve", kind, "-tick", o.tick.String(), "-rate", fmt.Sprint(o.rate),
		"-max-per-tick", fmt.Sprint(o.maxPerTick), "-v", fmt.Sprint(o.proto), "-room", o.room, "-fanout-workers", fmt.Sprint(o.workers), "-dir", s.tmp}, pw, os.Stderr)
	if err != nil {
		return err
	}
	go func() {
		<-s.proc.Done()
		_ = pw.Close()
	}()
	out := bufio.NewReader(pr)
	line, err := out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		s.proc.Kill()
		return fmt.Errorf("server did not start: %q %v", line, err)
	}
	addrs := strings.Fields(strings.TrimPrefix(line, "READY "))
	if len(addrs) == 0 {
		s.proc.Kill()
		return fmt.Errorf("server did not say its address: %q", line)
	}
	// The hub prints one address; the baseline adds its send path's.
	s.addr, s.sendAddr = addrs[0], addrs[len(addrs)-1]
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return nil
}

func (s *server) pid() int {
	if s.srv != nil {
		return s.srv.PID()
	}
	return s.proc.PID()
}

func (s *server) stop() {
	if s.srv != nil {
		s.srv.Close()
	} else {
		s.proc.Stop(syscall.SIGTERM, 10*time.Second)
	}
	_ = os.RemoveAll(s.tmp)
}

// result is one measured configuration.
type result struct {
	viewers        int
	published      int
	deliveredPerS  float64
	expected       int64 // Viewer-batches expected in the window.
	missing        int64 // Viewer-batches not received.
	droppedNotices int64
	closedViewers  int
	undelivered    int // Published in the window but in no batch.
	p50, p99       time.Duration
	d50, d99       time.Duration // Tick to receive.
	cpuSeconds     float64
	cpuPerMillion  float64
	rssBefore      int64
	rssAfter       int64
	rssPerViewer   float64
	wirePerDanmaku float64
	// The per-send phases, before the viewers connect and while they are
	// connected; zero when they were not run.
	sends0, sendsN sendCost
	rtt50, rtt99   time.Duration // Send round trips in the window.
	// storeGrowth is how much the store's bounded parts (block cache,
	// memtables) grew while the viewers connected and the window ran: it
	// is left out of rssPerViewer, since it comes from the sends.
	storeGrowth float64
	accepted    int64 // Sends accepted in the window.
}

// fanoutCPU returns the CPU per delivered danmaku (µs) without the send
// path: the window's CPU less its accepted sends at the per-send cost
// measured with the viewers connected; 0 when that was not measured.
func (r result) fanoutCPU() float64 {
	if r.sendsN.perSend <= 0 || r.cpuPerMillion <= 0 {
		return 0
	}
	delivered := r.cpuSeconds / r.cpuPerMillion // Millions.
	return max(r.cpuSeconds-float64(r.accepted)*r.sendsN.perSend/1e6, 0) / delivered
}

// withSends returns the floor's CPU per delivered danmaku (µs) had it
// also acknowledged sends durably: its window's CPU plus sends × perSend
// µs, over its deliveries; 0 when the floor delivered nothing.
func (r result) withSends(sends int64, perSend float64) float64 {
	if r.cpuPerMillion <= 0 {
		return 0
	}
	delivered := r.cpuSeconds / r.cpuPerMillion // Millions.
	return (r.cpuSeconds + float64(sends)*perSend/1e6) / delivered
}

// storeMemory returns danmakud_store_memory_bytes summed over its parts
// from the server at addr, 0 when it does not export them.
func storeMemory(addr string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := newProbe(addr, 0).scrape(ctx)
	if err != nil {
		return 0
	}
	var sum float64
	for k, v := range m {
		if strings.HasPrefix(k, "danmakud_store_memory_bytes{") {
			sum += v
		}
	}
	return sum
}

func (r result) print(name string) {
	fmt.Printf("\n== %s ==\n", name)
	fmt.Printf("viewers %d, published %d, delivered %.0f danmaku/s\n", r.viewers, r.published, r.deliveredPerS)
	loss := 0.0
	if r.expected > 0 {
		loss = float64(r.missing) / float64(r.expected)
	}
	fmt.Printf("loss: %d of %d viewer-batches (%.4f%%), dropped notices %d, viewers closed %d, published but never broadcast %d\n",
		r.missing, r.expected, 100*loss, r.droppedNotices, r.closedViewers, r.undelivered)
	fmt.Printf("latency send→receive: p50 %v, p99 %v; batch time→receive: p50 %v, p99 %v\n",
		r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.d50.Round(time.Millisecond), r.d99.Round(time.Millisecond))
	fmt.Printf("server CPU: %.2f s in window, %.3f s per million delivered danmaku\n", r.cpuSeconds, r.cpuPerMillion)
	fmt.Printf("server RSS: %.1f MiB before viewers, %.1f MiB with them, %.0f bytes per viewer (the store's cache and memtables grew %.1f MiB meanwhile, left out)\n",
		float64(r.rssBefore)/(1<<20), float64(r.rssAfter)/(1<<20), r.rssPerViewer, r.storeGrowth/(1<<20))
	fmt.Printf("wire: %.1f bytes per delivered danmaku\n", r.wirePerDanmaku)
	if r.sends0.sends > 0 || r.sendsN.sends > 0 {
		fmt.Printf("per-send CPU (sends to another room, idle CPU subtracted): %.0f µs with no viewers (%d sends), %.0f µs with %d viewers (%d sends); send round trip p50 %v, p99 %v\n",
			r.sends0.perSend, r.sends0.sends, r.sendsN.perSend, r.viewers, r.sendsN.sends, r.rtt50, r.rtt99)
		// A window shorter than the ping interval holds one of the room's
		// ping ticks or none, so the figure with viewers varies from run
		// to run; a -send-window of 30s takes the mean.
		fmt.Printf("idle server CPU (no sends, the mean of the phases' idle windows): %.1f ms/s with no viewers, %.1f ms/s with %d viewers\n", r.sends0.idle*1e3, r.sendsN.idle*1e3, r.viewers)
	}
}

// measure runs one configuration end to end.
func measure(o options, kind string) (result, error) {
	var res result
	srv, err := startServer(o, kind)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	time.Sleep(500 * time.Millisecond)
	store0 := storeMemory(srv.addr)
	res.rssBefore, err = procRSS(srv.pid())
	if err != nil {
		return res, err
	}
	start := time.Now()
	f := newFleet(start)
	sources := make([]net.IP, max(1, o.sources))
	for i := range sources {
		sources[i] = net.IPv4(127, 0, 0, byte(i+1))
	}
	if o.sendWindow > 0 {
		if res.sends0, err = sendPhase(o, srv, start); err != nil {
			return res, err
		}
	}
	url := "ws://" + srv.addr + "/danmu/ws/" + o.room + fmt.Sprintf("?v=%d", o.proto)
	fmt.Printf("%s: connecting %d viewers to %s\n", kind, o.viewers, srv.addr)
	if err := f.connect(context.Background(), url, o.viewers, o.dialConc, sources, kind != "baseline", o.deflate); err != nil {
		f.closeAll()
		return res, err
	}
	fmt.Printf("%s: %d viewers connected in %v\n", kind, f.open.Load(), time.Since(start).Round(time.Millisecond))
	res.viewers = len(f.viewers)

	pub := newPublisher(srv.addr, o.room, start)
	ctx, cancel := context.WithCancel(context.Background())
	var pubWG sync.WaitGroup
	if kind != "baseline" {
		pubWG.Go(func() { pub.run(ctx, o.rate) })
	}
	time.Sleep(o.warmup)
	winStart := time.Since(start).Nanoseconds()
	acc0 := pub.accepted.Load()
	cpu0, err := procCPU(srv.pid())
	if err != nil {
		cancel()
		return res, err
	}
	time.Sleep(o.duration)
	cpu1, err := procCPU(srv.pid())
	if err != nil {
		cancel()
		return res, err
	}
	winEnd := time.Since(start).Nanoseconds()
	res.accepted = pub.accepted.Load() - acc0
	res.rssAfter, _ = procRSS(srv.pid())
	res.storeGrowth = storeMemory(srv.addr) - store0
	cancel()
	pubWG.Wait()
	time.Sleep(2 * o.tick) // The last batches.
	if o.sendWindow > 0 {
		if res.sendsN, err = sendPhase(o, srv, start); err != nil {
			f.closeAll()
			return res, err
		}
	}
	f.closeAll()

	res.cpuSeconds = cpu1 - cpu0
	res.rssPerViewer = (float64(res.rssAfter-res.rssBefore) - res.storeGrowth) / float64(max(res.viewers, 1))
	analyse(&res, f, pub, winStart, winEnd)
	res.rtt50, res.rtt99 = pub.roundTrips()
	return res, nil
}

// sendPhase measures the server's CPU per send: o.sendWindow of sends at
// o.rate to a room nobody watches (the items still go through the store,
// the room's tick and its batch encoding) between two windows as long
// with no sends, and returns the sends' CPU less the mean of the idle
// windows' (pings to viewers fall in either), per accepted send in
// microseconds.
func sendPhase(o options, srv *server, start time.Time) (sendCost, error) {
	idle := func() (float64, error) {
		a, err := procCPU(srv.pid())
		if err != nil {
			return 0, err
		}
		time.Sleep(o.sendWindow)
		b, err := procCPU(srv.pid())
		return b - a, err
	}
	idle0, err := idle()
	if err != nil {
		return sendCost{}, err
	}
	pub := newPublisher(srv.sendAddr, o.room+"-sends", start)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { pub.run(ctx, o.rate) })
	time.Sleep(o.tick) // The first sends open the room.
	cpu0, err := procCPU(srv.pid())
	if err != nil {
		cancel()
		return sendCost{}, err
	}
	n0 := pub.accepted.Load()
	time.Sleep(o.sendWindow)
	cpu1, err := procCPU(srv.pid())
	n1 := pub.accepted.Load()
	cancel()
	wg.Wait()
	if err != nil {
		return sendCost{}, err
	}
	time.Sleep(o.tick) // The last sends' tick.
	idle1, err := idle()
	if err != nil {
		return sendCost{}, err
	}
	n := n1 - n0
	if n <= 0 {
		return sendCost{}, errors.New("per-send phase: no send accepted")
	}
	return sendCost{
		perSend: max((cpu1-cpu0)-(idle0+idle1)/2, 0) / float64(n) * 1e6,
		sends:   n,
		idle:    (idle0 + idle1) / 2 / o.sendWindow.Seconds(),
	}, nil
}

// sendCost is what one per-send phase measured.
type sendCost struct {
	perSend float64 // Server CPU per accepted send, µs, idle CPU subtracted.
	sends   int64   // Sends accepted in the phase.
	idle    float64 // Server CPU with no sends, cores.
}

// batchRef is the decoded form of one batch, as the bench needs it,
// in either shape (docs/protocol.md, "Batch shapes").
type batchRef struct {
	V     int         `json:"v"`
	Seq   uint64      `json:"seq"`
	At    int64       `json:"at"`
	Items []batchItem `json:"items"`
	sent  []int64     // Per item: when it was sent, ns since start.
	n     int         // Danmaku carried (folded counts included).
}

// batchItem is one item of a batch in either shape.
type batchItem struct {
	Content struct {
		Text string `json:"text"`
	} `json:"content"`
	CreatedAt int64  `json:"createdAt"`
	Count     int    `json:"count"`
	T         string `json:"t"` // The compact shape's text, createdAt-at and count.
	D         int64  `json:"d"`
	X         int    `json:"x"`
}

func (it batchItem) text() string {
	if it.T != "" {
		return it.T
	}
	return it.Content.Text
}

func (it batchItem) count() int { return max(it.Count, it.X, 1) }

// createdAt returns the item's createdAt in b.
func (b *batchRef) createdAt(it batchItem) int64 {
	if b.V == 2 {
		return b.At + it.D
	}
	return it.CreatedAt
}

// analyse turns the viewers' notes into the result.
func analyse(res *result, f *fleet, pub *publisher, winStart, winEnd int64) {
	refs := make(map[uint64]*batchRef, len(f.refs))
	seen := make(map[string]bool)
	for seq, p := range f.refs {
		var b batchRef
		if err := json.Unmarshal(p, &b); err != nil {
			continue
		}
		for _, it := range b.Items {
			seen[it.text()] = true
			b.sent = append(b.sent, pub.sentAt(it.text(), b.createdAt(it), f.start))
			b.n += it.count()
		}
		refs[seq] = &b
	}
	// Batches that some viewer received inside the window.
	inWindow := map[uint64]bool{}
	for _, v := range f.viewers {
		for _, e := range v.events {
			if e.at >= winStart && e.at < winEnd {
				inWindow[e.seq] = true
			}
		}
	}
	var delivered, wire int64
	hist := make([]int64, 60_001) // Milliseconds.
	var samples, dsamples int64
	dhist := make([]int64, 60_001)
	for _, v := range f.viewers {
		got := map[uint64]bool{}
		for _, e := range v.events {
			if !inWindow[e.seq] {
				continue
			}
			got[e.seq] = true
			b := refs[e.seq]
			if b == nil || e.at < winStart || e.at >= winEnd {
				continue
			}
			delivered += int64(b.n)
			wire += int64(e.bytes)
			ms := min(max((e.at-time.UnixMilli(b.At).Sub(f.start).Nanoseconds())/1e6, 0), int64(len(dhist)-1))
			dhist[ms]++
			dsamples++
			for _, s := range b.sent {
				ms := min(max((e.at-s)/1e6, 0), int64(len(hist)-1))
				hist[ms]++
				samples++
			}
		}
		res.expected += int64(len(inWindow))
		res.missing += int64(len(inWindow) - len(got))
		res.droppedNotices += int64(v.dropped)
		if v.closeCd != 0 {
			res.closedViewers++
		}
	}
	secs := float64(winEnd-winStart) / 1e9
	res.deliveredPerS = float64(delivered) / secs
	if delivered > 0 {
		res.cpuPerMillion = res.cpuSeconds / (float64(delivered) / 1e6)
		res.wirePerDanmaku = float64(wire) / float64(delivered)
	}
	res.p50 = percentile(hist, samples, 0.50)
	res.p99 = percentile(hist, samples, 0.99)
	res.d50 = percentile(dhist, dsamples, 0.50)
	res.d99 = percentile(dhist, dsamples, 0.99)
	res.published, res.undelivered = pub.count(seen, winStart, winEnd)
}

func percentile(hist []int64, total int64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	want := int64(float64(total) * q)
	var acc int64
	for ms, n := range hist {
		acc += n
		if acc > want {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return time.Duration(len(hist)-1) * time.Millisecond
}

// publisher sends danmaku at a steady rate and remembers when.
type publisher struct {
	urls  []string // Sends go to these in turn.
	room  string
	start time.Time
	cl    *http.Client
	mu    sync.Mutex
	gen   *itemGen
	sent  map[string]int64 // Text -> ns since start.
	ok    map[string]bool
	rtts  []int64 // Each send's round trip, ns.
	// Running totals, readable while it runs.
	accepted atomic.Int64 // Sends answered 2xx.
	failed   atomic.Int64 // Sends that failed or were refused.
	skipped  atomic.Int64 // Sends not made because the send queue was full.
}

func newPublisher(addr, room string, start time.Time) *publisher {
	return newPublisherTo([]string{addr}, room, start)
}

// newPublisherTo returns a publisher whose sends go to the servers at
// addrs in turn.
func newPublisherTo(addrs []string, room string, start time.Time) *publisher {
	urls := make([]string, len(addrs))
	for i, a := range addrs {
		urls[i] = "http://" + a + "/danmu/send"
	}
	return &publisher{
		urls:  urls,
		room:  room,
		start: start,
		gen:   newItemGen(benchSeed, start),
		cl:    &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		sent:  make(map[string]int64),
		ok:    make(map[string]bool),
	}
}

// run sends rate danmaku a second until ctx ends. The n-th send is due
// n/rate seconds after the start, and each wake-up queues every send that
// has fallen due, so a late wake-up does not lower the rate (a ticker
// drops the ticks its reader misses). A send that finds the queue full is
// skipped and counted.
func (p *publisher) run(ctx context.Context, rate int) {
	rate = max(rate, 1)
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for n := range jobs {
				p.send(n)
			}
		})
	}
	t0 := time.Now()
	for n := 0; ; {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return
		case <-t.C:
		}
		due := int(time.Since(t0) * time.Duration(rate) / time.Second)
		for ; n < due; n++ {
			select {
			case jobs <- n:
			default: // The server is not keeping up; the send is skipped.
				p.skipped.Add(1)
			}
		}
	}
}

func (p *publisher) send(n int) {
	it := p.gen.next()
	content := map[string]any{"text": it.Text, "color": it.Color, "size": it.Size, "position": it.Position, "time": seconds(it.TimeMs)}
	body, _ := json.Marshal(map[string]any{"objectId": p.room, "userId": it.UserID, "content": content})
	text := it.Text
	at := time.Since(p.start).Nanoseconds()
	resp, err := p.cl.Post(p.urls[n%len(p.urls)], "application/json", bytes.NewReader(body))
	rtt := time.Since(p.start).Nanoseconds() - at
	if err != nil {
		p.failed.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		p.accepted.Add(1)
	} else {
		p.failed.Add(1)
	}
	p.mu.Lock()
	p.sent[text] = at
	p.ok[text] = resp.StatusCode/100 == 2
	p.rtts = append(p.rtts, rtt)
	p.mu.Unlock()
}

// roundTrips returns the median and 99th percentile of the sends' round
// trips so far.
func (p *publisher) roundTrips() (p50, p99 time.Duration) {
	p.mu.Lock()
	rt := slices.Clone(p.rtts)
	p.mu.Unlock()
	if len(rt) == 0 {
		return 0, 0
	}
	slices.Sort(rt)
	at := func(q float64) time.Duration {
		return time.Duration(rt[min(int(float64(len(rt))*q), len(rt)-1)]).Round(100 * time.Microsecond)
	}
	return at(0.50), at(0.99)
}

// sentAt returns when text was sent; for the baseline's synthetic items
// it falls back to their createdAt.
func (p *publisher) sentAt(text string, createdAtMs int64, start time.Time) int64 {
	p.mu.Lock()
	at, ok := p.sent[text]
	p.mu.Unlock()
	if ok {
		return at
	}
	return time.UnixMilli(createdAtMs).Sub(start).Nanoseconds()
}

// count returns how many sends in the window were accepted and how many
// of those no batch carried.
func (p *publisher) count(seen map[string]bool, from, to int64) (published, undelivered int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	texts := make([]string, 0, len(p.sent))
	for t := range p.sent {
		texts = append(texts, t)
	}
	slices.Sort(texts)
	for _, t := range texts {
		at := p.sent[t]
		if at < from || at >= to || !p.ok[t] {
			continue
		}
		published++
		if !seen[t] {
			undelivered++
		}
	}
	return published, undelivered
}

// procCPU returns the user+system CPU seconds of pid.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	var ut, st float64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	const clkTck = 100 // USER_HZ on Linux.
	return (ut + st) / clkTck, nil
}

// procRSS returns the resident set size of pid in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS")
}
