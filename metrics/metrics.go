// Package metrics exposes danmakud's figures in the Prometheus format at
// /metrics. Counters that other packages keep (the hub's, the service's)
// are read when Prometheus scrapes, so the hot paths carry no extra work;
// only store latency is observed as it happens.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/danmakud/danmakud/live"
)

// Sources are the parts whose counters are exported. Nil fields are left
// out.
type Sources struct {
	Hub        func() live.Stats
	SendCounts func() map[string]uint64
	// Health returns a gauge per dependency: 1 when it is reachable.
	Health func() map[string]bool
}

// Metrics is a Prometheus registry with danmakud's collectors.
type Metrics struct {
	reg          *prometheus.Registry
	storeLatency *prometheus.HistogramVec
}

// New returns Metrics over src, with the Go runtime and process
// collectors.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "danmakud_store_seconds",
			Help:    "Latency of store operations by operation and result.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op", "result"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.storeLatency,
		&collector{src: src},
	)
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveStore records one store operation; the service calls it.
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.storeLatency.WithLabelValues(op, result).Observe(d.Seconds())
}

var (
	descViewers   = prometheus.NewDesc("danmakud_viewers", "Connected live viewers (WebSocket and SSE).", nil, nil)
	descRooms     = prometheus.NewDesc("danmakud_rooms", "Live rooms held in memory.", nil, nil)
	descSends     = prometheus.NewDesc("danmakud_sends_total", "Sends by outcome (accepted, masked, shadowed) or error code (refused, rate_limited, forbidden, unavailable…).", []string{"outcome"}, nil)
	descPublished = prometheus.NewDesc("danmakud_published_total", "Danmaku handed to the live fan-out.", nil, nil)
	descBroadcast = prometheus.NewDesc("danmakud_broadcast_total", "Items sent in live batches (a folded item counts once).", nil, nil)
	descFolded    = prometheus.NewDesc("danmakud_folded_total", "Danmaku folded into an identical item of the same tick.", nil, nil)
	descDropped   = prometheus.NewDesc("danmakud_dropped_total", "Danmaku or batches not delivered live, by reason.", []string{"reason"}, nil)
	descSlow      = prometheus.NewDesc("danmakud_slow_disconnects_total", "Viewers disconnected for falling behind.", nil, nil)
	descTicks     = prometheus.NewDesc("danmakud_ticks_total", "Room ticks run.", nil, nil)
	descBatches   = prometheus.NewDesc("danmakud_batches_total", "Live batches made (one per tick with danmaku).", nil, nil)
	descLate      = prometheus.NewDesc("danmakud_late_ticks_total", "Ticks that ran more than half an interval late.", nil, nil)
	descLag       = prometheus.NewDesc("danmakud_tick_lag_max_seconds", "The latest any tick ran since the start.", nil, nil)
	descBytes     = prometheus.NewDesc("danmakud_delivery_bytes_total", "Bytes of live messages written to viewers.", nil, nil)
	descUp        = prometheus.NewDesc("danmakud_dependency_up", "1 when a dependency is reachable, 0 when not.", []string{"dependency"}, nil)
)

// collector reads the counters of the sources at scrape time.
type collector struct{ src Sources }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Hub != nil {
		s := c.src.Hub()
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
		}
		gauge(descViewers, float64(s.Viewers))
		gauge(descRooms, float64(s.Rooms))
		counter(descPublished, s.Published)
		counter(descBroadcast, s.Broadcast)
		counter(descFolded, s.Folded)
		counter(descDropped, s.DroppedByCap, "tick_cap")
		counter(descDropped, s.DroppedPending, "pending_bound")
		counter(descDropped, s.DroppedBatches, "slow_viewer")
		counter(descSlow, s.SlowDisconnects)
		counter(descTicks, s.Ticks)
		counter(descBatches, s.Batches)
		counter(descLate, s.LateTicks)
		counter(descBytes, s.BytesWritten)
		gauge(descLag, s.MaxTickLag.Seconds())
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
