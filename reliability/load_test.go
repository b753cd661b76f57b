package reliability

import (
	"errors"
	"net/http"
	"os"
	"slices"
	"testing"
)

func TestClassifyError(t *testing.T) {
	retry := http.Header{"Retry-After": {"1"}}
	tests := []struct {
		name   string
		status int
		hdr    http.Header
		body   string
		want   Outcome
	}{
		{"503 with Retry-After", 503, retry, `{"error":{"code":"unavailable","message":"storage is unavailable"}}`, Unavailable},
		{"503 without Retry-After", 503, nil, `{"error":{"code":"unavailable","message":"storage is unavailable"}}`, Unclear},
		{"503 with a bad Retry-After", 503, http.Header{"Retry-After": {"soon"}}, `{"error":{"code":"unavailable","message":"x"}}`, Unclear},
		{"503 from a proxy", 503, retry, `<html>Service Unavailable</html>`, Unclear},
		{"400 with a JSON error", 400, nil, `{"error":{"code":"invalid","message":"text is empty"}}`, ClearError},
		{"429 with a JSON error", 429, retry, `{"error":{"code":"rate_limited","message":"slow down"}}`, ClearError},
		{"500 without a message", 500, nil, `{"error":{"code":"internal"}}`, Unclear},
		{"500 plain text", 500, nil, `internal error`, Unclear},
		{"empty body", 502, nil, ``, Unclear},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, detail := classifyError(tt.status, tt.hdr, []byte(tt.body))
			if got != tt.want {
				t.Errorf("classifyError = %v (%s), want %v", got, detail, tt.want)
			}
		})
	}
}

func TestTransportOutcome(t *testing.T) {
	if got := transportOutcome(os.ErrDeadlineExceeded); got != Timeout {
		t.Errorf("deadline exceeded: got %v, want %v", got, Timeout)
	}
	if got := transportOutcome(errors.New("connection refused")); got != ConnError {
		t.Errorf("refused: got %v, want %v", got, ConnError)
	}
}

func TestCountsAndAcks(t *testing.T) {
	attempts := []Attempt{
		{Outcome: OK, Video: "v", ID: "1", Text: "a"},
		{Outcome: OK, Video: "v", Read: true},
		{Outcome: ConnError, Video: "v", Text: "b"},
		{Outcome: Unavailable, Video: "w", Text: "c"},
		{Outcome: OK, Video: "w", ID: "2", Text: "d"},
	}
	c := Tally(attempts, func(a Attempt) bool { return !a.Read })
	if c.Total() != 4 || c.Failed() != 2 || c[OK] != 2 {
		t.Errorf("Tally = %v, want 4 sends with 2 ok", c)
	}
	if got, want := c.String(), "ok 2, connection error 1, 503 unavailable 1"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	want := []Ack{{"v", "1", "a"}, {"w", "2", "d"}}
	if got := Acks(attempts); !slices.Equal(got, want) {
		t.Errorf("Acks = %v, want %v", got, want)
	}
}
