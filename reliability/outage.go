package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// OutageConfig describes a DynamoDB outage run: danmakud on the DynamoDB
// store of a private dynalite, senders and readers active, dynalite killed
// with SIGKILL, kept down, started again on the same data, then a check of
// everything acknowledged.
type OutageConfig struct {
	// Bin is the danmakud binary.
	Bin string
	// DynaliteScript is dynalite's cli.js; Node the node binary (empty:
	// "node").
	DynaliteScript, Node string
	// Dir is a working directory: dynalite keeps its tables there.
	Dir string
	// Before, Down and After are how long the senders run before the
	// kill, while dynalite is down, and after it is started again
	// (defaults 3 s, 5 s, 5 s).
	Before, Down, After time.Duration
	// Rate is the target sends a second (default 200); Workers the
	// concurrent senders (default 32); Readers the concurrent readers
	// (default 4).
	Rate             float64
	Workers, Readers int
	// Videos and Users as in CrashConfig (defaults 4 and 200).
	Videos, Users int
	// RetryDeadline, when not zero, is passed as -dynamodb-retry.
	RetryDeadline time.Duration
	// Seed makes the run repeatable (0 picks one).
	Seed uint64
	// ServerLog and DynaliteLog receive the processes' output; nil
	// discards it.
	ServerLog, DynaliteLog io.Writer
}

// OutageReport is the outcome of RunDynamoOutage. Sends and reads are put
// in a phase by their times: before the kill if answered before it, down
// if started before the restart and answered after the kill, after if
// started after the restart.
type OutageReport struct {
	Check
	// SendsBefore, SendsDown and SendsAfter count the sends by outcome
	// before the kill, while dynalite was down, and after its restart.
	SendsBefore, SendsDown, SendsAfter Counts
	// SendsRecovered counts the sends that started one second after the
	// first success that followed the restart: these must all succeed.
	SendsRecovered Counts
	// Retried counts the answers to resending, with the same
	// Idempotency-Key, every send that got no success and no final error
	// (503s, cut connections), once dynalite is back: all must succeed,
	// and the check finds each stored once.
	Retried Counts
	// Replayed counts the retries answered with the danmaku that their
	// first request had stored although its answer was a 503 or lost.
	Replayed int
	// Reads counts the readers' queries, all phases together;
	// ReadsDown those in the down phase.
	Reads, ReadsDown Counts
	// FirstFailure is the time from the kill to the first failed answer.
	FirstFailure time.Duration
	// LongestDownAnswer is the longest time a send that started during
	// the outage took to get its answer.
	LongestDownAnswer time.Duration
	// DynaliteStart is the time from starting dynalite again until it
	// answered; Recovery the time from starting it again until the first
	// send answered 200.
	DynaliteStart, Recovery time.Duration
	// Unclear lists a few unclear answers, if any.
	UnclearExamples []string
	// Seed is the seed used.
	Seed uint64
}

// String is the report as a few lines of text.
func (r OutageReport) String() string {
	return fmt.Sprintf("sends before the kill: %s\n"+
		"sends while dynalite was down: %s\n"+
		"sends after the restart: %s (from 1 s after recovery: %s)\n"+
		"unanswered sends retried with their Idempotency-Key: %s (%d had been stored: answered with the stored danmaku)\n"+
		"reads: %s (while down: %s)\n"+
		"first failed answer %v after the kill; longest answer while down %v\n"+
		"dynalite answered %v after its restart; first 200 %v after its restart (time to recover)\n"+
		"check: %s",
		r.SendsBefore, r.SendsDown, r.SendsAfter, r.SendsRecovered, r.Retried, r.Replayed, r.Reads, r.ReadsDown,
		r.FirstFailure.Round(time.Millisecond), r.LongestDownAnswer.Round(time.Millisecond),
		r.DynaliteStart.Round(time.Millisecond), r.Recovery.Round(time.Millisecond), r.Check)
}

