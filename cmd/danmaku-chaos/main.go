// Command danmaku-chaos breaks a real danmakud on purpose and reports what
// survived. It has two modes:
//
//	danmaku-chaos crash [flags]
//	    sends a sustained stream to danmakud on its embedded store, kills
//	    the server with SIGKILL at random moments, restarts it on the same
//	    data directory, and checks that every acknowledged danmaku is
//	    stored exactly once and listed in order.
//
//	danmaku-chaos dynamo-outage [flags]
//	    runs danmakud on the DynamoDB store of a private dynalite, kills
//	    dynalite while senders and readers are active, starts it again on
//	    the same data, and reports how every request was answered and how
//	    long recovery took.
//
// Run it from the repository root: it builds ./cmd/danmakud unless -bin
// names a binary, and finds dynalite in node_modules. It exits with status
// 1 when the run could not be carried out and 2 when the check failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/danmakud/danmakud/internal/testenv"
	"github.com/danmakud/danmakud/reliability"
)

// errCheck reports a run that finished but found a defect.
var errCheck = errors.New("check failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errCheck):
		fmt.Fprintln(os.Stderr, "danmaku-chaos:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "danmaku-chaos:", err)
		os.Exit(1)
	}
}

const usage = `Usage: danmaku-chaos crash [flags]
       danmaku-chaos dynamo-outage [flags]

"danmaku-chaos MODE -h" lists the flags of a mode.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no mode given")
	}
	switch args[0] {
	case "crash":
		return runCrash(ctx, args[1:], stdout, stderr)
	case "dynamo-outage":
		return runOutage(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown mode %q", args[0])
}

// common holds the flags that both modes share.
type common struct {
	bin     string
	workers int
	rate    float64
	videos  int
	users   int
	seed    uint64
	keep    bool
	verbose bool
}

func (c *common) register(fs *flag.FlagSet, rate float64, workers, videos, users int) {
	fs.StringVar(&c.bin, "bin", "", "danmakud binary (default: build ./cmd/danmakud into the work directory)")
	fs.IntVar(&c.workers, "workers", workers, "concurrent HTTP clients sending")
	fs.Float64Var(&c.rate, "rate", rate, "target danmaku sent a second")
	fs.IntVar(&c.videos, "videos", videos, "videos sent to")
	fs.IntVar(&c.users, "users", users, "distinct userIds sending")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of the random choices (0: random)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (data and logs)")
	fs.BoolVar(&c.verbose, "v", false, "copy the processes' logs to standard error")
}

// workDir makes the work directory and the binary, and returns a cleanup
// function.
func (c *common) workDir(ctx context.Context, stderr io.Writer) (string, func(), error) {
	dir, err := os.MkdirTemp("", "danmaku-chaos-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() {
		if c.keep {
			fmt.Fprintln(stderr, "work directory kept:", dir)
			return
		}
		os.RemoveAll(dir)
	}
	if c.bin == "" {
		fmt.Fprintln(stderr, "building danmakud…")
		if c.bin, err = testenv.Build(ctx, dir); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("%w (run from the repository root or pass -bin)", err)
		}
	}
	return dir, cleanup, nil
}

// logTo returns where a child process's output goes: a file in dir, and
// standard error too with -v.
func (c *common) logTo(dir, name string, stderr io.Writer) (io.Writer, func(), error) {
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	var w io.Writer = f
	if c.verbose {
		w = io.MultiWriter(f, stderr)
	}
	return w, func() { f.Close() }, nil
}

func runCrash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("danmaku-chaos crash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, 2500, 128, 8, 2000)
	kills := fs.Int("kills", 20, "SIGKILLs sent to the server")
	duration := fs.Duration("duration", time.Minute, "time spent sending, restarts not included; the kills fall at random moments within it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, cleanup, err := c.workDir(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	logw, closeLog, err := c.logTo(dir, "danmakud", stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	fmt.Fprintf(stdout, "crash: %d kills over %v, target %.0f sends/s from %d clients, %d videos, %d users\n",
		*kills, *duration, c.rate, c.workers, c.videos, c.users)
	rep, err := reliability.RunCrash(ctx, reliability.CrashConfig{
		Bin: c.bin, DataDir: filepath.Join(dir, "data"),
		Kills: *kills, Duration: *duration, Rate: c.rate, Workers: c.workers,
		Videos: c.videos, Users: c.users, Seed: c.seed,
		ServerLog: logw, Progress: stdout,
	})
	fmt.Fprintln(stdout, rep)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lost %d of %d acknowledged; duplicates %d; failed requests %d (%s)\n",
		rep.Lost, rep.Acknowledged, rep.Duplicates, rep.Sends.Failed(), rep.Sends)
	for _, e := range rep.Examples {
		fmt.Fprintln(stdout, "  ", e)
	}
	if !rep.Check.OK() || rep.Sends[reliability.Unclear] != 0 {
		return errCheck
	}
	fmt.Fprintln(stdout, "PASS")
	return nil
}

func runOutage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("danmaku-chaos dynamo-outage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, 200, 32, 4, 200)
	dynalite := fs.String("dynalite", filepath.Join("node_modules", "dynalite", "cli.js"), "dynalite's cli.js")
	node := fs.String("node", "node", "node binary")
	before := fs.Duration("before", 3*time.Second, "sending before dynalite is killed")
	down := fs.Duration("down", 5*time.Second, "how long dynalite stays down")
	after := fs.Duration("after", 5*time.Second, "sending after dynalite is started again")
	readers := fs.Int("readers", 4, "concurrent readers querying meanwhile")
	retry := fs.Duration("dynamodb-retry", 0, "danmakud's -dynamodb-retry (0: the server's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	script, err := filepath.Abs(*dynalite)
	if err != nil {
		return err
	}
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("dynalite: %w (run scripts/services.sh start, or pass -dynalite)", err)
	}
	dir, cleanup, err := c.workDir(ctx, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	srvLog, closeSrv, err := c.logTo(dir, "danmakud", stderr)
	if err != nil {
		return err
	}
	defer closeSrv()
	dynLog, closeDyn, err := c.logTo(dir, "dynalite", stderr)
	if err != nil {
		return err
	}
	defer closeDyn()

	fmt.Fprintf(stdout, "dynamo-outage: %v up, %v down, %v up again; target %.0f sends/s from %d clients, %d readers\n",
		*before, *down, *after, c.rate, c.workers, *readers)
	rep, err := reliability.RunDynamoOutage(ctx, reliability.OutageConfig{
		Bin: c.bin, DynaliteScript: script, Node: *node, Dir: dir,
		Before: *before, Down: *down, After: *after,
		Rate: c.rate, Workers: c.workers, Readers: *readers,
		Videos: c.videos, Users: c.users, RetryDeadline: *retry, Seed: c.seed,
		ServerLog: srvLog, DynaliteLog: dynLog,
	})
	fmt.Fprintln(stdout, rep)
	if err != nil {
		return err
	}
	if len(rep.UnclearExamples) > 0 {
		fmt.Fprintln(stdout, "unclear answers:\n  "+strings.Join(rep.UnclearExamples, "\n  "))
	}
	for _, e := range rep.Examples {
		fmt.Fprintln(stdout, "  ", e)
	}
	ok := rep.Check.OK() && rep.Unclear() == 0 && rep.Recovery > 0 &&
		rep.SendsRecovered[reliability.OK] > 0 && rep.SendsRecovered.Failed() == 0
	if !ok {
		return errCheck
	}
	fmt.Fprintln(stdout, "PASS")
	return nil
}
