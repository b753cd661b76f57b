package redis

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/internal/wsclient"
)

// BenchmarkRoomRedisLoad measures the Redis commands a second that one
// room costs with the default settings (1 s tick, 500 ms poll): three
// nodes, viewers on two of them, 100 danmaku a second sent through the
// third, on a private redis-server so that nothing else is counted. Run
// it with -benchtime=1x; each iteration lasts 10 s.
func BenchmarkRoomRedisLoad(b *testing.B) {
	c := newClusterAt(b, testenv.StartRedis(b).Addr())
	ctx := context.Background()
	c.tick, c.poll, c.ttl = time.Second, DefaultPoll, DefaultLeaseTTL
	a, m2, m3 := c.start("a", ""), c.start("b", ""), c.start("c", "")
	m2.view(b, "bench")
	v := m3.view(b, "bench")
	lat := make(chan []time.Duration, 1)
	go func() {
		var ds []time.Duration
		defer func() { lat <- ds }()
		for {
			_ = v.conn.NetConn().SetReadDeadline(time.Now().Add(3 * time.Second))
			op, p, err := v.conn.ReadMessage()
			if err != nil {
				return
			}
			var bt outBatch
			if op != wsclient.OpText || json.Unmarshal(p, &bt) != nil || bt.Type != "batch" {
				continue
			}
			now := time.Now().UnixMilli()
			for _, d := range bt.Items {
				ds = append(ds, time.Duration(now-d.CreatedAt)*time.Millisecond)
			}
		}
	}()
	const rate, secs = 100, 10
	for b.Loop() {
		if err := c.rdb.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := range rate * secs {
			next := start.Add(time.Duration(i) * time.Second / rate)
			time.Sleep(time.Until(next))
			if err := a.node.Publish(ctx, newDanmaku("bench", "u"+strconv.Itoa(i%20), "d"+strconv.Itoa(i)), false); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start).Seconds()
		stats, err := c.rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			b.Fatal(err)
		}
		total := 0
		for line := range strings.SplitSeq(stats, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			cmd := strings.TrimPrefix(name, "cmdstat_")
			if cmd == "info" || cmd == "config|resetstat" {
				continue
			}
			total += n
			b.ReportMetric(float64(n)/elapsed, cmd+"/s")
		}
		b.ReportMetric(float64(total)/elapsed, "commands/s")
	}
	ds := <-lat
	if len(ds) == 0 {
		b.Fatal("the viewer received nothing")
	}
	slices.Sort(ds)
	b.ReportMetric(float64(len(ds)), "delivered")
	b.ReportMetric(float64(ds[len(ds)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Milliseconds()), "p99-ms")
}
