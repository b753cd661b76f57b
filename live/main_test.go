package live

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that closed hubs leave no goroutines behind. The nbio
// websocket package starts a default engine at init; those goroutines
// exist before any test and are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
