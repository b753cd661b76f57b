package metrics_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	redisbroker "github.com/danmakud/danmakud/broker/redis"
	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/metrics"
	"github.com/danmakud/danmakud/store/pebble"
)

// scrape is one read of /metrics: the value of each series, keyed by its
// name and labels as written (danmakud_dropped_total{reason="tick_cap"}),
// and the HELP text of each metric.
type scrape struct {
	values map[string]float64
	help   map[string]string
}

// scrapeMetrics reads m's handler as Prometheus does.
func scrapeMetrics(t *testing.T, m *metrics.Metrics) scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	s := scrape{values: map[string]float64{}, help: map[string]string{}}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(rest, " ")
			s.help[name] = text
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		s.values[line[:i]] = v
	}
	return s
}

// get returns a series' value and fails the test if it is missing.
func (s scrape) get(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s.values[series]
	if !ok {
		t.Fatalf("no series %s in /metrics", series)
	}
	return v
}

// clusterSeries are the series a cluster node exports beyond a single
// node's.
var clusterSeries = []string{
	"danmakud_cluster_fallback_total",
	"danmakud_cluster_outages_total",
	`danmakud_cluster_redis_errors_total{op="append"}`,
	`danmakud_cluster_redis_errors_total{op="follow"}`,
	`danmakud_cluster_redis_errors_total{op="lead"}`,
	`danmakud_cluster_redis_errors_total{op="delete"}`,
	`danmakud_cluster_redis_errors_total{op="state"}`,
	`danmakud_cluster_redis_errors_total{op="ping"}`,
	`danmakud_cluster_bad_entries_total{stream="in"}`,
	`danmakud_cluster_bad_entries_total{stream="out"}`,
	"danmakud_cluster_leader_batches_total",
	"danmakud_cluster_takeovers_total",
	`danmakud_cluster_leases_lost_total{reason="expired"}`,
	`danmakud_cluster_leases_lost_total{reason="state_moved"}`,
	`danmakud_cluster_leases_lost_total{reason="redis"}`,
	"danmakud_cluster_led_rooms",
	"danmakud_cluster_candidate_rooms",
	"danmakud_cluster_followed_rooms",
}

