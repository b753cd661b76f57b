package service

import (
	"sync"
)

// counters counts sends by outcome or error code, for metrics.
type counters struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (c *counters) count(key string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]uint64{}
	}
	c.n[key]++
	c.mu.Unlock()
}

// SendCounts returns how many sends ended with each outcome (accepted,
// masked, shadowed) or error code (refused, rate_limited, forbidden,
// unavailable, internal…) since the start: the moderators' figures, which
// tell shadowed sends apart (see PublicSendCounts).
func (s *Service) SendCounts() map[string]uint64 {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := make(map[string]uint64, len(s.stats.n))
	for k, v := range s.stats.n {
		out[k] = v
	}
	return out
}

// PublicSendCounts is SendCounts for readers who are not moderators, such as
// a /metrics scrape: a shadowed send counts as accepted, so that no count
// tells a shadowed sender what became of its danmaku.
func (s *Service) PublicSendCounts() map[string]uint64 {
	out := s.SendCounts()
	if n, ok := out[OutcomeShadowed]; ok {
		out[OutcomeAccepted] += n
		delete(out, OutcomeShadowed)
	}
	return out
}
