package danmaku

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// parseFastSeeds are bodies for FuzzParseFast: plain ones that the fast
// parser takes, and near misses that it must leave to encoding/json.
var parseFastSeeds = []string{
	`{"objectId":"1","userId":"1","ownerId":"1","content":{"text":"haha","color":"yellow","size":"40px","position":1,"time":14}}`,
	` { "objectId" : "v" , "content" : { "text" : "弹幕" , "time" : 1.5e3 , "size" : 25 } } `,
	`{"objectId":12,"content":{"text":"x","color":16777215,"position":-0,"time":0.001}}`,
	`{}`, `{"content":{}}`, `{"objectId":"v"}{}`, `{"objectId":"v",}`, `{"objectId":"v","objectId":"w"}`,
	`{"OBJECTID":"v"}`, `{"objectId":null}`, `{"objectId":"a\"b"}`, `{"objectId":"\u0041"}`, `{"objectId":01}`,
	`{"objectId":1.}`, `{"objectId":.5}`, `{"objectId":1e}`, `{"objectId":1e400}`, `{"objectId":+1}`, `{"objectId":0x10}`,
	`{"objectId":true}`, `{"objectId":["v"]}`, `{"content":{"text":{"a":1}}}`, `{"content":"x"}`, `{"extra":1}`,
	"{\"objectId\":\"a\tb\"}", `[{"objectId":"v"}]`, `{"objectId":"v"`, `{"objectId":-}`, `{"content":{"text":"a","text":"b"}}`,
}

// FuzzParseFast checks that whatever the fast parser accepts, it decodes
// exactly as encoding/json does, so that the fast path never changes what
// a send means.
func FuzzParseFast(f *testing.F) {
	for _, s := range parseFastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return // ParseSend refuses it before parsing.
		}
		var fast rawSend
		if !fast.parseFast(body) {
			return
		}
		var slow rawSend
		if err := slow.parseJSON(body); err != nil {
			t.Fatalf("fast parser accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast parser gives %#v, encoding/json %#v", body, fast, slow)
		}
	})
}

// TestParseFastTakesPlainBodies checks that the fast path is taken for the
// bodies clients send, so that it is not silently dead.
func TestParseFastTakesPlainBodies(t *testing.T) {
	for _, s := range parseFastSeeds[:4] {
		var r rawSend
		if !r.parseFast([]byte(s)) {
			t.Errorf("fast parser refused %s", s)
		}
	}
}

// BenchmarkParseSend measures ParseSend on the seed's body (the fast
// path); BenchmarkParseSendJSON decodes the same body with encoding/json
// alone, its baseline.
func BenchmarkParseSend(b *testing.B) {
	body := []byte(parseFastSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSend(body, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSendJSON(b *testing.B) {
	body := []byte(parseFastSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		var r rawSend
		if err := r.parseJSON(body); err != nil {
			b.Fatal(err)
		}
		if _, err := r.validate(DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
