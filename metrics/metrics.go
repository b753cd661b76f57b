// Package metrics exposes danmakud's figures in the Prometheus format at
// /metrics. Counters that other packages keep (the hub's, the service's,
// the cluster node's) are read when Prometheus scrapes, so the hot paths
// carry no extra work; only store latency is observed as it happens.
package metrics

import (
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	redisbroker "github.com/danmakud/danmakud/broker/redis"
	"github.com/danmakud/danmakud/live"
)

// Sources are the parts whose counters are exported. Nil fields are left
// out.
type Sources struct {
	Hub        func() live.Stats
	SendCounts func() map[string]uint64
	// Health returns a gauge per dependency: 1 when it is reachable.
	Health func() map[string]bool
	// Cluster returns the counters of the node's Redis cluster broker; it
	// is nil for a single node. Its published, folded and dropped danmaku
	// are added to the hub's, which in cluster mode sees only the ones
	// handled locally while Redis is down, and the rest are exported as
	// danmakud_cluster_* figures.
	Cluster func() redisbroker.StatsSnapshot
	// StoreMemory returns the store's memory outside ordinary Go objects
	// (Pebble's block cache and memtables), each part with its bound; nil
	// for stores without such memory.
	StoreMemory func() StoreMemory
	// Store is the histogram of store latencies that the service observes
	// into as its calls happen; nil makes one, fed by Metrics.ObserveStore.
	Store *StoreLatency
}

// StoreLatency is the histogram of store operations' latencies by
// operation and result. It is made before the service that observes into
// it, and exported by the Metrics made after the service.
type StoreLatency struct {
	h *prometheus.HistogramVec
}

// NewStoreLatency returns an empty histogram.
func NewStoreLatency() *StoreLatency {
	return &StoreLatency{h: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "danmakud_store_seconds",
		Help:    "Latency of store operations by operation and result.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
	}, []string{"op", "result"})}
}

// Observe records one store operation; service.Options.ObserveStore takes
// it.
func (l *StoreLatency) Observe(op string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	l.h.WithLabelValues(op, result).Observe(d.Seconds())
}

// StoreMemory is a store's memory that grows in steps to a bound rather
// than with the load: Pebble's block cache and memtables. OnGoHeap is
// set when it is allocated on the Go heap (then part of go_memstats_*),
// clear when it is C memory (then only in the process's RSS).
type StoreMemory struct {
	BlockCache, BlockCacheLimit int64
	MemTables, MemTablesLimit   int64
	OnGoHeap                    bool
}

// Metrics is a Prometheus registry with danmakud's collectors.
type Metrics struct {
	reg          *prometheus.Registry
	storeLatency *StoreLatency
}

