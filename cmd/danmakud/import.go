package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/format/bilibili"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// importStats counts what an import did.
type importStats struct {
	imported, present, skipped int
}

// runImport runs "danmakud import": it streams a danmaku file into st for
// one video and prints a summary line to stdout. Danmaku already in the
// store (the same file imported before: import ids are derived from the
// file) are counted, not rewritten. A progress bar of bytes read goes to
// stderr when stderr is a terminal.
func runImport(ctx context.Context, st danmaku.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "bilibili", "file `format`: bilibili (Bilibili danmaku XML)")
	object := fs.String("object", "", "`objectId` of the video to import into (required)")
	file := fs.String("file", "", "`path` of the file to read, or - for standard input (or give it as the argument)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: danmakud [flags] import -object ID [-format bilibili] [-file] PATH\n\n"+
			"Imports a danmaku file into the store. Importing the same file again adds nothing.\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *file
	switch {
	case path == "" && fs.NArg() == 1:
		path = fs.Arg(0)
	case fs.NArg() > 1 || fs.NArg() == 1 && path != "":
		return fmt.Errorf("import: unexpected arguments %q", fs.Args())
	case path == "":
		return errors.New("import: name the file with -file PATH, as an argument, or - for standard input")
	}
	if err := danmaku.ValidateObjectID(*object); err != nil {
		var e *danmaku.Error
		if errors.As(err, &e) {
			return fmt.Errorf("import: -object %s", e.Message)
		}
		return fmt.Errorf("import: -object: %w", err)
	}
	if *format != "bilibili" {
		return fmt.Errorf("import: -format %q is not supported (supported: bilibili)", *format)
	}

	in, size, closeIn, err := openInput(path)
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
	stats, err := importBilibili(ctx, st, *object, r)
	if err != nil {
		return fmt.Errorf("import %s: %w (imported %d before stopping)", path, err, stats.imported)
	}
	fmt.Fprintf(stdout, "imported %d, already present %d, skipped %d (into %s in %s)\n",
		stats.imported, stats.present, stats.skipped, *object, time.Since(start).Round(time.Millisecond))
	return nil
}

// importBatch is how many danmaku an import writes per commit when the
// store can write batches.
const importBatch = 500

// importBilibili decodes Bilibili XML from r and puts every danmaku into st
// under objectID, in batches when st is a danmaku.BatchPutter.
func importBilibili(ctx context.Context, st danmaku.Store, objectID string, r io.Reader) (importStats, error) {
	var s importStats
	bp, batched := st.(danmaku.BatchPutter)
	var batch []*danmaku.Danmaku
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := bp.PutBatch(ctx, batch)
		if err != nil {
			return fmt.Errorf("store %d danmaku: %w", len(batch), err)
		}
		s.imported += n
		s.present += len(batch) - n
		batch = batch[:0]
		return nil
	}
	res, err := bilibili.Decode(r, func(d *danmaku.Danmaku) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.ObjectID = objectID
		if batched {
			batch = append(batch, d)
			if len(batch) >= importBatch {
				return flush()
			}
			return nil
		}
		switch err := st.Put(ctx, d); {
		case errors.Is(err, danmaku.ErrConflict):
			s.present++
		case err != nil:
			return fmt.Errorf("store danmaku %s: %w", d.ID, err)
		default:
			s.imported++
		}
		return nil
	})
	s.skipped = res.Skipped
	if err != nil {
		return s, err
	}
	return s, flush()
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
