package main

import (
	"fmt"

	danmaku "github.com/danmakud/danmakud"
	redisbroker "github.com/danmakud/danmakud/broker/redis"
	"github.com/danmakud/danmakud/live"
)

// openRedis makes the process's one Redis client in cluster mode, which
// the cluster broker and the shared moderation state both use. The client
// closes after everything that uses it (closers run last first).
func (m *Main) openRedis() {
	if m.Config.Redis == "" {
		return
	}
	m.Redis = redisbroker.NewClient(m.Config.Redis)
	m.closers = append(m.closers, m.Redis.Close)
}

// openCluster returns the service's Broker: the local hub when no Redis is
// configured, otherwise a cluster node (kept as m.Node) that publishes
// through Redis and feeds the hub the room leaders' batches.
func (m *Main) openCluster(hub *live.Hub) (danmaku.Broker, error) {
	if m.Redis == nil {
		return hub, nil
	}
	node, err := redisbroker.New(redisbroker.Config{Client: m.Redis, Hub: hub, NodeID: m.Config.NodeID, Log: m.Log, History: m.Config.History})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	hub.SetRemote(node)
	m.Node = node
	// Closers run last first: the node stops (giving up its leases) before
	// the hub, and the Redis client closes last.
	m.closers = append(m.closers, node.Close)
	m.Log.Info("cluster mode", "redis", m.Config.Redis, "node", node.NodeID(), "redisUp", node.Healthy())
	return node, nil
}

// health reports whether each dependency is reachable, for /healthz and
// the metrics: Redis in cluster mode, nothing for a single node.
func (m *Main) health() map[string]bool {
	if m.Node != nil {
		return map[string]bool{"redis": m.Node.Healthy()}
	}
	return map[string]bool{}
}
