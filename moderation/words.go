package moderation

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
)

// Action is what happens to a danmaku whose text holds a listed word. The
// zero Action, Allow, means no listed word matched. Stronger actions have
// larger values: Reject > Shadow > Mask > Allow.
type Action int

// Actions, from weakest to strongest.
const (
	Allow  Action = iota // Nothing matched.
	Mask                 // The matched characters are replaced by '*'; the danmaku is stored and broadcast.
	Shadow               // Stored and shown to its author and moderators only.
	Reject               // Refused with an error that does not name the word.
)

// String returns "allow", "mask", "shadow" or "reject".
func (a Action) String() string {
	switch a {
	case Mask:
		return "mask"
	case Shadow:
		return "shadow"
	case Reject:
		return "reject"
	}
	return "allow"
}

// ParseAction parses "mask", "shadow" or "reject" (any case).
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mask":
		return Mask, nil
	case "shadow":
		return Shadow, nil
	case "reject":
		return Reject, nil
	}
	return Allow, fmt.Errorf("unknown action %q: want mask, shadow or reject", s)
}

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action's name; "allow" is not accepted.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Scope says which list a verdict's strongest match came from.
type Scope int

// Scopes.
const (
	ScopeNone   Scope = iota // Nothing matched.
	ScopeGlobal              // The global list.
	ScopeRoom                // The room's own list.
)

// String returns "", "global" or "room".
func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeRoom:
		return "room"
	}
	return ""
}

// Err returns the EREFUSED error for a rejected text, without naming the
// word, or nil when v.Action is not Reject.
func (v Verdict) Err() error {
	if v.Action != Reject {
		return nil
	}
	return &danmaku.Error{Code: danmaku.EREFUSED, Field: "content.text", Message: "the text was refused by the room's rules"}
}

// MaxWordRunes is the longest listed word, in canonical runes.
const MaxWordRunes = 64

// DefaultAction is the action of a word listed without one.
const DefaultAction = Mask

// Rule is one listed word. Room is empty for the global list.
//
// A word whose canonical form has a CJK, kana or Hangul character matches
// anywhere in a text, also with one character inserted between two of its
// characters ("傻X逼" for "傻逼"). Any other word matches whole words only
// ("spam" matches "SPAM!" and "s p a m" but not "antispam" or "the spa
// massage"), unless Inside is set, when it also matches inside longer
// words.
type Rule struct {
	Room   string `json:"room,omitempty"`
	Word   string `json:"word"`
	Action Action `json:"action"`
	Inside bool   `json:"inside,omitempty"`
}

// Verdict is the result of checking a text.
type Verdict struct {
	// Action is the strongest action of all matched words; Allow when none
	// matched.
	Action Action
	// Text is the original text with the characters of every Mask word
	// replaced by '*': the text to store when Action is Allow, Mask or
	// Shadow. Words with other actions are left as they are.
	Text string
	// Scope is the list that the strongest match came from (the global
	// list when both lists hold an equally strong match).
	Scope Scope
	// Matches counts matched occurrences, for metrics.
	Matches int
}

// WordList is a checked, editable set of word rules: a global list and one
// list per room. Implementations are safe for concurrent use, and an edit
// applies to every Check that starts after it returns.
type WordList interface {
	// Check matches text against the global list and the list of room
	// (room may be empty).
	Check(room, text string) Verdict
	// Add adds rules, or changes the action of words already listed
	// (words are compared in canonical form). It returns an EINVALID
	// *danmaku.Error and adds nothing if any rule is invalid.
	Add(rules ...Rule) error
	// Remove removes a word from the list of room ("" for the global
	// list) and reports whether it was listed.
	Remove(room, word string) (bool, error)
	// List returns the rules of room ("" for the global list), sorted by
	// canonical word.
	List(room string) []Rule
}

// Filter is the in-memory WordList. Checks never block on edits: each
// edit rebuilds the matcher of the scope it changes and swaps a new
// immutable snapshot in atomically. Rebuilding a 50,000-word list takes
// tens of milliseconds, which suits edits made by hand.
//
// The zero Filter is not usable; call NewFilter.
type Filter struct {
	norm  *Normalizer
	mu    sync.Mutex                 // Serialises edits.
	words map[string]map[string]Rule // Room ("" global) → canonical word → rule.
	snap  atomic.Pointer[filterSnapshot]
}

var _ WordList = (*Filter)(nil)

type filterSnapshot struct {
	global *compiledList
	rooms  map[string]*compiledList
}

