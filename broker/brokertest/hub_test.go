package brokertest_test

import (
	"testing"
	"time"

	"github.com/danmakud/danmakud/broker/brokertest"
	"github.com/danmakud/danmakud/live"
)

// TestHub runs the suite against the in-process hub, the Broker of a
// single node.
func TestHub(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) brokertest.Setup {
		hub, err := live.New(live.Config{DefaultRoom: live.RoomConfig{TickInterval: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = hub.Close() })
		return brokertest.Setup{Broker: hub, Hub: hub}
	})
}