func (c *OutageConfig) defaults() error {
	if c.Bin == "" || c.DynaliteScript == "" || c.Dir == "" {
		return errors.New("dynamo outage: Bin, DynaliteScript and Dir must be set")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Before, 3*time.Second)
	def(&c.Down, 5*time.Second)
	def(&c.After, 5*time.Second)
	if c.Rate <= 0 {
		c.Rate = 200
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.Readers < 0 {
		c.Readers = 0
	} else if c.Readers == 0 {
		c.Readers = 4
	}
	if c.Videos <= 0 {
		c.Videos = 4
	}
	if c.Users <= 0 {
		c.Users = 200
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return nil
}

// RunDynamoOutage runs the DynamoDB outage scenario and checks the result.
// Every process it started is ended before it returns, also on error. An
// error means the run could not be carried out; wrong answers are
// reported in OutageReport.
func RunDynamoOutage(ctx context.Context, cfg OutageConfig) (OutageReport, error) {
	if err := cfg.defaults(); err != nil {
		return OutageReport{}, err
	}
	rep := OutageReport{Seed: cfg.Seed}
	dyn, err := testenv.StartDynalite(ctx, testenv.DynaliteConfig{
		Script: cfg.DynaliteScript, Node: cfg.Node,
		Dir: filepath.Join(cfg.Dir, "dynalite"), Log: cfg.DynaliteLog,
	})
	if err != nil {
		return rep, err
	}
	defer dyn.Close()
	run := strconv.FormatUint(cfg.Seed%1_000_000, 10)
	table := "danmu_outage_" + run
	if err := dyn.CreateTable(ctx, cfg.Bin, table); err != nil {
		return rep, err
	}
	args, err := testenv.BaseArgs(cfg.Bin)
	if err != nil {
		return rep, err
	}
	args = append(args, "-store", "dynamodb", "-dynamodb-endpoint", dyn.Endpoint(), "-dynamodb-table", table)
	if cfg.RetryDeadline > 0 {
		args = append(args, "-dynamodb-retry", cfg.RetryDeadline.String())
	}
	srv, err := testenv.StartServer(ctx, testenv.ServerConfig{Bin: cfg.Bin, Args: args, Log: orDiscard(cfg.ServerLog)})
	if err != nil {
		return rep, err
	}
	defer srv.Close()

	videos := make([]string, cfg.Videos)
	for i := range videos {
		videos[i] = fmt.Sprintf("outage-%s-v%d", run, i)
	}
	total := cfg.Before + cfg.Down + cfg.After
	load, err := StartLoad(ctx, LoadConfig{
		URL: srv.URL(), Videos: videos, Users: cfg.Users, Workers: cfg.Workers,
		Readers: cfg.Readers, Rate: cfg.Rate, MaxSends: int(cfg.Rate*(total.Seconds()+60)) + 1,
		Prefix: "outage " + run, Seed: cfg.Seed,
	})
	if err != nil {
		return rep, err
	}
	killedAt, restartAt, err := outage(ctx, cfg, dyn, &rep)
	attempts := load.Stop()
	if err != nil {
		return rep, err
	}
	rep.tally(attempts, killedAt, restartAt)
	// A careful client retries what got no clear answer with the same key;
	// the retries' acknowledgements join the check, which counts a text
	// stored twice as a duplicate.
	for _, a := range attempts {
		if a.Read || (a.Outcome != Unavailable && a.Outcome != ConnError && a.Outcome != Timeout) {
			continue
		}
		r := load.Resend(ctx, a)
		rep.Retried[r.Outcome]++
		if r.Replayed {
			rep.Replayed++
		}
		attempts = append(attempts, r)
	}

	// Read back through the same server, which must have recovered: a
	// 200 given at any time must be stored now.
	rep.Check, err = Verify(ctx, srv.URL(), videos, Acks(attempts), 1000, len(attempts)+1000)
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// outage sends for Before, kills dynalite, waits Down, starts it again and
// sends for After. It returns when the kill and the restart began.
func outage(ctx context.Context, cfg OutageConfig, dyn *testenv.Dynalite, rep *OutageReport) (killedAt, restartAt time.Time, err error) {
	if !sleep(ctx, cfg.Before) {
		return killedAt, restartAt, fmt.Errorf("dynamo outage: %w", ctx.Err())
	}
	killedAt = time.Now()
	dyn.Kill()
	if !sleep(ctx, cfg.Down) {
		return killedAt, restartAt, fmt.Errorf("dynamo outage: %w", ctx.Err())
	}
	restartAt = time.Now()
	if err := dyn.Start(ctx); err != nil {
		return killedAt, restartAt, fmt.Errorf("dynamo outage: restart: %w", err)
	}
	rep.DynaliteStart = time.Since(restartAt)
	if !sleep(ctx, cfg.After) {
		return killedAt, restartAt, fmt.Errorf("dynamo outage: %w", ctx.Err())
	}
	return killedAt, restartAt, nil
}

// tally fills the phase counts and the timings from the attempts.
func (r *OutageReport) tally(attempts []Attempt, killedAt, restartAt time.Time) {
	var recovered time.Time
	for _, a := range attempts {
		if !a.Read && a.Outcome == OK && !a.End.Before(restartAt) && (recovered.IsZero() || a.End.Before(recovered)) {
			recovered = a.End
		}
	}
	if !recovered.IsZero() {
		r.Recovery = recovered.Sub(restartAt)
	}
	var firstFail time.Time
	for _, a := range attempts {
		if a.Outcome != OK && !a.End.Before(killedAt) && (firstFail.IsZero() || a.End.Before(firstFail)) {
			firstFail = a.End
		}
		if a.Outcome == Unclear || a.Outcome == Timeout {
			if len(r.UnclearExamples) < 10 {
				r.UnclearExamples = append(r.UnclearExamples, fmt.Sprintf("%s: %s", a.Outcome, a.Detail))
			}
		}
		// A request in flight at the kill belongs to the outage.
		down := !a.End.Before(killedAt) && a.Start.Before(restartAt)
		if a.Read {
			r.Reads[a.Outcome]++
			if down {
				r.ReadsDown[a.Outcome]++
			}
			continue
		}
		switch {
		case a.End.Before(killedAt):
			r.SendsBefore[a.Outcome]++
		case down:
			r.SendsDown[a.Outcome]++
			r.LongestDownAnswer = max(r.LongestDownAnswer, a.End.Sub(a.Start))
		default:
			r.SendsAfter[a.Outcome]++
			if !recovered.IsZero() && a.Start.After(recovered.Add(time.Second)) {
				r.SendsRecovered[a.Outcome]++
			}
		}
	}
	if !firstFail.IsZero() {
		r.FirstFailure = firstFail.Sub(killedAt)
	}
}

// Unclear returns how many sends and reads got neither a success nor a
// clear error (unclear answers and client timeouts) in any phase.
func (r OutageReport) Unclear() int {
	n := 0
	for _, c := range []Counts{r.SendsBefore, r.SendsDown, r.SendsAfter, r.Reads} {
		n += c[Unclear] + c[Timeout]
	}
	return n
}
