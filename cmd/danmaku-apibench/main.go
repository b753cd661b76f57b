// Command danmaku-apibench measures the HTTP API of a real danmakud process
// and reports each figure as a ratio against a baseline measured in the
// same run:
//
//   - send: requests a second of POST /danmu/send (validated, fsynced)
//     against POST /bench/noop (reads the body, answers {}) on the same
//     server with the same client;
//   - query: latency of GET /danmu/queryByTime (page of 20) on one video
//     holding -video-size danmaku, then again after the store has grown to
//     -total danmaku across other videos. With -settle (the default) the
//     store is compacted after each bulk load, as background compactions
//     would do in time, so that the reads do not share the CPU with the
//     compaction debt of a load made in minutes.
//
// It builds danmakud from ./cmd/danmakud unless -bin names a binary.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/store/pebble"
)

type config struct {
	bin         string
	mode        string
	duration    time.Duration
	concurrency int
	rounds      int
	videoSize   int
	total       int
	queries     int
	keep        bool
	settle      bool
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "danmakud binary (default: go build ./cmd/danmakud)")
	flag.StringVar(&c.mode, "mode", "all", "send, query or all")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of each send measurement")
	flag.IntVar(&c.concurrency, "concurrency", 64, "concurrent clients for the send measurement")
	flag.IntVar(&c.rounds, "rounds", 2, "alternating baseline/send rounds")
	flag.IntVar(&c.videoSize, "video-size", 1_000_000, "danmaku in the queried video")
	flag.IntVar(&c.total, "total", 10_000_000, "danmaku in the whole store for the second query measurement")
	flag.IntVar(&c.queries, "queries", 5000, "queries per latency measurement")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary data directory")
	flag.BoolVar(&c.settle, "settle", true, "compact the store after each bulk load, before measuring queries")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "danmaku-apibench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	tmp, err := os.MkdirTemp("", "danmaku-apibench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(tmp)
	}
	if c.bin == "" {
		if c.bin, err = testenv.Build(context.Background(), tmp); err != nil {
			return fmt.Errorf("%w (run from the repository root or pass -bin)", err)
		}
	}
	if c.mode == "send" || c.mode == "all" {
		if err := benchSend(c, filepath.Join(tmp, "send")); err != nil {
			return err
		}
	}
	if c.mode == "query" || c.mode == "all" {
		if err := benchQuery(c, filepath.Join(tmp, "query")); err != nil {
			return err
		}
	}
	return nil
}

// startServer starts bin on a free loopback port with its data in dataDir,
// warnings and errors to standard error, and the extra flags, and waits
// until it is healthy.
func startServer(bin, dataDir string, extra ...string) (*testenv.Server, error) {
	args := append([]string{"-data", dataDir, "-log-level", "warn"}, extra...)
	return testenv.StartServer(context.Background(), testenv.ServerConfig{Bin: bin, Args: args, Log: os.Stderr})
}

// newClient returns a keep-alive client that keeps cookies, as a browser
// does: the server gives it one anonymous id, not one per request.
func newClient(conc int) *http.Client {
	jar, _ := cookiejar.New(nil) // New never fails without options.
	return &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
}

// hammer posts bodies to url from conc goroutines for d and returns the
// successful requests a second.
func hammer(client *http.Client, url string, conc int, d time.Duration, body func(i int) []byte) (float64, error) {
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += conc {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body(i)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%d requests failed, first: %v", n, firstErr.Load())
	}
	return float64(ok.Load()) / elapsed, nil
}

