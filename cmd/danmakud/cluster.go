package main

import (
	"fmt"

	danmaku "github.com/danmakud/danmakud"
	redisbroker "github.com/danmakud/danmakud/broker/redis"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/service"
)

// openCluster returns the publisher and live clock of the service: the
// local hub when no Redis is configured, otherwise a cluster node that
// publishes through Redis and feeds the hub the room leaders' batches.
func (m *Main) openCluster(hub *live.Hub) (danmaku.Publisher, service.LiveClock, error) {
	if m.Config.Redis == "" {
		return hub, hub, nil
	}
	rdb := redisbroker.NewClient(m.Config.Redis)
	node, err := redisbroker.New(redisbroker.Config{Client: rdb, Hub: hub, NodeID: m.Config.NodeID, Log: m.Log})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	hub.SetRemote(node)
	// Closers run last first: the node stops (giving up its leases) before
	// the client closes, and both after the hub.
	m.closers = append(m.closers, rdb.Close, node.Close)
	m.Log.Info("cluster mode", "redis", m.Config.Redis, "node", node.NodeID(), "redisUp", node.Healthy())
	return node, node, nil
}

// health reports whether each dependency is reachable, for /healthz and
// the metrics: Redis in cluster mode, nothing for a single node.
func (m *Main) health() map[string]bool {
	if m.Hub != nil {
		if n, ok := m.Hub.Remote().(*redisbroker.Node); ok {
			return map[string]bool{"redis": n.Healthy()}
		}
	}
	return map[string]bool{}
}

// clusterStats returns the source of the cluster node's figures for the
// metrics, or nil for a single node.
func (m *Main) clusterStats() func() redisbroker.StatsSnapshot {
	if m.Hub != nil {
		if n, ok := m.Hub.Remote().(*redisbroker.Node); ok {
			return n.Stats
		}
	}
	return nil
}
