package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
)

// CrashConfig describes a crash-safety run: a stream of sends to danmakud
// on its embedded store, SIGKILLs at random moments, restarts on the same
// data directory, then a check of everything acknowledged.
type CrashConfig struct {
	// Bin is the danmakud binary.
	Bin string
	// DataDir is the embedded store's directory; it should be empty.
	DataDir string
	// Kills is how many times the server is killed (default 20).
	Kills int
	// Duration is the time spent sending, without the restarts; the kills
	// fall at random moments within it, on average Duration/(Kills+1)
	// apart (default 60 s).
	Duration time.Duration
	// Rate is the target sends a second (default 2,500; 0 is not
	// allowed here, so that the run stays bounded in count).
	Rate float64
	// Workers is the number of concurrent HTTP clients (default 64).
	Workers int
	// Videos is how many videos are sent to (default 8); Users how many
	// userIds send (default 1,000).
	Videos, Users int
	// Seed makes the kill times and the sends repeatable (0 picks one).
	Seed uint64
	// ServerLog receives danmakud's output; nil discards it.
	ServerLog io.Writer
	// Progress, when not nil, receives a line per kill.
	Progress io.Writer
}

// CrashReport is the outcome of RunCrash.
type CrashReport struct {
	Check
	// Sends counts every send by outcome; failures are expected only as
	// connection errors around the kills.
	Sends Counts
	// Kills is how many SIGKILLs were sent.
	Kills int
	// Restart is the mean and longest time from SIGKILL to a healthy
	// server again.
	RestartMean, RestartMax time.Duration
	// Elapsed is the time from the first send to the last answer.
	Elapsed time.Duration
	// SendRate is acknowledged sends a second over Elapsed, restarts
	// included; AttemptRate counts every send made.
	SendRate, AttemptRate float64
	// Seed is the seed used.
	Seed uint64
}

// String is the report as a few lines of text.
func (r CrashReport) String() string {
	return fmt.Sprintf("kills %d (restart mean %v, max %v), elapsed %v, seed %d\n"+
		"sends: %d made, %s\n"+
		"rate: %.0f acknowledged/s, %.0f attempted/s\n"+
		"check: %s",
		r.Kills, r.RestartMean.Round(time.Millisecond), r.RestartMax.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond), r.Seed,
		r.Sends.Total(), r.Sends, r.SendRate, r.AttemptRate, r.Check)
}

func (c *CrashConfig) defaults() error {
	if c.Bin == "" || c.DataDir == "" {
		return errors.New("crash: Bin and DataDir must be set")
	}
	if c.Kills <= 0 {
		c.Kills = 20
	}
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Rate < 0 {
		return errors.New("crash: Rate must not be negative")
	}
	if c.Rate == 0 {
		c.Rate = 2500
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.Videos <= 0 {
		c.Videos = 8
	}
	if c.Users <= 0 {
		c.Users = 1000
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return nil
}

// RunCrash runs the crash-safety scenario and checks the result. The
// server is closed before it returns, also on error. An error means the
// run could not be carried out; a lost or duplicated danmaku is reported
// in CrashReport, not as an error.
func RunCrash(ctx context.Context, cfg CrashConfig) (CrashReport, error) {
	if err := cfg.defaults(); err != nil {
		return CrashReport{}, err
	}
	rep := CrashReport{Seed: cfg.Seed}
	base, err := testenv.BaseArgs(cfg.Bin)
	if err != nil {
		return rep, err
	}
	srv, err := testenv.StartServer(ctx, testenv.ServerConfig{
		Bin:  cfg.Bin,
		Args: append(base, "-store", "pebble", "-data", cfg.DataDir),
		Log:  orDiscard(cfg.ServerLog),
	})
	if err != nil {
		return rep, err
	}
	defer srv.Close()

	run := strconv.FormatUint(cfg.Seed%1_000_000, 10)
	videos := make([]string, cfg.Videos)
	for i := range videos {
		videos[i] = fmt.Sprintf("crash-%s-v%d", run, i)
	}
	// The bound on sends keeps the run finite even if restarts take long.
	maxSends := int(cfg.Rate*(cfg.Duration.Seconds()+float64(cfg.Kills)*30)) + 1
	load, err := StartLoad(ctx, LoadConfig{
		URL: srv.URL(), Videos: videos, Users: cfg.Users, Workers: cfg.Workers,
		Rate: cfg.Rate, MaxSends: maxSends, Prefix: "crash " + run, Seed: cfg.Seed,
	})
	if err != nil {
		return rep, err
	}
	start := time.Now()
	killErr := killLoop(ctx, cfg, srv, load, &rep)
	attempts := load.Stop()
	rep.Elapsed = time.Since(start)
	if killErr != nil {
		return rep, killErr
	}

	rep.Sends = Tally(attempts, nil)
	rep.SendRate = float64(rep.Sends[OK]) / rep.Elapsed.Seconds()
	rep.AttemptRate = float64(rep.Sends.Total()) / rep.Elapsed.Seconds()
	rep.Check, err = Verify(ctx, srv.URL(), videos, Acks(attempts), 1000, len(attempts)+1000)
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// killLoop waits a random gap, kills the server, starts it again, Kills
// times, then waits one more gap.
func killLoop(ctx context.Context, cfg CrashConfig, srv *testenv.Server, load *Load, rep *CrashReport) error {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b696c6c))
	mean := cfg.Duration / time.Duration(cfg.Kills+1)
	gap := func() time.Duration {
		// Uniform in [mean/2, 3·mean/2): random moments, none too close.
		return mean/2 + time.Duration(rng.Int64N(int64(mean)))
	}
	var total time.Duration
	for i := range cfg.Kills {
		if !sleep(ctx, gap()) {
			return fmt.Errorf("crash: %w", ctx.Err())
		}
		killed := time.Now()
		srv.Kill()
		rep.Kills++
		if err := srv.Start(ctx); err != nil {
			return fmt.Errorf("crash: restart %d: %w", i+1, err)
		}
		d := time.Since(killed)
		total += d
		rep.RestartMax = max(rep.RestartMax, d)
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "kill %d/%d: back in %v, %d acknowledged so far\n",
				i+1, cfg.Kills, d.Round(time.Millisecond), load.Acked())
		}
	}
	rep.RestartMean = total / time.Duration(cfg.Kills)
	if !sleep(ctx, gap()) {
		return fmt.Errorf("crash: %w", ctx.Err())
	}
	return nil
}
