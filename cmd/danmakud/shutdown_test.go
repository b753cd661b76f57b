package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/internal/wsclient"
	"github.com/danmakud/danmakud/store/pebble"
)

// TestGracefulShutdownLosesNothing stops the server (as SIGTERM does) while
// senders are busy and a viewer is connected: every send that got a 200 is
// in the store afterwards, and the viewer is closed with "going away".
func TestGracefulShutdownLosesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	args := []string{"-addr", "127.0.0.1:0", "-data", dir, "-log-level", "error", "-rate-limits=false"}
	go func() { done <- run(ctx, args, io.Discard, io.Discard, func(a net.Addr) { addrc <- a }) }()
	var base string
	select {
	case a := <-addrc:
		base = a.String()
	case err := <-done:
		t.Fatalf("server ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}

	viewer, err := wsclient.Dial(context.Background(), "ws://"+base+"/danmu/ws/shut", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	closed := make(chan int, 1)
	go func() {
		for {
			if _, _, err := viewer.ReadMessage(); err != nil {
				var ce *wsclient.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				} else {
					closed <- -1
				}
				return
			}
		}
	}()

	var mu sync.Mutex
	var acked []danmaku.ID
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"objectId":"shut","content":{"text":"w%d n%d","time":%d}}`, w, i, i%100)
				resp, err := client.Post("http://"+base+"/danmu/send", "application/json", strings.NewReader(body))
				if err != nil {
					continue // The server is going away: not acknowledged.
				}
				var d danmaku.Danmaku
				ok := resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&d) == nil
				resp.Body.Close()
				if ok {
					mu.Lock()
					acked = append(acked, d.ID)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	cancel() // What SIGTERM does in main.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	close(stop)
	wg.Wait()

	select {
	case code := <-closed:
		if code != 1001 {
			t.Errorf("viewer closed with %d, want 1001 (going away)", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("viewer was not closed")
	}
	if len(acked) == 0 {
		t.Fatal("no send was acknowledged before the shutdown")
	}
	st, err := pebble.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range acked {
		if _, err := st.Get(context.Background(), "shut", id); err != nil {
			t.Fatalf("acknowledged danmaku %s is not stored: %v", id, err)
		}
	}
	t.Logf("%d acknowledged danmaku, all stored", len(acked))
}