// compiledList is the matcher of one scope. Patterns are words with runs
// of a repeated rune folded to one rune ("spaam" → "spam"); each pattern
// carries the rules that fold to it, with the least number of each rune
// the rule needs ("ass" needs two s, so the text "as" does not match it).
type compiledList struct {
	m     *Matcher     // All patterns, matched exactly.
	cjk   *Matcher     // The CJK patterns again, matched with one inserted rune; nil if none.
	cjkOf []int        // Pattern index in m of each pattern of cjk.
	rules [][]ruleForm // Rules of each pattern of m.
}

// ruleForm is one rule as the matcher checks it.
type ruleForm struct {
	counts []int32 // Least repeat count of each run of the word.
	action Action
	inside bool // Match inside words too.
	cjk    bool // Has a CJK rune: substring match, one inserted rune allowed.
}

// NewFilter returns an empty filter with the default leetspeak table.
func NewFilter() *Filter { return NewFilterWith(defaultNormalizer) }

// NewFilterWith returns an empty filter that normalises texts and words
// with n (nil for the default).
func NewFilterWith(n *Normalizer) *Filter {
	if n == nil {
		n = defaultNormalizer
	}
	f := &Filter{norm: n, words: make(map[string]map[string]Rule)}
	f.snap.Store(&filterSnapshot{rooms: map[string]*compiledList{}})
	return f
}

// runs is a canonical text with runs of a repeated rune folded into one.
type runs struct {
	runes []rune
	count []int32 // Length of each run.
	first []int   // Index in Text.Runes of each run's first rune.
	gap   []bool  // Word boundary before the run.
	inner []bool  // Word boundary inside the run ("link kill", "a s s").
	end   int     // len(Text.Runes).
}

// foldRuns folds the repeated runes of t. A run ends at a separator,
// except between letters spelled out one by one ("a s s").
func foldRuns(t Text) runs {
	n := len(t.Runes)
	v := runs{
		end:   n,
		runes: make([]rune, 0, n),
		count: make([]int32, 0, n),
		first: make([]int, 0, n),
		gap:   make([]bool, 0, n),
		inner: make([]bool, 0, n),
	}
	single := func(i int) bool { return t.Sep[i] && (i+1 == len(t.Runes) || t.Sep[i+1]) }
	for i, r := range t.Runes {
		if k := len(v.runes) - 1; k >= 0 && v.runes[k] == r && (!t.Sep[i] || single(i) && (i == 1 || single(i-1))) {
			v.count[k]++
			v.inner[k] = v.inner[k] || t.Gap[i]
			continue
		}
		v.runes = append(v.runes, r)
		v.count = append(v.count, 1)
		v.first = append(v.first, i)
		v.gap = append(v.gap, t.Gap[i])
		v.inner = append(v.inner, false)
	}
	return v
}

// runeIndex returns the index in Text.Runes where run k starts (the end of
// the text for k == len(runs)).
func (v runs) runeIndex(k int) int {
	if k >= len(v.first) {
		return v.end
	}
	return v.first[k]
}

// accepts reports whether rule form w matches the runs at, whose indexes
// into v are the runs matched by each run of the word.
func (w ruleForm) accepts(v runs, at []int) bool {
	for k, i := range at {
		if v.count[i] < w.counts[k] {
			return false
		}
	}
	if w.cjk || w.inside {
		return true
	}
	// A boundary inside the first or last run counts as one at the
	// word's edge: the word may start or end there.
	start, end := at[0], at[len(at)-1]+1
	if start > 0 && !v.gap[start] && !v.inner[start] && wordRune(v.runes[start-1]) {
		return false
	}
	return end == len(v.runes) || v.gap[end] || v.inner[end-1] || !wordRune(v.runes[end])
}

// Check implements WordList.
func (f *Filter) Check(room, text string) Verdict {
	v := Verdict{Text: text}
	snap := f.snap.Load()
	lists := [2]*compiledList{snap.global, nil}
	if room != "" {
		lists[1] = snap.rooms[room]
	}
	if lists[0] == nil && lists[1] == nil {
		return v
	}
	t := f.norm.Normalize(text)
	rv := foldRuns(t)
	var masks [][2]int
	at := make([]int, 0, MaxWordRunes)
	for i, cl := range lists {
		if cl == nil {
			continue
		}
		scope := ScopeGlobal + Scope(i)
		found := func(pattern int) {
			for _, w := range cl.rules[pattern] {
				if !w.accepts(rv, at) {
					continue
				}
				v.Matches++
				if w.action > v.Action {
					v.Action, v.Scope = w.action, scope
				}
				if w.action == Mask {
					for k, r := range at {
						if k > 0 && at[k-1]+1 == r {
							masks[len(masks)-1][1] = rv.runeIndex(r + 1)
							continue
						}
						masks = append(masks, [2]int{rv.runeIndex(r), rv.runeIndex(r + 1)})
					}
				}
			}
		}
		cl.m.Each(rv.runes, func(m Match) bool {
			at = at[:0]
			for r := m.Start; r < m.End; r++ {
				at = append(at, r)
			}
			found(m.Pattern)
			return true
		})
		if cl.cjk != nil {
			cl.cjk.EachSkip(rv.runes, func(p int, matched []int) bool {
				at = append(at[:0], matched...)
				found(cl.cjkOf[p])
				return true
			})
		}
	}
	v.Text = t.Mask(text, masks)
	return v
}

