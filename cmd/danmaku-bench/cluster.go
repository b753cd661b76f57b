package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// clusterNode is one danmakud node of the measured cluster and its
// viewers.
type clusterNode struct {
	name  string
	srv   *testenv.Server
	fleet *fleet
	cpu0  float64
	rss0  int64
	res   result
}

// runCluster measures o.cluster danmakud nodes on a private Redis, with
// o.viewers viewers of one room on each and o.rate sends a second spread
// over the nodes in turn, against one node serving o.viewers alone
// measured first in the same invocation. It prints per-node CPU per
// delivered danmaku and its ratio to the lone node's, the Redis commands
// a second, and whether every node delivered the same batches.
func runCluster(o options) error {
	fmt.Printf("cluster: %d nodes × %d viewers, rate=%d/s tick=%v window=%v warmup=%v deflate=%v v%d\n",
		o.cluster, o.viewers, o.rate, o.tick, o.duration, o.warmup, o.deflate, o.proto)
	alone, err := measure(o, "danmakud")
	if err != nil {
		return fmt.Errorf("lone node: %w", err)
	}
	alone.print("one node alone")
	time.Sleep(2 * time.Second) // Let the kernel reap the closed sockets.

	tmp, err := os.MkdirTemp("", "danmaku-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := danmakudBinary(o, tmp)
	if err != nil {
		return err
	}
	redisAddr, stopRedis, err := startRedis(filepath.Join(tmp, "redis"))
	if err != nil {
		return err
	}
	defer stopRedis()
	var key [16]byte
	_, _ = rand.Read(key[:])
	secret := hex.EncodeToString(key[:])

	nodes := make([]*clusterNode, o.cluster)
	addrs := make([]string, o.cluster)
	for i := range nodes {
		name := fmt.Sprintf("n%d", i+1)
		srv, err := testenv.StartServer(context.Background(), testenv.ServerConfig{Bin: bin, Log: os.Stderr, Args: append([]string{
			"-data", filepath.Join(tmp, name), "-rate-limits=false", "-max-conns-per-ip", "0",
			"-tick", o.tick.String(), "-max-per-tick", fmt.Sprint(o.maxPerTick),
			"-redis", redisAddr, "-node-id", name, "-secret", secret}, strings.Fields(o.extraArgs)...)})
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		defer srv.Close()
		nodes[i] = &clusterNode{name: name, srv: srv}
		addrs[i] = srv.Addr()
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	sources := make([]net.IP, max(1, o.sources))
	for i := range sources {
		sources[i] = net.IPv4(127, 0, 0, byte(i+1))
	}
	for _, n := range nodes {
		if n.rss0, err = procRSS(n.srv.PID()); err != nil {
			return err
		}
		n.fleet = newFleet(start)
		url := fmt.Sprintf("ws://%s/danmu/ws/%s?v=%d", n.srv.Addr(), o.room, o.proto)
		if err := n.fleet.connect(context.Background(), url, o.viewers, o.dialConc, sources, true, o.deflate); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
		defer n.fleet.closeAll()
		fmt.Printf("cluster: %d viewers connected to %s\n", n.fleet.open.Load(), n.name)
	}

	pub := newPublisherTo(addrs, o.room, start)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pubWG sync.WaitGroup
	pubWG.Go(func() { pub.run(ctx, o.rate) })
	time.Sleep(o.warmup)
	cmds0, err := redisCommands(redisAddr)
	if err != nil {
		return err
	}
	winStart := time.Since(start).Nanoseconds()
	for _, n := range nodes {
		if n.cpu0, err = procCPU(n.srv.PID()); err != nil {
			return err
		}
	}
	time.Sleep(o.duration)
	for _, n := range nodes {
		cpu1, err := procCPU(n.srv.PID())
		if err != nil {
			return err
		}
		n.res.cpuSeconds = cpu1 - n.cpu0
		n.res.rssBefore = n.rss0
		n.res.rssAfter, _ = procRSS(n.srv.PID())
	}
	winEnd := time.Since(start).Nanoseconds()
	cmds1, err := redisCommands(redisAddr)
	if err != nil {
		return err
	}
	cancel()
	pubWG.Wait()
	time.Sleep(2 * o.tick) // The last batches.
	for _, n := range nodes {
		n.res.viewers = len(n.fleet.viewers)
		n.res.rssPerViewer = float64(n.res.rssAfter-n.res.rssBefore) / float64(max(n.res.viewers, 1))
		analyse(&n.res, n.fleet, pub, winStart, winEnd)
		n.res.print("node " + n.name)
	}
	cmdsPerS := float64(cmds1-cmds0) / (float64(winEnd-winStart) / 1e9)
	same, common := sameBatches(nodes)
	fmt.Printf("\nRedis: %.0f commands a second; batches every node received: %d, identical on every node: %d\n", cmdsPerS, common, same)

	frames := "plain frames"
	if o.deflate {
		frames = "permessage-deflate"
	}
	fmt.Printf("\n| %d nodes × %d viewers, %d/s, %s, v%d | one node alone |", o.cluster, o.viewers, o.rate, frames, o.proto)
	for _, n := range nodes {
		fmt.Printf(" %s |", n.name)
	}
	fmt.Printf("\n|---|---|%s\n", strings.Repeat("---|", len(nodes)))
	row := func(name string, f func(result) string) {
		fmt.Printf("| %s | %s |", name, f(alone))
		for _, n := range nodes {
			fmt.Printf(" %s |", f(n.res))
		}
		fmt.Println()
	}
	row("CPU per delivered danmaku", func(r result) string {
		return fmt.Sprintf("%.3f µs (%.2f×)", r.cpuPerMillion, ratio(r.cpuPerMillion, alone.cpuPerMillion))
	})
	row("server CPU, cores", func(r result) string { return fmt.Sprintf("%.2f", r.cpuSeconds/o.duration.Seconds()) })
	row("delivered danmaku/s", func(r result) string { return fmt.Sprintf("%.0f", r.deliveredPerS) })
	row("loss: viewer-batches missed", func(r result) string { return fmt.Sprintf("%d of %d", r.missing, r.expected) })
	row("send→receive p99", func(r result) string { return r.p99.String() })
	row("memory per viewer", func(r result) string { return fmt.Sprintf("%.2f KB", r.rssPerViewer/1024) })
	fmt.Printf("| Redis commands/s | — | %.0f (the whole cluster) |%s\n", cmdsPerS, strings.Repeat(" |", len(nodes)-1))
	fmt.Printf("| identical batches on every node | — | %d of %d |%s\n", same, common, strings.Repeat(" |", len(nodes)-1))
	return nil
}

// sameBatches compares the batches that the viewers of every node
// received, by seq: it returns how many seqs every node's viewers
// received and of those how many carried the same bytes on every node.
func sameBatches(nodes []*clusterNode) (same, common int) {
	for seq, p := range nodes[0].fleet.refs {
		all, equal := true, true
		for _, n := range nodes[1:] {
			q, ok := n.fleet.refs[seq]
			if !ok {
				all = false
				break
			}
			equal = equal && bytes.Equal(p, q)
		}
		if all {
			common++
			if equal {
				same++
			}
		}
	}
	return same, common
}

// startRedis starts a private redis-server with its files in dir, as
// testenv.StartRedis does for tests, and returns its address and how to
// stop it.
func startRedis(dir string) (string, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := testenv.StartProcess("redis-server", []string{"--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"}, nil)
	if err != nil {
		return "", nil, fmt.Errorf("redis-server: %w", err)
	}
	stop := func() { p.Stop(syscall.SIGTERM, 10*time.Second) }
	ready := func(context.Context) bool { _, err := redisCommands(addr); return err == nil }
	if err := testenv.WaitReady(context.Background(), p, 30*time.Second, ready); err != nil {
		stop()
		return "", nil, fmt.Errorf("redis-server on %s: %w", addr, err)
	}
	return addr, stop, nil
}

// redisCommands returns Redis's total_commands_processed (INFO stats).
func redisCommands(addr string) (int64, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "INFO stats\r\n"); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("redis INFO: %q %v", head, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return 0, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("redis INFO: no total_commands_processed")
}
