package reliability

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// TestDynamoOutage kills a private dynalite under danmakud while senders
// and readers are active, keeps it down for a few seconds and starts it
// again on the same data. Every answer must be a 200 for a stored danmaku
// or a clear error, and sends must succeed again after the restart.
//
// It needs node and dynalite (scripts/services.sh start installs them);
// without them it fails.
func TestDynamoOutage(t *testing.T) {
	testenv.SkipShort(t, "reliability: the outage run is slow")
	script := testenv.DynaliteScript(t)
	bin := testenv.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunDynamoOutage(ctx, OutageConfig{
		Bin:            bin,
		DynaliteScript: script,
		Dir:            t.TempDir(),
		Before:         2 * time.Second,
		Down:           4 * time.Second,
		After:          4 * time.Second,
		Rate:           100,
		Workers:        16,
		Readers:        2,
		RetryDeadline:  time.Second,
		ServerLog:      testenv.LogWriter(t, "danmakud"),
	})
	t.Logf("outage report:\n%s", rep)
	if err != nil {
		t.Fatalf("RunDynamoOutage: %v", err)
	}
	if len(rep.UnclearExamples) > 0 {
		t.Logf("unclear answers:\n%s", strings.Join(rep.UnclearExamples, "\n"))
	}
	for _, e := range rep.Examples {
		t.Log(e)
	}

	if rep.SendsBefore[OK] == 0 || rep.SendsBefore.Failed() != 0 {
		t.Errorf("sends before the kill: %s; want all ok", rep.SendsBefore)
	}
	// While dynalite is down, sends must fail, and fail clearly: a 503
	// with Retry-After. A 200 is allowed only for a send that was
	// stored, which the check below proves.
	if rep.SendsDown[Unavailable] == 0 {
		t.Errorf("sends while down: %s; want 503 unavailable answers", rep.SendsDown)
	}
	if n := rep.Unclear(); n != 0 {
		t.Errorf("%d answers were neither a success nor a clear error", n)
	}
	if rep.ReadsDown[Unavailable] == 0 {
		t.Errorf("reads while down: %s; want 503 unavailable answers", rep.ReadsDown)
	}
	// With a 1 s retry deadline every answer comes well within the
	// client's 15 s timeout: nobody hangs.
	if rep.Reads[Timeout] != 0 || rep.SendsDown[Timeout] != 0 {
		t.Errorf("requests timed out: reads %s, sends %s", rep.Reads, rep.SendsDown)
	}
	if rep.Recovery <= 0 {
		t.Fatalf("no send succeeded after dynalite was started again: %s", rep.SendsAfter)
	}
	if rep.SendsRecovered[OK] == 0 || rep.SendsRecovered.Failed() != 0 {
		t.Errorf("sends from 1 s after recovery: %s; want all ok", rep.SendsRecovered)
	}
	// Every 503 is retried with its key: each must now succeed, and the
	// check (no duplicate text) shows that none was stored twice, also
	// those that dynalite wrote just before it was killed.
	if rep.Retried.Total() < rep.SendsDown[Unavailable] || rep.Retried.Failed() != 0 {
		t.Errorf("retried with their keys: %s; want every one of %d unanswered sends ok", rep.Retried, rep.SendsDown[Unavailable])
	}
	if !rep.Check.OK() || rep.Checked != rep.Acknowledged {
		t.Errorf("check: %s", rep.Check)
	}
}
