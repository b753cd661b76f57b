package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// TestCrashSafety is the short crash run: five SIGKILLs within about ten
// seconds of sends, then every acknowledged danmaku must be stored exactly
// once and listed in order.
func TestCrashSafety(t *testing.T) {
	testenv.SkipShort(t, "reliability: the crash run is slow")
	bin := testenv.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunCrash(ctx, CrashConfig{
		Bin:      bin,
		DataDir:  t.TempDir(),
		Kills:    5,
		Duration: 10 * time.Second,
		Rate:     1000,
		Workers:  32,
		Videos:   4,
		Users:    200,
	})
	t.Logf("crash report:\n%s", rep)
	if err != nil {
		t.Fatalf("RunCrash: %v", err)
	}
	for _, e := range rep.Examples {
		t.Log(e)
	}
	if rep.Kills != 5 {
		t.Errorf("kills = %d, want 5", rep.Kills)
	}
	// Every restart must have come back, and the stream must have gone
	// on between the kills: at least a few hundred sends acknowledged.
	if rep.Acknowledged < 500 {
		t.Errorf("acknowledged = %d, want at least 500", rep.Acknowledged)
	}
	if rep.Lost != 0 || rep.Mismatched != 0 {
		t.Errorf("lost %d, mismatched %d acknowledged danmaku; want none", rep.Lost, rep.Mismatched)
	}
	if rep.Duplicates != 0 {
		t.Errorf("duplicates = %d, want 0", rep.Duplicates)
	}
	if rep.Misordered != 0 {
		t.Errorf("misordered = %d, want 0", rep.Misordered)
	}
	if rep.Checked != rep.Acknowledged {
		t.Errorf("checked %d of %d acknowledged", rep.Checked, rep.Acknowledged)
	}
	// A kill may cut requests off, but the server must never answer with
	// anything but a 200 or a clear error.
	if n := rep.Sends[Unclear]; n != 0 {
		t.Errorf("%d sends got an unclear answer", n)
	}
}
