package webapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWriteErrorLogsOnlyServerFailures checks that an internal error is
// logged as an error, but not when it only says that the client went away.
func TestWriteErrorLogsOnlyServerFailures(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRequest("POST", "/danmu/send", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	WriteError(w, gone, log, fmt.Errorf("store danmaku: %w", context.Canceled))
	if w.Code != 500 || logs.Len() != 0 {
		t.Fatalf("client gone: status %d, log %q; want 500 and no log", w.Code, logs.String())
	}

	live := httptest.NewRequest("POST", "/danmu/send", nil)
	WriteError(httptest.NewRecorder(), live, log, errors.New("disk on fire"))
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("server failure was not logged as an error: %q", logs.String())
	}
}
