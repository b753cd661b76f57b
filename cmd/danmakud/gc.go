package main

import (
	"strconv"
	"strings"
)

// DefaultGCPercent is the collector's target danmakud serves with unless
// GOGC or -gc-percent says otherwise. Go's default of 100 lets the heap
// reach twice the live heap between collections. A server whose live heap
// is mostly its viewers' long-lived connections allocates little per
// second, so collecting at half again the live heap costs little CPU and
// saves about a fifth of the memory per viewer (docs/benchmarks.md).
const DefaultGCPercent = 50

// defaultGCPercent is the -gc-percent default: GOGC from the environment
// when it is set and valid ("off" is -1), so that Go's own variable keeps
// its meaning, else DefaultGCPercent.
func defaultGCPercent(getenv func(string) string) int {
	v := strings.TrimSpace(getenv("GOGC"))
	if strings.EqualFold(v, "off") {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return n
	}
	return DefaultGCPercent
}
