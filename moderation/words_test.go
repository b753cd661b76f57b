package moderation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	danmaku "github.com/danmakud/danmakud"
)

func newTestFilter(t *testing.T) *Filter {
	t.Helper()
	f := NewFilter()
	err := f.Add(
		Rule{Word: "fuck", Action: Mask},
		Rule{Word: "傻逼", Action: Mask},
		Rule{Word: "spam link", Action: Shadow},
		Rule{Word: "法轮", Action: Reject},
		Rule{Word: "kill yourself", Action: Reject},
		Rule{Room: "room1", Word: "spoiler", Action: Mask},
		Rule{Room: "room1", Word: "凶手是", Action: Reject},
		Rule{Room: "room2", Word: "fuck", Action: Reject},
	)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFilterCheck(t *testing.T) {
	f := newTestFilter(t)
	tests := []struct {
		name   string
		room   string
		text   string
		action Action
		scope  Scope
		masked string
	}{
		{"clean", "", "hello world", Allow, ScopeNone, "hello world"},
		{"mask latin", "", "what the fuck", Mask, ScopeGlobal, "what the ****"},
		{"mask cjk", "", "你是傻逼吗", Mask, ScopeGlobal, "你是**吗"},
		{"mask full width", "", "ＦＵＣＫ off", Mask, ScopeGlobal, "**** off"},
		{"mask upper", "", "FuCk", Mask, ScopeGlobal, "****"},
		{"mask zero width", "", "傻\u200B逼", Mask, ScopeGlobal, "*\u200B*"},
		{"mask spaced", "", "f u c k", Mask, ScopeGlobal, "* * * *"},
		{"mask punctuated", "", "傻.逼", Mask, ScopeGlobal, "*.*"},
		{"mask emoji inserted", "", "傻😀逼", Mask, ScopeGlobal, "*😀*"},
		{"mask math bold", "", "𝐟𝐮𝐜𝐤", Mask, ScopeGlobal, "****"},
		{"mask twice", "", "fuck fuck", Mask, ScopeGlobal, "**** ****"},
		{"mask confusable and accent", "", "fuсk off, fück", Mask, ScopeGlobal, "**** off, ****"},
		{"mask leetspeak symbol", "", "sp@m link", Shadow, ScopeGlobal, "sp@m link"},
		{"mask repeated letters", "", "fuuuck", Mask, ScopeGlobal, "******"},
		{"latin word not inside a longer word", "", "motherfucker", Allow, ScopeNone, "motherfucker"},
		{"cjk word with one inserted character", "", "你是傻X逼吗", Mask, ScopeGlobal, "你是*X*吗"},
		{"shadow", "", "buy now: SPAM-LINK", Shadow, ScopeGlobal, "buy now: SPAM-LINK"},
		{"shadow beats mask", "", "fuck spamlink", Shadow, ScopeGlobal, "**** spamlink"},
		{"reject", "", "法轮", Reject, ScopeGlobal, "法轮"},
		{"reject evasion", "", "法 ｜ 轮", Reject, ScopeGlobal, "法 ｜ 轮"},
		{"reject beats all", "", "fuck spamlink kill yourself", Reject, ScopeGlobal, "**** spamlink kill yourself"},
		{"room word in its room", "room1", "big spoiler ahead", Mask, ScopeRoom, "big ******* ahead"},
		{"room word elsewhere", "room3", "big spoiler ahead", Allow, ScopeNone, "big spoiler ahead"},
		{"room word without room", "", "big spoiler ahead", Allow, ScopeNone, "big spoiler ahead"},
		{"room reject", "room1", "凶手是管家", Reject, ScopeRoom, "凶手是管家"},
		{"room stronger than global", "room2", "fuck", Reject, ScopeRoom, "****"},
		{"global in room", "room1", "fuck", Mask, ScopeGlobal, "****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.Check(tt.room, tt.text)
			if v.Action != tt.action || v.Scope != tt.scope || v.Text != tt.masked {
				t.Errorf("Check(%q, %q) = {%v %v %q}, want {%v %v %q}",
					tt.room, tt.text, v.Action, v.Scope, v.Text, tt.action, tt.scope, tt.masked)
			}
			if err := v.Err(); (err != nil) != (tt.action == Reject) || err != nil && danmaku.ErrorCode(err) != danmaku.EREFUSED {
				t.Errorf("Err() = %v for action %v", err, v.Action)
			} else if err != nil && strings.Contains(err.Error(), tt.text) {
				t.Errorf("Err() = %q echoes the text", err)
			}
			if (v.Matches > 0) != (tt.action != Allow) {
				t.Errorf("Matches = %d with action %v", v.Matches, v.Action)
			}
		})
	}
}

