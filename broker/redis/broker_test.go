package redis

import (
	"os"
	"testing"
	"time"

	"github.com/danmakud/danmakud/broker/brokertest"
	"github.com/danmakud/danmakud/live"
)

// TestBrokerSuite runs the Broker suite against a cluster node on the
// test Redis (DANMAKUD_TEST_REDIS). Without it, go test -short skips the
// run with a message naming Redis; a full run fails.
func TestBrokerSuite(t *testing.T) {
	if os.Getenv("DANMAKUD_TEST_REDIS") == "" && testing.Short() {
		t.Skip("needs Redis: DANMAKUD_TEST_REDIS is not set (start it with scripts/services.sh start)")
	}
	c := newCluster(t)
	brokertest.Run(t, func(t *testing.T) brokertest.Setup {
		hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		node, err := New(Config{Client: c.rdb, Hub: hub, NodeID: "suite", Prefix: c.prefix, LeaseTTL: 600 * time.Millisecond, Poll: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		hub.SetRemote(node)
		t.Cleanup(func() {
			_ = node.Close()
			_ = hub.Close()
		})
		return brokertest.Setup{Broker: node, Hub: hub}
	})
}