func benchSend(c config, dataDir string) error {
	srv, err := startServer(c.bin, dataDir, "-bench-noop", "-rate-limits=false")
	if err != nil {
		return err
	}
	defer srv.Close()
	client := newClient(c.concurrency)
	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"objectId":"bench%d","userId":"u%d","ownerId":"o","content":{"text":"弹幕 %d 前方高能","color":"#ffffff","size":"25px","position":1,"time":%d.%03d}}`,
			i%16, i%1000, i, i%600, i%1000)
	}
	fmt.Printf("send: %d clients, %d rounds of %s each (baseline, then send)\n", c.concurrency, c.rounds, c.duration)
	var base, send []float64
	for r := 0; r < c.rounds; r++ {
		b, err := hammer(client, srv.URL()+"/bench/noop", c.concurrency, c.duration, body)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		s, err := hammer(client, srv.URL()+"/danmu/send", c.concurrency, c.duration, body)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		fmt.Printf("  round %d: no-op %8.0f req/s   send %8.0f req/s   ratio %.2f\n", r+1, b, s, s/b)
		base, send = append(base, b), append(send, s)
	}
	mb, ms := mean(base), mean(send)
	fmt.Printf("send result: no-op %.0f req/s, send %.0f req/s, ratio %.2f (target ≥ 0.50)\n", mb, ms, ms/mb)
	return nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// videoLengthMs is the playback length of the generated videos: two hours.
const videoLengthMs = 2 * 3600 * 1000

// settle compacts the store in dataDir (the server is not running) and
// reports how long it took.
func settle(dataDir string) error {
	st, err := pebble.Open(dataDir, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := st.Compact(context.Background()); err != nil {
		_ = st.Close()
		return err
	}
	fmt.Printf("  compacted in %v\n", time.Since(start).Round(time.Second))
	return st.Close()
}

// load adds n danmaku to video objectID directly through the Pebble store
// (the server is not running), in batches.
func load(dataDir, objectID string, n int, gen *danmaku.IDGen) error {
	st, err := pebble.Open(dataDir, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	const batch = 5000
	buf := make([]*danmaku.Danmaku, 0, batch)
	rng := rand.New(rand.NewPCG(uint64(n), uint64(len(objectID))))
	for i := 0; i < n; i++ {
		t := danmaku.Time(rng.IntN(videoLengthMs))
		id := gen.Next(t)
		buf = append(buf, &danmaku.Danmaku{
			ID: id, ObjectID: objectID, UserID: fmt.Sprintf("u%d", rng.IntN(100_000)), OwnerID: "owner",
			Content:   danmaku.Content{Text: fmt.Sprintf("弹幕 %d 前方高能", i), Color: danmaku.White, Size: 25, Position: 1, Time: t},
			CreatedAt: id.UnixMs,
		})
		if len(buf) == batch || i == n-1 {
			if _, err := st.PutBatch(context.Background(), buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// latencies runs q sequential page-of-20 queries at random playback times
// and returns their latencies, sorted.
func latencies(base, objectID string, q int) ([]time.Duration, error) {
	client := newClient(1)
	out := make([]time.Duration, 0, q)
	for i := 0; i < q; i++ {
		t := rand.IntN(videoLengthMs)
		url := fmt.Sprintf("%s/danmu/queryByTime/%s?playingTime=%d.%03d&size=20", base, objectID, t/1000, t%1000)
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("query: %s", resp.Status)
		}
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out, nil
}

func pct(xs []time.Duration, p float64) time.Duration {
	return xs[min(len(xs)-1, int(float64(len(xs))*p))]
}

func measureQueries(c config, dataDir, label string) (time.Duration, error) {
	srv, err := startServer(c.bin, dataDir)
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	if _, err := latencies(srv.URL(), "big", c.queries/5); err != nil { // Warm up.
		return 0, err
	}
	lat, err := latencies(srv.URL(), "big", c.queries)
	if err != nil {
		return 0, err
	}
	fmt.Printf("  %s: p50 %v  p90 %v  p99 %v  max %v\n", label, pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), lat[len(lat)-1])
	return pct(lat, 0.99), nil
}

func benchQuery(c config, dataDir string) error {
	gen := danmaku.NewIDGen(nil)
	fmt.Printf("query: loading %d danmaku into video \"big\"\n", c.videoSize)
	start := time.Now()
	if err := load(dataDir, "big", c.videoSize, gen); err != nil {
		return err
	}
	fmt.Printf("  loaded in %v\n", time.Since(start).Round(time.Second))
	if c.settle {
		if err := settle(dataDir); err != nil {
			return err
		}
	}
	p99small, err := measureQueries(c, dataDir, fmt.Sprintf("%d in the store", c.videoSize))
	if err != nil {
		return err
	}
	rest := c.total - c.videoSize
	fmt.Printf("query: loading %d more danmaku into 100 other videos\n", rest)
	start = time.Now()
	for v := 0; v < 100 && rest > 0; v++ {
		if err := load(dataDir, fmt.Sprintf("other%03d", v), rest/100, gen); err != nil {
			return err
		}
	}
	fmt.Printf("  loaded in %v\n", time.Since(start).Round(time.Second))
	if c.settle {
		if err := settle(dataDir); err != nil {
			return err
		}
	}
	p99big, err := measureQueries(c, dataDir, fmt.Sprintf("%d in the store", c.total))
	if err != nil {
		return err
	}
	fmt.Printf("query result: p99 %v at %d, %v at %d total, ratio %.2f (targets: p99 ≤ 5ms, ratio ≤ 2)\n",
		p99small, c.videoSize, p99big, c.total, float64(p99big)/float64(p99small))
	return nil
}