func TestFilterEdits(t *testing.T) {
	f := NewFilter()
	if v := f.Check("", "bad word"); v.Action != Allow {
		t.Fatalf("empty filter: %v", v.Action)
	}
	if err := f.Add(Rule{Word: "BAD", Action: Mask}); err != nil {
		t.Fatal(err)
	}
	if v := f.Check("", "bad word"); v.Action != Mask || v.Text != "*** word" {
		t.Fatalf("after add: %v %q", v.Action, v.Text)
	}
	// Adding the same word in another form changes its action.
	if err := f.Add(Rule{Word: "ｂａｄ", Action: Reject}); err != nil {
		t.Fatal(err)
	}
	if got := f.List(""); len(got) != 1 || got[0].Action != Reject || got[0].Word != "ｂａｄ" {
		t.Fatalf("List after re-add = %+v", got)
	}
	if v := f.Check("", "bad word"); v.Action != Reject {
		t.Fatalf("after re-add: %v", v.Action)
	}
	ok, err := f.Remove("", "Bad")
	if err != nil || !ok {
		t.Fatalf("Remove = %v, %v", ok, err)
	}
	if v := f.Check("", "bad word"); v.Action != Allow {
		t.Fatalf("after remove: %v", v.Action)
	}
	if ok, _ := f.Remove("", "bad"); ok {
		t.Fatal("second Remove reported a word")
	}
	if err := f.Add(Rule{Room: "r1", Word: "x1", Action: Shadow}, Rule{Room: "r2", Word: "x2", Action: Mask}); err != nil {
		t.Fatal(err)
	}
	if got := f.Rooms(); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Fatalf("Rooms = %v", got)
	}
	if ok, _ := f.Remove("r1", "x1"); !ok {
		t.Fatal("Remove room word failed")
	}
	if got := f.Rooms(); !slices.Equal(got, []string{"r2"}) {
		t.Fatalf("Rooms after remove = %v", got)
	}
	if v := f.Check("r1", "x1"); v.Action != Allow {
		t.Fatalf("removed room word still matches: %v", v.Action)
	}
	if f.Len() != 1 {
		t.Fatalf("Len = %d, want 1", f.Len())
	}
}

func TestFilterAddInvalid(t *testing.T) {
	tests := []struct {
		name  string
		rule  Rule
		field string
	}{
		{"empty", Rule{Word: "", Action: Mask}, "word"},
		{"punctuation only", Rule{Word: "!!! ...", Action: Mask}, "word"},
		{"too long", Rule{Word: strings.Repeat("长", MaxWordRunes+1), Action: Mask}, "word"},
		{"no action", Rule{Word: "x"}, "action"},
		{"bad action", Rule{Word: "x", Action: 9}, "action"},
		{"bad room", Rule{Room: "no spaces", Word: "x", Action: Mask}, "room"},
		{"invalid utf-8", Rule{Word: "\xff", Action: Mask}, "word"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFilter()
			err := f.Add(Rule{Word: "ok", Action: Mask}, tt.rule)
			var e *danmaku.Error
			if !errors.As(err, &e) || e.Code != danmaku.EINVALID || e.Field != tt.field {
				t.Fatalf("Add(%+v) = %v, want EINVALID on %s", tt.rule, err, tt.field)
			}
			if f.Len() != 0 {
				t.Fatal("a failed Add added rules")
			}
		})
	}
}

func TestParseWords(t *testing.T) {
	in := "# comment\n" +
		"\n" +
		"plain\n" +
		"reject\tbad word\n" +
		"shadowed,shadow\n" +
		"a,b,c\n" +
		"  MASK\tupper action  \n" +
		"[room abc-1]\n" +
		"spoiler,reject\n" +
		"[global]\n" +
		"傻逼\n"
	got, err := ParseWords(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Word: "plain", Action: Mask},
		{Word: "bad word", Action: Reject},
		{Word: "shadowed", Action: Shadow},
		{Word: "a,b,c", Action: Mask},
		{Word: "upper action", Action: Mask},
		{Room: "abc-1", Word: "spoiler", Action: Reject},
		{Word: "傻逼", Action: Mask},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseWords = %+v\nwant %+v", got, want)
	}

	for _, bad := range []string{"explode\tword\n", "[room]\n", "[room a b]\n", "[nonsense]\n", "x\n...\n", "[room bad/id]\n"} {
		if _, err := ParseWords(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseWords(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

func TestFilterLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(path, []byte("reject\t法轮\n[room r1]\nspoiler\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := NewFilter()
	if err := f.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if v := f.Check("r1", "法轮 spoiler"); v.Action != Reject || v.Text != "法轮 *******" {
		t.Fatalf("Check = %v %q", v.Action, v.Text)
	}
	if err := f.LoadFile(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Fatal("LoadFile of a missing file succeeded")
	}
}

// TestFilterConcurrent checks that edits and checks can run together (run
// with -race) and that an edit is seen by the next check.
func TestFilterConcurrent(t *testing.T) {
	f := NewFilter()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				word := fmt.Sprintf("w%dx%d", g, i)
				if err := f.Add(Rule{Room: "room", Word: word, Action: Reject}); err != nil {
					t.Error(err)
					return
				}
				if v := f.Check("room", "say "+word); v.Action != Reject {
					t.Errorf("word %s added but Check = %v", word, v.Action)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(f.List("room")); n != 200 {
		t.Fatalf("List has %d words, want 200", n)
	}
}

func TestActionText(t *testing.T) {
	for _, a := range []Action{Mask, Shadow, Reject} {
		b, _ := a.MarshalText()
		var back Action
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("round trip of %v: %v, %v", a, back, err)
		}
	}
	if _, err := ParseAction("allow"); err == nil {
		t.Error("ParseAction(allow) succeeded")
	}
}

func TestMaskLeetspeak(t *testing.T) {
	f := NewFilter()
	if err := f.Add(Rule{Word: "spam", Action: Mask}); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"buy $p@m!":      "buy ****!",
		"5p4m":           "****",
		"s p a m":        "* * * *",
		"antispam stays": "antispam stays",
	} {
		if got := f.Check("", in).Text; got != want {
			t.Errorf("Check(%q).Text = %q, want %q", in, got, want)
		}
	}
}
