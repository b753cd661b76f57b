package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danmakud/danmakud/store/pebble"
)

// TestImportHelpTouchesNoData checks that "import -h" and an import with
// bad arguments print their message without creating the data directory.
func TestImportHelpTouchesNoData(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "-h"}, "Usage: danmakud [flags] import"},
		{[]string{"import", "-object", "v1"}, "name the file"},
		{[]string{"import", "-object", "bad id", "x.xml"}, "-object"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"-data", data}, tc.args...), &stdout, &stderr, nil)
		if tc.args[1] == "-h" {
			if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("%v: err %v, stderr %q; want the help", tc.args, err, stderr.String())
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want one saying %q", tc.args, err, tc.want)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v made the data directory (stat: %v)", tc.args, err)
		}
	}
}

// TestImportWhileServerHoldsStore holds the embedded store open in
// another process, as a running server does, and checks that an import
// says so instead of Pebble's "resource temporarily unavailable".
func TestImportWhileServerHoldsStore(t *testing.T) {
	data := t.TempDir()
	holder := exec.Command(os.Args[0], "-test.run=^TestHoldStoreHelper$")
	holder.Env = append(os.Environ(), "DANMAKUD_TEST_HOLD_STORE="+data)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("the helper process did not open the store: %q %v", line, err)
	}
	sample := filepath.Join("..", "..", "testdata", "bilibili-sample-2016.xml")
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"-data", data, "import", "-object", "v1", sample}, &stdout, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "held by another process") || !strings.Contains(err.Error(), "running danmakud") {
		t.Fatalf("import into a held store: %v, want a message that a running server holds it", err)
	}
	stdin.Close() // The helper closes the store and exits.
	if err := holder.Wait(); err != nil {
		t.Fatalf("the helper process: %v", err)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"-data", data, "import", "-object", "v1", sample}, &stdout, &stderr, nil); err != nil {
		t.Fatalf("import once the store is free: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "imported ") {
		t.Fatalf("import printed %q", stdout.String())
	}
}

// TestHoldStoreHelper is the other process of
// TestImportWhileServerHoldsStore: it opens the store named by its
// environment, says so, and closes it when its standard input ends.
func TestHoldStoreHelper(t *testing.T) {
	dir := os.Getenv("DANMAKUD_TEST_HOLD_STORE")
	if dir == "" {
		return // Run directly, it has nothing to do.
	}
	st, err := pebble.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("holding")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
