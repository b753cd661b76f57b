package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSendFloorAppendsAndSyncsValidSends checks that the send floor
// answers a valid send with its item and appends it as one line, and
// refuses a bad one with 400, appending nothing.
func TestSendFloorAppendsAndSyncsValidSends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sends.log")
	log, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	h := sendFloorHandler(log)
	post := func(body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/danmu/send", strings.NewReader(body)))
		return w
	}
	ok := post(`{"objectId":"v1","userId":"u1","content":{"text":"前方高能","color":"#ffffff","size":25,"position":1,"time":3.5}}`)
	if ok.Code != http.StatusOK || !strings.Contains(ok.Body.String(), "前方高能") {
		t.Fatalf("valid send: %d %s", ok.Code, ok.Body)
	}
	if bad := post(`{"objectId":"v1","content":{"text":""}}`); bad.Code != http.StatusBadRequest {
		t.Errorf("invalid send: %d %s, want 400", bad.Code, bad.Body)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(b, []byte("\n")); lines != 1 || !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(ok.Body.Bytes())) {
		t.Errorf("the log holds %d lines %q, want the one answered item", lines, b)
	}
}

// TestFloorWithSends checks the floor's CPU per delivery once the durable
// sends are added: 2 s for 10 million deliveries plus 1,000 sends of
// 300 µs is 2.3 s, 0.23 µs a delivery.
func TestFloorWithSends(t *testing.T) {
	r := result{cpuSeconds: 2, cpuPerMillion: 0.2}
	if got := r.withSends(1000, 300); got < 0.2299 || got > 0.2301 {
		t.Errorf("withSends = %v, want 0.23", got)
	}
	if got := (result{}).withSends(1000, 300); got != 0 {
		t.Errorf("withSends of an empty result = %v, want 0", got)
	}
}
