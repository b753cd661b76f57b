package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/format/bilibili"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// importArgs are the arguments of "danmakud import".
type importArgs struct {
	format, object, path string
}

// parseImport reads the arguments of "danmakud import". It touches no
// store, so that "import -h" and a mistyped command change nothing on disk.
func parseImport(args []string, stderr io.Writer) (importArgs, error) {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "bilibili", "file `format`: bilibili (Bilibili danmaku XML)")
	object := fs.String("object", "", "`objectId` of the video to import into (required)")
	file := fs.String("file", "", "`path` of the file to read, or - for standard input (or give it as the argument)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: danmakud [flags] import -object ID [-format bilibili] [-file] PATH\n\n"+
			"Imports a danmaku file into the store (-store, -data). Importing the same file again adds nothing.\n"+
			"The embedded store can be open in one process only: stop a server that uses the same -data first.\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return importArgs{}, err
	}
	a := importArgs{format: *format, object: *object, path: *file}
	switch {
	case a.path == "" && fs.NArg() == 1:
		a.path = fs.Arg(0)
	case fs.NArg() > 1 || fs.NArg() == 1 && a.path != "":
		return a, fmt.Errorf("import: unexpected arguments %q", fs.Args())
	case a.path == "":
		return a, errors.New("import: name the file with -file PATH, as an argument, or - for standard input")
	}
	if err := danmaku.ValidateObjectID(a.object); err != nil {
		var e *danmaku.Error
		if errors.As(err, &e) {
			return a, fmt.Errorf("import: -object %s", e.Message)
		}
		return a, fmt.Errorf("import: -object: %w", err)
	}
	if a.format != "bilibili" {
		return a, fmt.Errorf("import: -format %q is not supported (supported: bilibili)", a.format)
	}
	return a, nil
}

// storeInUse tells whether err is the embedded store's lock held by
// another process (Pebble locks its directory with flock, which fails with
// EAGAIN, "resource temporarily unavailable").
func storeInUse(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
}

// runImport runs "danmakud import" with the arguments that parseImport
// read: it streams a danmaku file into st for one video and prints a
// summary line to stdout. Danmaku already in the store (the same file
// imported before: import ids are derived from the file) are counted, not
// rewritten. A progress bar of bytes read goes to stderr when stderr is a
// terminal.
func runImport(ctx context.Context, st danmaku.Store, a importArgs, stdout, stderr io.Writer) error {
	in, size, closeIn, err := openInput(a.path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer closeIn()
	r := in
	if bar := newBar(stderr, size); bar != nil {
		r = io.TeeReader(in, bar)
		defer func() { _ = bar.Finish() }()
	}

	start := time.Now()
	stats, err := bilibili.Import(ctx, st, a.object, r)
	if err != nil {
		return fmt.Errorf("import %s: %w (imported %d before stopping)", a.path, err, stats.Imported)
	}
	fmt.Fprintf(stdout, "imported %d, already present %d, skipped %d (into %s in %s)\n",
		stats.Imported, stats.Present, stats.Skipped, a.object, time.Since(start).Round(time.Millisecond))
	return nil
}

// openInput opens path, or standard input for "-", and returns its size
// (-1 when unknown) and a function that closes it.
func openInput(path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		return os.Stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, func() { _ = f.Close() }, nil
}

// newBar returns a progress bar of bytes read, written to w, or nil when w is
// not a terminal (a log file or a pipe gets only the summary).
func newBar(w io.Writer, size int64) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
