package danmaku

import "context"

// Moderator decides whether a danmaku may be sent and how it is shown. The
// moderation package implements it; the service calls it on every send,
// whatever the transport.
type Moderator interface {
	// Check returns the verdict on d before it is stored, or an *Error
	// (EREFUSED, ERATELIMIT, EFORBIDDEN) that refuses it.
	Check(ctx context.Context, a Actor, d *Danmaku) (Verdict, error)
}

// Verdict is a moderation decision on a danmaku that may be stored.
type Verdict struct {
	Text   string // The text to store: the original, or masked.
	Shadow bool   // Show to the author and moderators only.
	Reason string // Why it was masked or shadowed, for moderators.
}
