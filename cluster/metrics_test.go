package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	goredis "github.com/redis/go-redis/v9"
)

// scrapeMetrics reads base's /metrics and returns the value of each series,
// keyed by its name and labels as written
// (danmakud_dependency_up{dependency="redis"}).
func scrapeMetrics(client *http.Client, base string) (map[string]float64, error) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d", base, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: bad line %q: %w", base, line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape %s: %w", base, err)
	}
	return out, nil
}

// TestClusterMetrics runs two danmakud nodes on a private redis-server, a
// viewer on node b and sends to node a, and checks that each node's
// /metrics counts what it did in the cluster: the danmaku it published
// through Redis, the batches it committed as the room's leader and those
// it fanned out, the room it leads, and, with Redis stopped, its sends in
// local mode.
func TestClusterMetrics(t *testing.T) {
	testenv.SkipShort(t, "cluster: the two-node run is slow")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testenv.Binary(t)
	rs := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	nodes := startNodes(ctx, t, bin, rs.Addr(), strings.Repeat("m", 40), []string{"a", "b"})
	client := &http.Client{Timeout: 10 * time.Second}
	scrape := func(name string) map[string]float64 {
		t.Helper()
		m, err := scrapeMetrics(client, nodes[name].URL())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, name := range []string{"a", "b"} {
		if v := scrape(name)["danmakud_published_total"]; v != 0 {
			t.Fatalf("node %s: published %v before any send", name, v)
		}
	}

	const room = "metrics-1"
	v := watch(t, "b0", nodes["b"].URL(), room)
	waitFor(t, 10*time.Second, "a leader", func() bool { return rdb.Get(ctx, "danmakud:{"+room+"}:lease").Val() != "" })
	const sends = 20
	for i := range sends {
		if r := send(client, nodes["a"].URL(), room, fmt.Sprintf("u%d", i%5), fmt.Sprintf("m-%02d", i)); r.Status != http.StatusOK {
			t.Fatalf("send %d: status %d", i, r.Status)
		}
		time.Sleep(30 * time.Millisecond) // Over several ticks.
	}
	waitFor(t, 10*time.Second, "the viewer to receive every danmaku", func() bool { return len(counts(v.snapshot())) == sends })
	batches := len(v.snapshot())
	// The leader counts its batches once Redis has them: give it a moment,
	// then check whatever the nodes say.
	var a, b map[string]float64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a, b = scrape("a"), scrape("b")
		led := a["danmakud_cluster_leader_batches_total"] + b["danmakud_cluster_leader_batches_total"]
		if led >= float64(batches) || time.Now().After(deadline) {
			break
		}
	}
	leader := rdb.Get(ctx, "danmakud:{"+room+"}:lease").Val()
	t.Logf("leader %s, %d batches", leader, batches)
	checks := []struct {
		node, series string
		got, want    float64
	}{
		{"a", "danmakud_published_total", a["danmakud_published_total"], sends},
		{"b", "danmakud_published_total", b["danmakud_published_total"], 0},
		{"a+b", "danmakud_cluster_leader_batches_total", a["danmakud_cluster_leader_batches_total"] + b["danmakud_cluster_leader_batches_total"], float64(batches)},
		{"b", "danmakud_batches_total", b["danmakud_batches_total"], float64(batches)},
		{"b", "danmakud_broadcast_total", b["danmakud_broadcast_total"], sends},
		{"a+b", "danmakud_cluster_led_rooms", a["danmakud_cluster_led_rooms"] + b["danmakud_cluster_led_rooms"], 1},
		{leader, "danmakud_cluster_led_rooms", map[string]map[string]float64{"a": a, "b": b}[leader]["danmakud_cluster_led_rooms"], 1},
		{"b", "danmakud_cluster_followed_rooms", b["danmakud_cluster_followed_rooms"], 1},
		{"a", "danmakud_cluster_candidate_rooms", a["danmakud_cluster_candidate_rooms"], 1},
		{"a", "danmakud_cluster_fallback_total", a["danmakud_cluster_fallback_total"], 0},
		{"a", "danmakud_cluster_outages_total", a["danmakud_cluster_outages_total"], 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("node %s: %s = %v, want %v", c.node, c.series, c.got, c.want)
		}
	}
	if got := a["danmakud_cluster_takeovers_total"] + b["danmakud_cluster_takeovers_total"]; got < 1 {
		t.Errorf("takeovers over both nodes = %v, want at least 1", got)
	}

	// Without Redis, node a still acknowledges sends and counts them as
	// published in local mode.
	rs.Stop()
	const local = 5
	for i := range local {
		if r := send(client, nodes["a"].URL(), room, "u0", fmt.Sprintf("local-%d", i)); r.Status != http.StatusOK {
			t.Fatalf("send %d without Redis: status %d", i, r.Status)
		}
	}
	a = scrape("a")
	outage := []struct {
		series string
		want   float64
	}{
		{"danmakud_published_total", sends + local},
		{"danmakud_cluster_fallback_total", local},
		{"danmakud_cluster_outages_total", 1},
		{`danmakud_dependency_up{dependency="redis"}`, 0},
	}
	for _, c := range outage {
		if got := a[c.series]; got != c.want {
			t.Errorf("node a without Redis: %s = %v, want %v", c.series, got, c.want)
		}
	}
	errs := 0.0
	for series, v := range a {
		if strings.HasPrefix(series, "danmakud_cluster_redis_errors_total{") {
			errs += v
		}
	}
	if errs < 1 {
		t.Errorf("node a without Redis: %v failed Redis calls counted, want at least 1", errs)
	}
}
