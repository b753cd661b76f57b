package moderation

import (
	"cmp"
	"slices"
)

// Matcher finds every occurrence of a set of patterns in a text in one pass
// over the text, whatever the number of patterns (Aho–Corasick). It works
// on runes, so a CJK character is one step, and it reports positions as
// rune indexes, which map straight to Text spans for masking.
//
// It is written here rather than taken from a library because matching
// runs on the normalised rune slice (whose runes carry their original
// positions) and a byte-oriented library would need the text re-encoded and
// its byte offsets mapped back. The trie is stored in flat slices (edges
// sorted per node, a direct table for the root) so that 50,000 words cost
// a few megabytes and no pointer chasing.
//
// A Matcher is immutable once built and safe for concurrent use; to change
// the patterns, build a new one and swap it in.
type Matcher struct {
	edgeStart []int32 // Edges of node n are edgeRune/edgeNext[edgeStart[n]:edgeStart[n+1]].
	edgeRune  []rune  // Sorted within a node.
	edgeNext  []int32
	rootNext  []int32 // Direct table for root edges on runes below len(rootNext); 0 means none.
	fail      []int32 // Longest proper suffix of the node's path that is also a path.
	out       []int32 // Pattern that ends at the node, or -1.
	dict      []int32 // Nearest node on the fail chain with out >= 0, or -1.
	lens      []int32 // Pattern lengths in runes.
}

// Match is one occurrence of a pattern: the pattern's index in the slice
// given to NewMatcher and the half-open rune range [Start, End) of the text.
type Match struct {
	Pattern    int
	Start, End int
}

// rootTableMin is the number of root edges from which the root gets a
// direct table (256 KB at most); below it, root edges are searched like
// any other node's.
const rootTableMin = 64

// NewMatcher builds a matcher for patterns. Empty patterns never match; of
// identical patterns, only the first is reported.
func NewMatcher(patterns [][]rune) *Matcher {
	m := &Matcher{lens: make([]int32, len(patterns))}
	// Build the trie with a map keyed by (parent, rune).
	type edge struct {
		parent int32
		r      rune
		child  int32
	}
	children := make(map[uint64]int32)
	var edges []edge
	out := []int32{-1}
	nodes := int32(1)
	for p, pat := range patterns {
		m.lens[p] = int32(len(pat))
		if len(pat) == 0 {
			continue
		}
		n := int32(0)
		for _, r := range pat {
			key := uint64(n)<<32 | uint64(uint32(r))
			c, ok := children[key]
			if !ok {
				c = nodes
				nodes++
				children[key] = c
				edges = append(edges, edge{n, r, c})
				out = append(out, -1)
			}
			n = c
		}
		if out[n] < 0 {
			out[n] = int32(p)
		}
	}
	children = nil

	// Flatten the edges, sorted by parent then rune.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.parent != b.parent {
			return cmp.Compare(a.parent, b.parent)
		}
		return cmp.Compare(a.r, b.r)
	})
	m.out = out
	m.edgeStart = make([]int32, nodes+1)
	m.edgeRune = make([]rune, len(edges))
	m.edgeNext = make([]int32, len(edges))
	for i, e := range edges {
		m.edgeStart[e.parent+1]++
		m.edgeRune[i] = e.r
		m.edgeNext[i] = e.child
	}
	for n := int32(1); n <= nodes; n++ {
		m.edgeStart[n] += m.edgeStart[n-1]
	}
	if rootEdges := m.edgeStart[1]; rootEdges >= rootTableMin {
		maxRune := m.edgeRune[rootEdges-1]
		m.rootNext = make([]int32, min(int(maxRune)+1, 0x10000))
		for i := int32(0); i < rootEdges; i++ {
			if r := m.edgeRune[i]; int(r) < len(m.rootNext) {
				m.rootNext[r] = m.edgeNext[i]
			}
		}
	}

	// Failure and dictionary links, breadth first.
	m.fail = make([]int32, nodes)
	m.dict = make([]int32, nodes)
	m.dict[0] = -1
	queue := make([]int32, 0, nodes)
	for i := m.edgeStart[0]; i < m.edgeStart[1]; i++ {
		c := m.edgeNext[i]
		m.fail[c] = 0
		m.dict[c] = -1
		queue = append(queue, c)
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for i := m.edgeStart[u]; i < m.edgeStart[u+1]; i++ {
			r, c := m.edgeRune[i], m.edgeNext[i]
			f := m.fail[u]
			for {
				if nx := m.next(f, r); nx != 0 {
					f = nx
					break
				}
				if f == 0 {
					break
				}
				f = m.fail[f]
			}
			m.fail[c] = f
			if m.out[f] >= 0 {
				m.dict[c] = f
			} else {
				m.dict[c] = m.dict[f]
			}
			queue = append(queue, c)
		}
	}
	return m
}

