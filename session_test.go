package danmaku

import (
	"strings"
	"testing"
	"time"
)

func TestSessionIDRoundTrip(t *testing.T) {
	for _, ms := range []int64{0, 1, 1_700_000_000_000, 1_764_979_200_123, 2_840_000_000_000} {
		id := SessionID(time.UnixMilli(ms))
		got, err := ParseSessionID(id)
		if err != nil || got != ms {
			t.Errorf("ParseSessionID(SessionID(%d) = %q) = %d, %v", ms, id, got, err)
		}
	}
	if a, b := SessionID(time.UnixMilli(1_700_000_000_000)), SessionID(time.UnixMilli(1_700_000_000_001)); a == b {
		t.Errorf("two starts one millisecond apart share the id %q", a)
	}
	for _, bad := range []string{"", "ABC", "0a", "a-b", "a b", strings.Repeat("z", MaxSessionIDLen+1), "../x", "é"} {
		if _, err := ParseSessionID(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParseSessionID(%q) = %v, want an EINVALID error", bad, err)
		}
	}
}

func TestValidateRecordingURL(t *testing.T) {
	for _, ok := range []string{"", "https://example.com/live.mp4", "http://127.0.0.1:8080/a/b.m3u8?x=1"} {
		if err := ValidateRecordingURL(ok); err != nil {
			t.Errorf("ValidateRecordingURL(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"javascript:alert(1)", "ftp://example.com/a", "//example.com/a", "https://", "https://u:p@example.com/a",
		"https://example.com/a b", "https://example.com/" + strings.Repeat("a", MaxRecordingURLLen)} {
		if err := ValidateRecordingURL(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ValidateRecordingURL(%q) = %v, want an EINVALID error", bad, err)
		}
	}
}