func TestClusterFiguresAddUp(t *testing.T) {
	hub := live.Stats{Published: 2, Folded: 1, DroppedByCap: 3, DroppedPending: 4, Batches: 6}
	node := redisbroker.StatsSnapshot{
		Published: 10, Fallback: 2, Outages: 1, Batches: 5, Takeovers: 2,
		LostLease: 1, LostState: 0, LostRedis: 1,
		Folded: 7, DroppedByCap: 8, DroppedPending: 9,
		BadInput: 1, BadOutput: 2,
		RedisErrors:    map[string]uint64{"append": 1, "follow": 2, "lead": 3, "delete": 0, "state": 0, "ping": 4},
		LedRooms:       1,
		CandidateRooms: 3,
		FollowedRooms:  2,
	}
	m := metrics.New(metrics.Sources{
		Hub:     func() live.Stats { return hub },
		Cluster: func() redisbroker.StatsSnapshot { return node },
	})
	s := scrapeMetrics(t, m)
	want := map[string]float64{
		// The hub's figures plus the node's: in a cluster the node
		// publishes to Redis and its ticks as leader fold and cap.
		"danmakud_published_total":                           12,
		"danmakud_folded_total":                              8,
		`danmakud_dropped_total{reason="tick_cap"}`:          11,
		`danmakud_dropped_total{reason="pending_bound"}`:     13,
		"danmakud_batches_total":                             6,
		"danmakud_cluster_fallback_total":                    2,
		"danmakud_cluster_outages_total":                     1,
		`danmakud_cluster_redis_errors_total{op="follow"}`:   2,
		`danmakud_cluster_redis_errors_total{op="ping"}`:     4,
		`danmakud_cluster_bad_entries_total{stream="in"}`:    1,
		`danmakud_cluster_bad_entries_total{stream="out"}`:   2,
		"danmakud_cluster_leader_batches_total":              5,
		"danmakud_cluster_takeovers_total":                   2,
		`danmakud_cluster_leases_lost_total{reason="redis"}`: 1,
		"danmakud_cluster_led_rooms":                         1,
		"danmakud_cluster_candidate_rooms":                   3,
		"danmakud_cluster_followed_rooms":                    2,
	}
	for series, v := range want {
		if got := s.get(t, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	for _, series := range clusterSeries {
		s.get(t, series)
		name, _, _ := strings.Cut(series, "{")
		if s.help[name] == "" {
			t.Errorf("%s has no HELP text", name)
		}
	}

	// A single node exports no cluster figures.
	single := scrapeMetrics(t, metrics.New(metrics.Sources{Hub: func() live.Stats { return hub }}))
	if got := single.get(t, "danmakud_published_total"); got != 2 {
		t.Errorf("single node: published %v, want the hub's 2", got)
	}
	for series := range single.values {
		if strings.HasPrefix(series, "danmakud_cluster_") {
			t.Errorf("single node exports %s", series)
		}
	}
}

// testRedis returns the Redis of the test run (testenv.RedisAddr).
func testRedis(t *testing.T) string {
	t.Helper()
	return testenv.RedisAddr(t)
}

// clusterNode is a live hub in cluster mode on Redis at addr, its node,
// the metrics over both, and an HTTP server for viewers.
type clusterNode struct {
	hub  *live.Hub
	node *redisbroker.Node
	m    *metrics.Metrics
	srv  *httptest.Server
}

// startNode runs a cluster node under a key prefix of its own; the prefix's
// keys are removed when the test ends.
func startNode(t *testing.T, addr string, tick time.Duration) *clusterNode {
	t.Helper()
	hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: tick, MaxPerTick: 100}})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redisbroker.NewClient(addr)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "dmtest-metrics-" + hex.EncodeToString(b[:])
	node, err := redisbroker.New(redisbroker.Config{Client: rdb, Hub: hub, NodeID: "m1", Prefix: prefix, Poll: 50 * time.Millisecond, LeaseTTL: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hub.SetRemote(node)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /danmu/ws/{objectId}", hub.ServeWS)
	cn := &clusterNode{hub: hub, node: node, srv: httptest.NewServer(mux)}
	cn.m = metrics.New(metrics.Sources{Hub: hub.Stats, Cluster: node.Stats})
	t.Cleanup(func() {
		cn.srv.Close()
		_ = node.Close()
		_ = hub.Close()
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, prefix+":*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return cn
}

// watch connects a WebSocket viewer to room and reads its welcome.
func (cn *clusterNode) watch(t *testing.T, room string) *wsclient.Conn {
	t.Helper()
	conn, err := wsclient.Dial(context.Background(), "ws"+strings.TrimPrefix(cn.srv.URL, "http")+"/danmu/ws/"+room, wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	return conn
}

var ids = danmaku.NewIDGenNode(5, time.Now)

func newDanmaku(room, user, text string) *danmaku.Danmaku {
	return &danmaku.Danmaku{
		ID: ids.Next(0), ObjectID: room, UserID: user, CreatedAt: time.Now().UnixMilli(),
		Content: danmaku.Content{Text: text, Color: danmaku.White, Size: danmaku.SizeMedium, Position: danmaku.ModeScroll},
	}
}

// waitScrape scrapes m until cond holds for the scrape, and returns it.
func waitScrape(t *testing.T, m *metrics.Metrics, what string, cond func(scrape) bool) scrape {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := scrapeMetrics(t, m)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last scrape: %v", what, s.values)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterNodeFigures(t *testing.T) {
	const tick = 500 * time.Millisecond
	cn := startNode(t, testRedis(t), tick)
	before := scrapeMetrics(t, cn.m)
	for _, series := range []string{"danmakud_published_total", "danmakud_cluster_leader_batches_total", "danmakud_cluster_led_rooms"} {
		if v := before.get(t, series); v != 0 {
			t.Fatalf("%s = %v before any danmaku", series, v)
		}
	}
	cn.watch(t, "room")
	waitScrape(t, cn.m, "the node to lead the followed room", func(s scrape) bool {
		return s.values["danmakud_cluster_led_rooms"] == 1 && s.values["danmakud_cluster_followed_rooms"] == 1
	})

	// Five danmaku, two of them repeats, sent early in one tick interval
	// so that the leader merges them into one batch.
	time.Sleep(time.Duration(tick.Milliseconds()-time.Now().UnixMilli()%tick.Milliseconds())*time.Millisecond + 20*time.Millisecond)
	for i, text := range []string{"a", "b", "a", "c", "a"} {
		if err := cn.node.Publish(context.Background(), newDanmaku("room", "u"+strconv.Itoa(i), text), false); err != nil {
			t.Fatal(err)
		}
	}
	s := waitScrape(t, cn.m, "the leader's batch to be fanned out", func(s scrape) bool {
		return s.values["danmakud_cluster_leader_batches_total"] >= 1 && s.values["danmakud_batches_total"] >= 1
	})
	want := map[string]float64{
		"danmakud_published_total":              5,
		"danmakud_folded_total":                 2,
		"danmakud_cluster_leader_batches_total": 1,
		"danmakud_batches_total":                1,
		"danmakud_broadcast_total":              3,
		"danmakud_cluster_takeovers_total":      1,
		"danmakud_cluster_led_rooms":            1,
		"danmakud_cluster_candidate_rooms":      1,
		"danmakud_cluster_followed_rooms":       1,
		"danmakud_cluster_fallback_total":       0,
		"danmakud_cluster_outages_total":        0,
	}
	for series, v := range want {
		if got := s.get(t, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	if st := cn.hub.Stats(); st.Published != 0 {
		t.Errorf("the hub itself counted %d published danmaku: cluster sends went to it", st.Published)
	}
}

func TestClusterNodeFiguresWithoutRedis(t *testing.T) {
	cn := startNode(t, "127.0.0.1:1", 100*time.Millisecond) // Nothing listens there.
	cn.watch(t, "room")
	for i := range 3 {
		if err := cn.node.Publish(context.Background(), newDanmaku("room", "u", "local"+strconv.Itoa(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	s := waitScrape(t, cn.m, "the local batch", func(s scrape) bool { return s.values["danmakud_batches_total"] >= 1 })
	want := map[string]float64{
		"danmakud_published_total":              3,
		"danmakud_cluster_fallback_total":       3,
		"danmakud_cluster_outages_total":        1,
		"danmakud_cluster_leader_batches_total": 0,
		"danmakud_cluster_led_rooms":            0,
		"danmakud_cluster_takeovers_total":      0,
	}
	for series, v := range want {
		if got := s.get(t, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	if got := s.get(t, `danmakud_cluster_redis_errors_total{op="ping"}`); got < 1 {
		t.Errorf("ping errors = %v, want at least the failed ping at start", got)
	}
}

// TestStoreMemoryFromARealStore exports a Pebble store's block cache and
// memtables, with their bounds, as the soak reads them.
func TestStoreMemoryFromARealStore(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := &danmaku.Danmaku{ID: danmaku.NewIDGen(nil).Next(0), ObjectID: "v1", UserID: "u1", Content: danmaku.Content{Text: "hello"}}
	if err := st.Put(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Sources{StoreMemory: func() metrics.StoreMemory {
		s := st.Memory()
		return metrics.StoreMemory{BlockCache: s.BlockCache, BlockCacheLimit: s.BlockCacheLimit, MemTables: s.MemTables, MemTablesLimit: s.MemTablesLimit, OnGoHeap: s.OnGoHeap}
	}})
	got := scrapeMetrics(t, m).values
	onGo := "0"
	if st.Memory().OnGoHeap {
		onGo = "1"
	}
	mem := got[`danmakud_store_memory_bytes{on_go_heap="`+onGo+`",part="memtables"}`]
	limit := got[`danmakud_store_memory_limit_bytes{part="memtables"}`]
	if mem <= 0 || limit < mem {
		t.Errorf("memtables %v bytes, bound %v: want some, within the bound", mem, limit)
	}
	if _, ok := got[`danmakud_store_memory_bytes{on_go_heap="`+onGo+`",part="block_cache"}`]; !ok || got[`danmakud_store_memory_limit_bytes{part="block_cache"}`] <= 0 {
		t.Errorf("block cache figures missing: %v", got)
	}
}

func TestGoHeapLiveAndGoal(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	runtime.GC()
	got := scrapeMetrics(t, m).values
	live, goal := got["go_gc_heap_live_bytes"], got["go_gc_heap_goal_bytes"]
	if live <= 0 || goal < live {
		t.Errorf("go_gc_heap_live_bytes %v, go_gc_heap_goal_bytes %v: want a live heap and a goal at least as large", live, goal)
	}
	if got["go_memstats_heap_inuse_bytes"] <= 0 {
		t.Errorf("the default Go metrics are gone: go_memstats_heap_inuse_bytes = %v", got["go_memstats_heap_inuse_bytes"])
	}
}
