package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build builds danmakud into dir and returns the binary's path. It runs
// the go command, so the working directory must be inside the module.
// The binary carries no version-control stamp, so that building needs no
// git.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "danmakud")
	if err := runQuiet(ctx, "go", "build", "-buildvcs=false", "-o", bin, "github.com/danmakud/danmakud/cmd/danmakud"); err != nil {
		return "", fmt.Errorf("build danmakud: %w", err)
	}
	return bin, nil
}

// built is the danmakud binary that Binary builds once per test process,
// in a directory that Main removes.
var built struct {
	mu  sync.Mutex
	dir string // Set by Main.
	bin string
	err error
}

// Main runs the tests of a package that calls Binary and then removes the
// binary. Use it as TestMain's body: os.Exit(testenv.Main(m)). m is a
// *testing.M or something that wraps its Run.
func Main(m interface{ Run() int }) int {
	dir, err := os.MkdirTemp("", "danmakud-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	built.mu.Lock()
	built.dir = dir
	built.mu.Unlock()
	return m.Run()
}

// Binary returns the danmakud binary of this test process, building it on
// the first call; every later call, from any test of the package, gets the
// same binary. The package's TestMain must run the tests through Main. A
// failed build fails every test that asks for the binary.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// binary builds the binary once and returns it.
func binary() (string, error) {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.bin != "" || built.err != nil {
		return built.bin, built.err
	}
	if built.dir == "" {
		return "", errors.New("testenv.Binary: the package's TestMain must call testenv.Main")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	built.bin, built.err = Build(ctx, built.dir)
	return built.bin, built.err
}

// ModuleRoot returns the directory of the go.mod that holds the working
// directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// RepoRoot is ModuleRoot for tests: it fails the test if there is no
// go.mod above the working directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// BaseArgs returns the flags that load runs (reliability, cluster) pass to
// the danmakud binary bin: quieter logs, pages of up to 1,000 danmaku for
// the check, and -rate-limits=false when the binary has that flag, so
// that the senders measure the store rather than the limiter.
func BaseArgs(bin string) ([]string, error) {
	flags, err := ServerFlags(bin)
	if err != nil {
		return nil, err
	}
	args := []string{"-log-level", "warn", "-max-page-size", "1000"}
	if flags["rate-limits"] {
		args = append(args, "-rate-limits=false")
	}
	return args, nil
}

// ServerFlags returns the names of the flags that "bin -h" lists.
func ServerFlags(bin string) (map[string]bool, error) {
	var out bytes.Buffer
	cmd := exec.Command(bin, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -h: %w: %s", bin, err, out.String())
	}
	flags := map[string]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "-") {
			continue
		}
		name, _, _ := strings.Cut(line[1:], " ")
		flags[name] = true
	}
	return flags, nil
}

// runQuiet runs name with args and returns an error with its output if it
// fails.
func runQuiet(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