// next returns the child of node n on rune r, or 0 when there is none.
func (m *Matcher) next(n int32, r rune) int32 {
	if n == 0 && r >= 0 && int(r) < len(m.rootNext) {
		return m.rootNext[r]
	}
	lo, hi := m.edgeStart[n], m.edgeStart[n+1]
	if hi-lo <= 8 {
		for i := lo; i < hi; i++ {
			if m.edgeRune[i] == r {
				return m.edgeNext[i]
			}
		}
		return 0
	}
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		switch c := m.edgeRune[mid]; {
		case c == r:
			return m.edgeNext[mid]
		case c < r:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0
}

// Each calls fn for every match in text, in order of End, then longest
// pattern first; overlapping matches are all reported. It stops early when
// fn returns false.
func (m *Matcher) Each(text []rune, fn func(Match) bool) {
	if m == nil || len(m.fail) <= 1 {
		return
	}
	state := int32(0)
	for i, r := range text {
		for {
			if nx := m.next(state, r); nx != 0 {
				state = nx
				break
			}
			if state == 0 {
				break
			}
			state = m.fail[state]
		}
		n := state
		if m.out[n] < 0 {
			n = m.dict[n]
		}
		for ; n > 0; n = m.dict[n] {
			p := m.out[n]
			if !fn(Match{Pattern: int(p), Start: i + 1 - int(m.lens[p]), End: i + 1}) {
				return
			}
		}
	}
}

// FindAll returns every match in text, as Each reports them.
func (m *Matcher) FindAll(text []rune) []Match {
	var ms []Match
	m.Each(text, func(mt Match) bool {
		ms = append(ms, mt)
		return true
	})
	return ms
}

// Len returns the number of trie nodes, a measure of the matcher's size.
func (m *Matcher) Len() int { return len(m.fail) }

// EachSkip calls fn for every occurrence in text of a pattern with exactly
// one text rune inserted between two of its runes ("傻X逼" for "傻逼"),
// with the pattern's index and the indexes in text of the runes that
// matched the pattern's runes (valid only during the call). Exact
// occurrences are left to Each. It walks the trie from every position of
// the text, so it costs the text's length times the depth reached, not
// the number of patterns. It stops early when fn returns false.
func (m *Matcher) EachSkip(text []rune, fn func(pattern int, matched []int) bool) {
	if m == nil || len(m.fail) <= 1 {
		return
	}
	path := make([]int, 0, 16)
	for start := range text {
		n := m.next(0, text[start])
		path = append(path[:0], start)
		for i := start + 1; n != 0 && i+1 < len(text); i++ {
			// Skip text[i] and follow the rest exactly.
			k := n
			p := path
			for j := i + 1; j < len(text); j++ {
				if k = m.next(k, text[j]); k == 0 {
					break
				}
				p = append(p, j)
				if m.out[k] >= 0 && !fn(int(m.out[k]), p) {
					return
				}
			}
			// Or match text[i] and go on.
			n = m.next(n, text[i])
			path = append(path, i)
		}
	}
}