// CanonicalRule validates r and returns its canonical word: the form in
// which words are compared and stored. Errors are EINVALID
// *danmaku.Error values.
func CanonicalRule(r Rule) (string, error) { return canonicalRule(r) }

// canonicalRule validates r and returns its canonical word.
func canonicalRule(r Rule) (string, error) {
	if r.Room != "" {
		if err := danmaku.ValidateObjectID(r.Room); err != nil {
			return "", &danmaku.Error{Code: danmaku.EINVALID, Field: "room", Message: strings.TrimPrefix(err.Error(), "objectId: ")}
		}
	}
	if r.Action < Mask || r.Action > Reject {
		return "", danmaku.FieldError("action", "must be mask, shadow or reject")
	}
	if !utf8.ValidString(r.Word) {
		return "", danmaku.FieldError("word", "must be valid UTF-8")
	}
	w := NormalizeString(r.Word)
	switch n := utf8.RuneCountInString(w); {
	case n == 0:
		return "", danmaku.FieldError("word", "has no letters or digits once spaces, punctuation and symbols are removed")
	case n > MaxWordRunes:
		return "", danmaku.FieldError("word", "is %d characters long once normalised; the limit is %d", n, MaxWordRunes)
	}
	return w, nil
}

// Add implements WordList.
func (f *Filter) Add(rules ...Rule) error {
	canon := make([]string, len(rules))
	for i, r := range rules {
		w, err := canonicalRule(r)
		if err != nil {
			return err
		}
		canon[i] = w
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := make(map[string]bool)
	for i, r := range rules {
		list := f.words[r.Room]
		if list == nil {
			list = make(map[string]Rule)
			f.words[r.Room] = list
		}
		r.Word = strings.TrimSpace(r.Word)
		list[canon[i]] = r
		changed[r.Room] = true
	}
	f.publish(changed)
	return nil
}

// Replace sets the list of room ("" for the global list) to exactly rules,
// whose Room fields must all equal room. It returns an EINVALID
// *danmaku.Error and changes nothing if any rule is invalid. A shared
// implementation calls it to reload its local copy.
func (f *Filter) Replace(room string, rules []Rule) error {
	list := make(map[string]Rule, len(rules))
	for _, r := range rules {
		if r.Room != room {
			return danmaku.FieldError("room", "rule for room %q in the list of room %q", r.Room, room)
		}
		w, err := canonicalRule(r)
		if err != nil {
			return err
		}
		r.Word = strings.TrimSpace(r.Word)
		list[w] = r
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(list) == 0 {
		if _, ok := f.words[room]; !ok {
			return nil
		}
		delete(f.words, room)
	} else {
		f.words[room] = list
	}
	f.publish(map[string]bool{room: true})
	return nil
}

// Remove implements WordList.
func (f *Filter) Remove(room, word string) (bool, error) {
	w := NormalizeString(word)
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.words[room]
	if _, ok := list[w]; !ok {
		return false, nil
	}
	delete(list, w)
	if len(list) == 0 {
		delete(f.words, room)
	}
	f.publish(map[string]bool{room: true})
	return true, nil
}

// List implements WordList.
func (f *Filter) List(room string) []Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.words[room]
	keys := slices.Sorted(maps.Keys(list))
	out := make([]Rule, len(keys))
	for i, k := range keys {
		out[i] = list[k]
	}
	return out
}

// Rooms returns the rooms that have their own list, sorted.
func (f *Filter) Rooms() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var rooms []string
	for r := range f.words {
		if r != "" {
			rooms = append(rooms, r)
		}
	}
	slices.Sort(rooms)
	return rooms
}

// Len returns the number of listed words over all scopes.
func (f *Filter) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range f.words {
		n += len(l)
	}
	return n
}

