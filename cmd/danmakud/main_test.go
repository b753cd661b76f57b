package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestSettingsPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "danmakud.conf")
	conf := "# comment\nmax-text = 50\npage-size = 5\naddr = \":7000\"\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DANMAKUD_CONFIG": file, "DANMAKUD_PAGE_SIZE": "7"}
	m := NewMain(io.Discard)
	rest, err := m.ParseFlags([]string{"-addr", ":6000", "import", "x"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.Addr != ":6000" || c.PageSize != 7 || c.MaxText != 50 || c.MaxPageSize != 100 {
		t.Fatalf("flag > env > file > default broken: %+v", c)
	}
	if strings.Join(rest, " ") != "import x" {
		t.Fatalf("rest = %q", rest)
	}
}

func TestInvalidSettingsNameTheSetting(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-max-text", "0"}, nil, "-max-text"},
		{[]string{"-max-text", "abc"}, nil, "max-text"},
		{nil, map[string]string{"DANMAKUD_MAX_BODY": "nope"}, "DANMAKUD_MAX_BODY"},
		{[]string{"-store", "mysql"}, nil, "-store"},
		{[]string{"-log-format", "xml"}, nil, "-log-format"},
		{[]string{"-page-size", "500"}, nil, "-page-size"},
		{[]string{"-config", "/does/not/exist"}, nil, "-config"},
		{[]string{"-admin-password", "short"}, nil, "-admin-password"},
		{nil, map[string]string{"DANMAKUD_ADMIN_PASSWORD": "elevenchars"}, "at least 12"},
		{[]string{"-secure-cookie", "sometimes"}, nil, "-secure-cookie"},
		{[]string{"-word-leet", "5=ss"}, nil, "-word-leet"},
		{[]string{"-word-leet", "a=b"}, nil, "-word-leet"},
		{[]string{"-gc-percent", "0"}, nil, "-gc-percent"},
		{[]string{"-gc-percent", "-5"}, nil, "-gc-percent"},
	}
	for _, tc := range tests {
		m := NewMain(io.Discard)
		_, err := m.ParseFlags(tc.args, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %v env %v: err = %v, want one naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

// TestGCPercentSetting checks where -gc-percent comes from: the flag, its
// DANMAKUD_ variable, Go's GOGC, and DefaultGCPercent when none is set.
func TestGCPercentSetting(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want int
	}{
		{nil, nil, DefaultGCPercent},
		{nil, map[string]string{"GOGC": "200"}, 200},
		{nil, map[string]string{"GOGC": "off"}, -1},
		{nil, map[string]string{"GOGC": "lots"}, DefaultGCPercent},
		{nil, map[string]string{"GOGC": "200", "DANMAKUD_GC_PERCENT": "80"}, 80},
		{[]string{"-gc-percent", "30"}, map[string]string{"GOGC": "200"}, 30},
	}
	for _, tc := range tests {
		m := NewMain(io.Discard)
		if _, err := m.ParseFlags(tc.args, func(k string) string { return tc.env[k] }); err != nil {
			t.Fatalf("args %v env %v: %v", tc.args, tc.env, err)
		}
		if m.Config.GCPercent != tc.want {
			t.Errorf("args %v env %v: -gc-percent %d, want %d", tc.args, tc.env, m.Config.GCPercent, tc.want)
		}
	}
}

// gogc reads the collector's target that is in force.
func gogc(t *testing.T) int64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("runtime/metrics has no /gc/gogc:percent")
	}
	return int64(s[0].Value.Uint64())
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	m := NewMain(&out)
	if _, err := m.ParseFlags([]string{"-h"}, func(string) string { return "" }); err == nil {
		t.Fatal("-h did not stop")
	}
	for _, name := range []string{"-addr", "-data", "-store", "-max-text", "-max-body", "-config", "-dynamodb-endpoint", "DANMAKUD_MAX_TEXT"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("-h does not mention %s", name)
		}
	}
}

// TestServeEndToEnd runs the whole server on a free port with the embedded
// store, sends the seed's request and stops it as SIGTERM would.
func TestServeEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	before := gogc(t)
	args := []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "warn", "-gc-percent", "37"}
	go func() { done <- run(ctx, args, io.Discard, io.Discard, func(a net.Addr) { addrc <- a }) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("server ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	if got := gogc(t); got != 37 {
		t.Errorf("serving with -gc-percent 37, the collector's target is %d", got)
	}
	body := `{"objectId":"1","userId":"1","ownerId":"1","content":{"text":"haha","color":"yellow","size":"40px","position":1,"time":14}}`
	resp, err := http.Post(base+"/danmu/send", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"text":"haha"`) {
		t.Fatalf("send: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Get(base + "/danmu/queryByTime/1?playingTime=14")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"text":"haha"`) {
		t.Fatalf("query: %s", b)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`danmakud_sends_total{outcome="accepted"} 1`, "danmakud_viewers 0", "danmakud_rooms",
		"danmakud_ticks_total", "danmakud_tick_lag_max_seconds", "danmakud_dropped_total{reason=\"tick_cap\"}",
		"danmakud_delivery_bytes_total", `danmakud_store_seconds_count{op="put",result="ok"} 1`, "go_goroutines"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err = http.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp.Status, err)
		}
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	if got := gogc(t); got != before {
		t.Errorf("after the server stopped, the collector's target is %d, not the %d it was", got, before)
	}
}

// TestMetricsTokenAndAddr runs the server with /metrics behind a bearer
// token (set through the environment) on its own address, and checks that
// the API's address no longer serves it.
func TestMetricsTokenAndAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	env := map[string]string{"DANMAKUD_METRICS_TOKEN": "metrics-token-for-test"}
	m := NewMain(io.Discard)
	if _, err := m.ParseFlags([]string{"-metrics-addr", metricsAddr}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if m.Config.MetricsToken != "metrics-token-for-test" || m.Config.SecureCookie != "auto" {
		t.Fatalf("settings: token %q, secure cookie %q", m.Config.MetricsToken, m.Config.SecureCookie)
	}

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args := []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "warn",
		"-metrics-addr", metricsAddr, "-metrics-token", "metrics-token-for-test"}
	go func() {
		done <- run(ctx, args, io.Discard, io.Discard, func(a net.Addr) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("server ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	defer func() {
		cancel()
		<-done
	}()
	get := func(url, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// The metrics listener starts beside the API; retry until it
		// answers.
		for range 100 {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("GET %s did not answer", url)
		return 0
	}
	if st := get(base+"/metrics", ""); st != http.StatusNotFound {
		t.Errorf("/metrics on the API address: %d, want 404", st)
	}
	if st := get("http://"+metricsAddr+"/metrics", ""); st != http.StatusUnauthorized {
		t.Errorf("/metrics on -metrics-addr without the token: %d, want 401", st)
	}
	if st := get("http://"+metricsAddr+"/metrics", "wrong-token"); st != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", st)
	}
	if st := get("http://"+metricsAddr+"/metrics", "metrics-token-for-test"); st != http.StatusOK {
		t.Errorf("/metrics with the token: %d, want 200", st)
	}
}
