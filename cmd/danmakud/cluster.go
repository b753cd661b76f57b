package main

import (
	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/live"
	"github.com/danmakud/danmakud/service"
)

// openCluster returns the publisher and live clock of the service: the
// local hub when no Redis is configured.
func (m *Main) openCluster(hub *live.Hub) (danmaku.Publisher, service.LiveClock, error) {
	return hub, hub, nil
}

// health reports whether each dependency is reachable, for /healthz and
// the metrics; a single node has none besides its store.
func (m *Main) health() map[string]bool { return map[string]bool{} }
