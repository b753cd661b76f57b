package danmaku_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
)

// seedBody is the body of the seed document's curl request.
const seedBody = `{"objectId":"1","userId":"1","ownerId":"1","content":{ "text":"haha" ,"color":"yellow","size":"40px","position":1,"time":14}}`

func TestParseSendSeedBody(t *testing.T) {
	req, err := danmaku.ParseSend([]byte(seedBody), danmaku.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := danmaku.SendRequest{
		ObjectID: "1", UserID: "1", OwnerID: "1",
		Content: danmaku.Content{Text: "haha", Color: 0xffff00, Size: 40, Position: danmaku.ModeScroll, Time: 14_000},
	}
	if req != want {
		t.Fatalf("ParseSend = %+v, want %+v", req, want)
	}
}

func TestParseSendAccepts(t *testing.T) {
	tests := []struct {
		name    string
		content string
		check   func(danmaku.Content) bool
	}{
		{"defaults", `{"text":"a"}`, func(c danmaku.Content) bool {
			return c.Color == danmaku.White && c.Size == 25 && c.Position == 1 && c.Time == 0
		}},
		{"hex colour", `{"text":"a","color":"#B7DAFF"}`, func(c danmaku.Content) bool { return c.Color == 0xb7daff }},
		{"short hex", `{"text":"a","color":"#f0a"}`, func(c danmaku.Content) bool { return c.Color == 0xff00aa }},
		{"integer colour", `{"text":"a","color":16777215}`, func(c danmaku.Content) bool { return c.Color == 0xffffff }},
		{"integer colour as text", `{"text":"a","color":"15138834"}`, func(c danmaku.Content) bool { return c.Color == 15138834 }},
		{"size number", `{"text":"a","size":18}`, func(c danmaku.Content) bool { return c.Size == 18 }},
		{"size name", `{"text":"a","size":"large"}`, func(c danmaku.Content) bool { return c.Size == 36 }},
		{"top", `{"text":"a","position":5}`, func(c danmaku.Content) bool { return c.Position == danmaku.ModeTop }},
		{"bottom", `{"text":"a","position":4}`, func(c danmaku.Content) bool { return c.Position == danmaku.ModeBottom }},
		{"bilibili scroll 2", `{"text":"a","position":2}`, func(c danmaku.Content) bool { return c.Position == danmaku.ModeScroll }},
		{"millisecond time", `{"text":"a","time":490.191}`, func(c danmaku.Content) bool { return c.Time == 490_191 }},
		{"time zero", `{"text":"a","time":0}`, func(c danmaku.Content) bool { return c.Time == 0 }},
		{"trimmed", `{"text":"  前方高能  "}`, func(c danmaku.Content) bool { return c.Text == "前方高能" }},
		{"100 CJK characters", `{"text":"` + strings.Repeat("弹", 100) + `"}`, func(c danmaku.Content) bool { return utf8.RuneCountInString(c.Text) == 100 }},
		{"html stays text", `{"text":"<img src=x onerror=alert(1)>"}`, func(c danmaku.Content) bool { return c.Text == "<img src=x onerror=alert(1)>" }},
		{"unknown fields dropped", `{"text":"a","evil":{"x":1}}`, func(c danmaku.Content) bool { return c.Text == "a" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"objectId":"v1","userId":"u","content":` + tc.content + `,"extra":true}`
			req, err := danmaku.ParseSend([]byte(body), danmaku.DefaultLimits())
			if err != nil {
				t.Fatalf("ParseSend: %v", err)
			}
			if !tc.check(req.Content) {
				t.Fatalf("content = %+v", req.Content)
			}
		})
	}
}

func TestParseSendRejects(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"not json", `{"objectId":`, ""},
		{"array", `[1,2]`, ""},
		{"two objects", `{"objectId":"1","content":{"text":"a"}} {}`, ""},
		{"no object id", `{"content":{"text":"a"}}`, "objectId"},
		{"bad object id", `{"objectId":"a/b","content":{"text":"a"}}`, "objectId"},
		{"long object id", `{"objectId":"` + strings.Repeat("a", 129) + `","content":{"text":"a"}}`, "objectId"},
		{"object id not string", `{"objectId":{},"content":{"text":"a"}}`, "objectId"},
		{"no content", `{"objectId":"1"}`, "content"},
		{"content not object", `{"objectId":"1","content":"haha"}`, "content"},
		{"no text", `{"objectId":"1","content":{}}`, "content.text"},
		{"blank text", `{"objectId":"1","content":{"text":"   "}}`, "content.text"},
		{"text too long", `{"objectId":"1","content":{"text":"` + strings.Repeat("弹", 101) + `"}}`, "content.text"},
		{"control character", `{"objectId":"1","content":{"text":"a\u0007b"}}`, "content.text"},
		{"newline", `{"objectId":"1","content":{"text":"a\nb"}}`, "content.text"},
		{"text not string", `{"objectId":"1","content":{"text":5}}`, "content.text"},
		{"unknown colour", `{"objectId":"1","content":{"text":"a","color":"blurple"}}`, "content.color"},
		{"colour too big", `{"objectId":"1","content":{"text":"a","color":16777216}}`, "content.color"},
		{"bad hex", `{"objectId":"1","content":{"text":"a","color":"#12345g"}}`, "content.color"},
		{"size too big", `{"objectId":"1","content":{"text":"a","size":"400px"}}`, "content.size"},
		{"size nonsense", `{"objectId":"1","content":{"text":"a","size":"huge-ish"}}`, "content.size"},
		{"mode 7", `{"objectId":"1","content":{"text":"a","position":7}}`, "content.position"},
		{"mode fraction", `{"objectId":"1","content":{"text":"a","position":1.5}}`, "content.position"},
		{"negative time", `{"objectId":"1","content":{"text":"a","time":-1}}`, "content.time"},
		{"huge time", `{"objectId":"1","content":{"text":"a","time":1e300}}`, "content.time"},
		{"time as text", `{"objectId":"1","content":{"text":"a","time":"14"}}`, "content.time"},
		{"user id with control", `{"objectId":"1","userId":"a\u0000b","content":{"text":"a"}}`, "userId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := danmaku.ParseSend([]byte(tc.body), danmaku.DefaultLimits())
			if err == nil {
				t.Fatal("accepted")
			}
			if code := danmaku.ErrorCode(err); code != danmaku.EINVALID {
				t.Fatalf("code = %q, want invalid (%v)", code, err)
			}
			var e *danmaku.Error
			if !asError(err, &e) || e.Field != tc.field {
				t.Fatalf("field = %q, want %q (%v)", e.Field, tc.field, err)
			}
			if e.Message == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestParseSendInvalidUTF8(t *testing.T) {
	body := []byte(`{"objectId":"1","content":{"text":"ok` + "\xff\xfe" + `"}}`)
	req, err := danmaku.ParseSend(body, danmaku.DefaultLimits())
	// encoding/json replaces invalid bytes with U+FFFD; either outcome is
	// safe as long as what is kept is valid UTF-8.
	if err == nil && !utf8.ValidString(req.Content.Text) {
		t.Fatalf("kept invalid UTF-8: %q", req.Content.Text)
	}
}

func TestConfigurableTextLimit(t *testing.T) {
	body := []byte(`{"objectId":"1","content":{"text":"12345"}}`)
	if _, err := danmaku.ParseSend(body, danmaku.Limits{MaxTextRunes: 4}); err == nil {
		t.Fatal("5 characters accepted with a limit of 4")
	}
	if _, err := danmaku.ParseSend(body, danmaku.Limits{MaxTextRunes: 5}); err != nil {
		t.Fatalf("5 characters refused with a limit of 5: %v", err)
	}
}

func TestContentJSONShape(t *testing.T) {
	c := danmaku.Content{Text: "haha", Color: 0xffff00, Size: 40, Position: 1, Time: 14_250}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"text":"haha","color":"#ffff00","size":"40px","position":1,"time":14.25}`; string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var back danmaku.Content
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
}

func asError(err error, target **danmaku.Error) bool {
	e, ok := err.(*danmaku.Error)
	if ok {
		*target = e
	} else {
		*target = &danmaku.Error{}
	}
	return ok
}

// FuzzParseSend checks that no body makes the decoder panic, that every
// refusal is an EINVALID *Error, and that what it accepts is valid.
func FuzzParseSend(f *testing.F) {
	f.Add([]byte(seedBody))
	f.Add([]byte(`{"objectId":"v","content":{"text":"弹幕","color":16777215,"size":25,"position":5,"time":1.5}}`))
	f.Add([]byte(`{"objectId":"v","content":{"text":"\u200b","color":"#fff","size":"small"}}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Add([]byte(`{"objectId":1e400}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := danmaku.ParseSend(body, danmaku.DefaultLimits())
		if err != nil {
			if danmaku.ErrorCode(err) != danmaku.EINVALID {
				t.Fatalf("error code %q for %q: %v", danmaku.ErrorCode(err), body, err)
			}
			return
		}
		if danmaku.ValidateObjectID(req.ObjectID) != nil {
			t.Fatalf("accepted bad objectId %q", req.ObjectID)
		}
		if _, err := danmaku.ValidateText(req.Content.Text, danmaku.DefaultLimits()); err != nil {
			t.Fatalf("accepted bad text %q: %v", req.Content.Text, err)
		}
		if !danmaku.ValidMode(req.Content.Position) || req.Content.Size < danmaku.MinSize || req.Content.Size > danmaku.MaxSize ||
			req.Content.Time < 0 || req.Content.Time > danmaku.MaxPlayMs || req.Content.Color > 0xffffff {
			t.Fatalf("accepted out-of-range content %+v", req.Content)
		}
	})
}

func TestValidateTextRefusesInvisibleAndAbusive(t *testing.T) {
	lim := danmaku.DefaultLimits()
	cases := []struct {
		name, text, why string
	}{
		{"zero-width only", "\u200b\u200c\u200d\u2060\ufeff", "no visible character"},
		{"hangul filler only", "\u3164\u3164", "no visible character"},
		{"halfwidth hangul filler", "\uffa0", "no visible character"},
		{"braille blank", "\u2800 \u2800", "no visible character"},
		{"marks only", "\u0301\u0301", "no visible character"},
		{"zalgo", "a" + strings.Repeat("\u0301", 99), "combining marks"},
		{"four marks", "e\u0301\u0302\u0303\u0304", "combining marks"},
		{"right-to-left override", "\u202emaps", "bidirectional"},
		{"left-to-right embedding", "a\u202ab", "bidirectional"},
		{"pop directional formatting", "ab\u202c", "bidirectional"},
		{"right-to-left isolate", "\u2067text\u2069", "bidirectional"},
		{"first strong isolate", "\u2068x", "bidirectional"},
	}
	for _, c := range cases {
		_, err := danmaku.ValidateText(c.text, lim)
		var e *danmaku.Error
		if !errors.As(err, &e) || e.Code != danmaku.EINVALID || !strings.Contains(e.Message, c.why) {
			t.Errorf("%s: ValidateText(%q) = %v, want EINVALID saying %q", c.name, c.text, err, c.why)
		}
	}
	ok := []string{
		"e\u0301\u0302\u0303", // Three marks on one letter.
		"שלום\u200f world",    // A right-to-left mark is allowed.
		"👨\u200d👩\u200d👧",     // Emoji joined by zero-width joiners.
		"1\ufe0f\u20e3",       // Keycap: a variation selector and an enclosing mark.
		"안녕\u3164하세요",         // A Hangul filler beside visible letters.
		"!!!",                 // Punctuation is visible.
		"ｗｗｗ",                 // Full-width letters.
	}
	for _, s := range ok {
		if _, err := danmaku.ValidateText(s, lim); err != nil {
			t.Errorf("ValidateText(%q) = %v, want accepted", s, err)
		}
	}
}