// publish rebuilds the changed scopes and swaps in a new snapshot. f.mu
// must be held.
func (f *Filter) publish(changed map[string]bool) {
	old := f.snap.Load()
	next := &filterSnapshot{global: old.global, rooms: old.rooms}
	roomsCopied := false
	for room := range changed {
		cl := f.compile(f.words[room])
		if room == "" {
			next.global = cl
			continue
		}
		if !roomsCopied {
			next.rooms = maps.Clone(old.rooms)
			roomsCopied = true
		}
		if cl == nil {
			delete(next.rooms, room)
		} else {
			next.rooms[room] = cl
		}
	}
	f.snap.Store(next)
}

// compile builds the matcher of one scope, or returns nil for an empty one.
func (f *Filter) compile(list map[string]Rule) *compiledList {
	if len(list) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(list))
	cl := &compiledList{}
	index := make(map[string]int, len(keys))
	var pats, cjkPats [][]rune
	for _, k := range keys {
		r := list[k]
		v := foldRuns(f.norm.Normalize(r.Word))
		if len(v.runes) == 0 {
			continue
		}
		w := ruleForm{counts: v.count, action: r.Action, inside: r.Inside}
		for _, c := range v.runes {
			w.cjk = w.cjk || cjkRune(c)
		}
		key := string(v.runes)
		p, ok := index[key]
		if !ok {
			p = len(pats)
			index[key] = p
			pats = append(pats, v.runes)
			cl.rules = append(cl.rules, nil)
		}
		cl.rules[p] = append(cl.rules[p], w)
		if w.cjk && !ok && len(v.runes) >= 2 {
			cjkPats = append(cjkPats, v.runes)
			cl.cjkOf = append(cl.cjkOf, p)
		}
	}
	cl.m = NewMatcher(pats)
	if len(cjkPats) > 0 {
		cl.cjk = NewMatcher(cjkPats)
	}
	return cl
}

// ParseWords reads a word-list file. The format is line based:
//
//	# A comment: lines whose first non-blank character is '#'.
//	badword              a word with DefaultAction (mask)
//	reject<TAB>badword   an action, a tab, then the word
//	badword,shadow       the word, a comma, then the action
//	[room abc123]        the lines that follow go to room abc123's list
//	[global]             the lines that follow go to the global list
//	*scam*               a word between asterisks also matches inside
//	                     longer words (Rule.Inside), here "scammer"
//	reject<TAB>*scam*    the same with an action
//
// Actions are mask, shadow and reject. Blank lines are skipped. Words are
// kept as written; they are compared in canonical form (see Normalize).
// Latin-script words match whole words only unless written between
// asterisks; CJK words always match inside text (see Rule). An error
// names the line.
func ParseWords(r io.Reader) ([]Rule, error) {
	var rules []Rule
	room := ""
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			sec := strings.Fields(line[1 : len(line)-1])
			switch {
			case len(sec) == 1 && sec[0] == "global":
				room = ""
			case len(sec) == 2 && sec[0] == "room":
				if err := danmaku.ValidateObjectID(sec[1]); err != nil {
					return nil, fmt.Errorf("line %d: room: %w", n, err)
				}
				room = sec[1]
			default:
				return nil, fmt.Errorf("line %d: unknown section %q: want [global] or [room ID]", n, line)
			}
			continue
		}
		rule := Rule{Room: room, Word: line, Action: DefaultAction}
		if head, word, ok := strings.Cut(line, "\t"); ok {
			a, err := ParseAction(head)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			rule.Action, rule.Word = a, strings.TrimSpace(word)
		} else if i := strings.LastIndexByte(line, ','); i >= 0 {
			if a, err := ParseAction(line[i+1:]); err == nil {
				rule.Action, rule.Word = a, strings.TrimSpace(line[:i])
			}
		}
		if w := rule.Word; len(w) > 2 && w[0] == '*' && w[len(w)-1] == '*' {
			rule.Word, rule.Inside = strings.TrimSpace(w[1:len(w)-1]), true
		}
		if _, err := canonicalRule(rule); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read word list: %w", err)
	}
	return rules, nil
}

// LoadFile reads a word-list file (see ParseWords) and adds its rules.
func (f *Filter) LoadFile(path string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open word list: %w", err)
	}
	defer file.Close()
	rules, err := ParseWords(file)
	if err != nil {
		return fmt.Errorf("word list %s: %w", path, err)
	}
	if err := f.Add(rules...); err != nil {
		return fmt.Errorf("word list %s: %w", path, err)
	}
	return nil
}