// New returns Metrics over src, with the Go runtime and process
// collectors.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	if src.Store == nil {
		src.Store = NewStoreLatency()
	}
	m := &Metrics{reg: reg, storeLatency: src.Store}
	// Besides the Go collector's defaults: the heap that the last garbage
	// collection marked live (go_gc_heap_live_bytes), which is what grows
	// when memory leaks, and the heap size at which the next one starts
	// (go_gc_heap_goal_bytes), which bounds what the runtime keeps
	// besides it.
	heap := collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/(live|goal):bytes$`)}
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(heap)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.storeLatency.h,
		&collector{src: src},
	)
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveStore records one store operation in the histogram of
// Sources.Store.
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	m.storeLatency.Observe(op, d, err)
}

var (
	descViewers   = prometheus.NewDesc("danmakud_viewers", "Connected live viewers (WebSocket and SSE).", nil, nil)
	descRooms     = prometheus.NewDesc("danmakud_rooms", "Live rooms held in memory.", nil, nil)
	descSends     = prometheus.NewDesc("danmakud_sends_total", "Sends by outcome (accepted, masked) or error code (refused, rate_limited, forbidden, unavailable…).", []string{"outcome"}, nil)
	descPublished = prometheus.NewDesc("danmakud_published_total", "Danmaku handed to the live fan-out: to the local hub, or in a cluster to the room's Redis input stream.", nil, nil)
	descBroadcast = prometheus.NewDesc("danmakud_broadcast_total", "Items in the live batches fanned out to this node's viewers (a folded item counts once).", nil, nil)
	descFolded    = prometheus.NewDesc("danmakud_folded_total", "Danmaku folded into an identical item of the same tick, in ticks this node merged (in a cluster, as the room's leader).", nil, nil)
	descDropped   = prometheus.NewDesc("danmakud_dropped_total", "Danmaku or batches not delivered live, by reason (tick_cap and pending_bound in ticks this node merged, slow_viewer for this node's viewers).", []string{"reason"}, nil)
	descSlow      = prometheus.NewDesc("danmakud_slow_disconnects_total", "Viewers disconnected for falling behind.", nil, nil)
	descSilent    = prometheus.NewDesc("danmakud_silent_disconnects_total", "WebSocket viewers disconnected for sending nothing, not even a pong, for 3 ping intervals.", nil, nil)
	descTicks     = prometheus.NewDesc("danmakud_ticks_total", "Room ticks run.", nil, nil)
	descBatches   = prometheus.NewDesc("danmakud_batches_total", "Live batches fanned out to this node's viewers: made by its own ticks, or in a cluster received from the room's leader.", nil, nil)
	descLate      = prometheus.NewDesc("danmakud_late_ticks_total", "Ticks that ran more than half an interval late.", nil, nil)
	descLag       = prometheus.NewDesc("danmakud_tick_lag_max_seconds", "The latest any tick ran since the start.", nil, nil)
	descBytes     = prometheus.NewDesc("danmakud_delivery_bytes_total", "Bytes of live messages written to viewers.", nil, nil)
	descStoreMem  = prometheus.NewDesc("danmakud_store_memory_bytes", "Store memory that grows in steps to a bound (Pebble's block cache and memtables), by part; on_go_heap is 1 when it is part of the Go heap, 0 when it is C memory.", []string{"part", "on_go_heap"}, nil)
	descStoreLim  = prometheus.NewDesc("danmakud_store_memory_limit_bytes", "The bound of each part of danmakud_store_memory_bytes.", []string{"part"}, nil)
	descUp        = prometheus.NewDesc("danmakud_dependency_up", "1 when a dependency is reachable, 0 when not.", []string{"dependency"}, nil)

	descClusterFallback  = prometheus.NewDesc("danmakud_cluster_fallback_total", "Danmaku this cluster node handed to its own viewers only (local mode) because Redis was unreachable.", nil, nil)
	descClusterOutages   = prometheus.NewDesc("danmakud_cluster_outages_total", "Times this cluster node found Redis unreachable and switched to local mode.", nil, nil)
	descClusterErrors    = prometheus.NewDesc("danmakud_cluster_redis_errors_total", "Failed Redis calls of this cluster node by operation (append, follow, lead, delete, state, ping).", []string{"op"}, nil)
	descClusterBad       = prometheus.NewDesc("danmakud_cluster_bad_entries_total", "Room stream entries that did not decode, by stream (in: skipped as leader; out: not delivered).", []string{"stream"}, nil)
	descClusterBatches   = prometheus.NewDesc("danmakud_cluster_leader_batches_total", "Batches this cluster node committed to rooms' output streams as their leader.", nil, nil)
	descClusterTakeovers = prometheus.NewDesc("danmakud_cluster_takeovers_total", "Times this cluster node took a room's lease and became its leader.", nil, nil)
	descClusterLost      = prometheus.NewDesc("danmakud_cluster_leases_lost_total", "Times this cluster node stopped leading a room without giving its lease up, by reason (expired, state_moved, redis).", []string{"reason"}, nil)
	descClusterLed       = prometheus.NewDesc("danmakud_cluster_led_rooms", "Rooms whose lease this cluster node holds.", nil, nil)
	descClusterCandidate = prometheus.NewDesc("danmakud_cluster_candidate_rooms", "Rooms this cluster node competes to lead (watched here or sent to here lately), led ones included.", nil, nil)
	descClusterFollowed  = prometheus.NewDesc("danmakud_cluster_followed_rooms", "Rooms whose output stream this cluster node reads, one pooled Redis connection each.", nil, nil)
)

// collector reads the counters of the sources at scrape time.
type collector struct{ src Sources }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	var cs redisbroker.StatsSnapshot // Zero for a single node.
	if c.src.Cluster != nil {
		cs = c.src.Cluster()
		collectCluster(cs, gauge, counter)
	}
	if c.src.Hub != nil {
		s := c.src.Hub()
		// In a cluster, danmaku go to Redis rather than to the hub, and the
		// room's leader, not the hub, folds and caps them.
		s.Published += cs.Published
		s.Folded += cs.Folded
		s.DroppedByCap += cs.DroppedByCap
		s.DroppedPending += cs.DroppedPending
		gauge(descViewers, float64(s.Viewers))
		gauge(descRooms, float64(s.Rooms))
		counter(descPublished, s.Published)
		counter(descBroadcast, s.Broadcast)
		counter(descFolded, s.Folded)
		counter(descDropped, s.DroppedByCap, "tick_cap")
		counter(descDropped, s.DroppedPending, "pending_bound")
		counter(descDropped, s.DroppedBatches, "slow_viewer")
		counter(descSlow, s.SlowDisconnects)
		counter(descSilent, s.SilentDisconnects)
		counter(descTicks, s.Ticks)
		counter(descBatches, s.Batches)
		counter(descLate, s.LateTicks)
		counter(descBytes, s.BytesWritten)
		gauge(descLag, s.MaxTickLag.Seconds())
	}
	if c.src.StoreMemory != nil {
		m := c.src.StoreMemory()
		heap := "0"
		if m.OnGoHeap {
			heap = "1"
		}
		gauge(descStoreMem, float64(m.BlockCache), "block_cache", heap)
		gauge(descStoreMem, float64(m.MemTables), "memtables", heap)
		gauge(descStoreLim, float64(m.BlockCacheLimit), "block_cache")
		gauge(descStoreLim, float64(m.MemTablesLimit), "memtables")
	}
	if c.src.SendCounts != nil {
		for outcome, n := range c.src.SendCounts() {
			ch <- prometheus.MustNewConstMetric(descSends, prometheus.CounterValue, float64(n), outcome)
		}
	}
	if c.src.Health != nil {
		for dep, up := range c.src.Health() {
			v := 0.0
			if up {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, v, dep)
		}
	}
}

// collectCluster exports the figures of a cluster node that a single node
// has no equivalent for.
func collectCluster(cs redisbroker.StatsSnapshot, gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	counter(descClusterFallback, cs.Fallback)
	counter(descClusterOutages, cs.Outages)
	for op, n := range cs.RedisErrors {
		counter(descClusterErrors, n, op)
	}
	counter(descClusterBad, cs.BadInput, "in")
	counter(descClusterBad, cs.BadOutput, "out")
	counter(descClusterBatches, cs.Batches)
	counter(descClusterTakeovers, cs.Takeovers)
	counter(descClusterLost, cs.LostLease, "expired")
	counter(descClusterLost, cs.LostState, "state_moved")
	counter(descClusterLost, cs.LostRedis, "redis")
	gauge(descClusterLed, float64(cs.LedRooms))
	gauge(descClusterCandidate, float64(cs.CandidateRooms))
	gauge(descClusterFollowed, float64(cs.FollowedRooms))
}
