package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/moderation"
)

// OutcomeReport marks a feed event that is a viewer's report of a danmaku
// rather than a send: its Reporter and Reason say who reported it and why.
const OutcomeReport = "report"

// MaxReasonRunes is the longest reason a report may give.
const MaxReasonRunes = 200

// ReportsKept is how many reports Reports keeps: the newest, in memory.
const ReportsKept = 500

// Report is a viewer's report of one danmaku, for moderators.
type Report struct {
	ObjectID string           `json:"objectId"`
	ID       danmaku.ID       `json:"id"`
	Reason   string           `json:"reason"`
	Reporter string           `json:"reporter"` // The reporter's user id; empty for an unidentified viewer.
	At       int64            `json:"at"`       // Unix milliseconds.
	Danmaku  *danmaku.Danmaku `json:"danmaku"`
}

// Reports takes viewers' reports of danmaku: it checks them, rate-limits
// them per reporter and per address, records them in the moderators' feed
// and keeps the last ReportsKept in memory (a restart forgets them; the
// feed's subscribers have seen them). Create it with NewReports.
type Reports struct {
	svc    *Service
	limits moderation.RateLimiter

	mu   sync.Mutex
	buf  []Report // A ring of the newest reports.
	next int
}

// NewReports returns the reports of svc, limited by limits (nil allows
// every report).
func NewReports(svc *Service, limits moderation.RateLimiter) *Reports {
	return &Reports{svc: svc, limits: limits}
}

// DefaultReportLimits returns the report limits of a server: a reporter
// may report 5 danmaku at once and then one every 10 s, an address 20 at
// once and then one every 2 s.
func DefaultReportLimits() moderation.LimitConfig {
	return moderation.LimitConfig{UserRate: 0.1, UserBurst: 5, IPRate: 0.5, IPBurst: 20, DuplicateWindow: -1}
}

// Report records a's report of the danmaku id of objectID. The danmaku
// must exist and be visible to a; reason must be 1 to MaxReasonRunes
// characters of text.
func (r *Reports) Report(ctx context.Context, a danmaku.Actor, objectID string, id danmaku.ID, reason string) (Report, error) {
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		return Report{}, err
	}
	reason, err := checkReason(reason)
	if err != nil {
		return Report{}, err
	}
	if r.limits != nil {
		if err := r.limits.Allow(moderation.Attempt{UserID: a.UserID, IP: a.IP}); err != nil {
			var e *danmaku.Error
			if errors.As(err, &e) && e.Code == danmaku.ERATELIMIT {
				return Report{}, &danmaku.Error{Code: danmaku.ERATELIMIT, Message: "too many reports; try again later", RetryAfter: e.RetryAfter}
			}
			return Report{}, fmt.Errorf("report rate limit: %w", err)
		}
	}
	d, err := r.svc.store.Get(ctx, objectID, id)
	if err == nil && view(a, d) == nil {
		err = danmaku.ErrNotFound
	}
	if errors.Is(err, danmaku.ErrNotFound) {
		return Report{}, danmaku.Errorf(danmaku.ENOTFOUND, "no such danmaku in this room")
	}
	if err != nil {
		return Report{}, fmt.Errorf("read reported danmaku: %w", err)
	}
	rep := Report{ObjectID: objectID, ID: id, Reason: reason, Reporter: a.UserID, At: r.svc.now().UnixMilli(), Danmaku: d}
	r.mu.Lock()
	if len(r.buf) < ReportsKept {
		r.buf = append(r.buf, rep)
	} else {
		r.buf[r.next] = rep
	}
	r.next = (r.next + 1) % ReportsKept
	r.mu.Unlock()
	r.svc.feed.Record(Event{At: rep.At, ObjectID: objectID, UserID: d.UserID, Outcome: OutcomeReport,
		Reason: reason, Reporter: a.UserID, Danmaku: d})
	return rep, nil
}

// Recent returns up to n of the kept reports of room ("" for every room),
// newest first.
func (r *Reports) Recent(room string, n int) []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Report, 0, min(n, len(r.buf)))
	for i := 0; i < len(r.buf) && len(out) < n; i++ {
		rep := r.buf[(r.next-1-i+2*len(r.buf))%len(r.buf)]
		if room == "" || rep.ObjectID == room {
			out = append(out, rep)
		}
	}
	return out
}

// checkReason trims a report's reason and checks that it is short text.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", danmaku.FieldError("reason", "must say why the danmaku is reported")
	case !utf8.ValidString(reason):
		return "", danmaku.FieldError("reason", "must be UTF-8 text")
	case utf8.RuneCountInString(reason) > MaxReasonRunes:
		return "", danmaku.FieldError("reason", "must be at most %d characters", MaxReasonRunes)
	case strings.ContainsFunc(reason, unicode.IsControl):
		return "", danmaku.FieldError("reason", "must not hold control characters")
	}
	return reason, nil
}
