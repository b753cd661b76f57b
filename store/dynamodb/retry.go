package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	danmaku "github.com/danmakud/danmakud"
)

// Backoff bounds: the first retry waits up to baseBackoff, each later one up
// to twice as long as the one before, never more than maxBackoff.
const (
	baseBackoff = 20 * time.Millisecond
	maxBackoff  = 400 * time.Millisecond
)

// retryAfter is the hint given to clients when DynamoDB stays unavailable
// for a whole retry deadline.
const retryAfter = time.Second

// retryables decides which errors are worth another attempt. It is the
// SDK's own classification: connection errors (refused, reset, dial
// failures, timeouts), HTTP 500/502/503/504 (which covers DynamoDB's
// InternalServerError and ServiceUnavailable), RequestTimeout and every
// throttling code (ProvisionedThroughputExceededException,
// RequestLimitExceeded, ThrottlingException, LimitExceededException, …).
// Canceled requests are not retried.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// isRetryable reports whether err is throttling or a transient failure.
func isRetryable(err error) bool {
	return retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// backoff returns the wait before retry number n (1 for the first retry):
// "full jitter", a uniformly random duration between zero and the capped
// exponential bound, so that many clients throttled together spread out.
func backoff(n int) time.Duration {
	bound := baseBackoff
	for i := 1; i < n && bound < maxBackoff; i++ {
		bound *= 2
	}
	bound = min(bound, maxBackoff)
	return rand.N(bound + 1)
}

// unavailable returns the client-facing error for a DynamoDB that did not
// answer usefully within the deadline: an EUNAVAILABLE *danmaku.Error with
// RetryAfter, with err kept in the chain for logs.
func unavailable(op string, err error) error {
	e := &danmaku.Error{
		Code:       danmaku.EUNAVAILABLE,
		Message:    "storage is unavailable, try again later",
		RetryAfter: retryAfter,
	}
	return fmt.Errorf("dynamodb %s: %w: %w", op, e, err)
}

// attempt is the outcome of one call given to do: whether a previous
// attempt may have reached DynamoDB without its answer arriving.
type attempt struct {
	// N counts attempts from 1.
	N int
	// Ambiguous is true when an earlier attempt failed in a way that does
	// not tell whether DynamoDB carried it out (the request was sent but no
	// answer came back).
	Ambiguous bool
}

// do calls fn until it succeeds, fails for good, or the store's retry
// deadline passes. Every attempt runs under that deadline, so a DynamoDB
// that does not answer at all also ends in EUNAVAILABLE on time. When ctx
// itself ends, its error is returned wrapped.
//
// The SDK's own retryer is switched off (see Open) and this loop is used
// instead, for three reasons: the bound is a total time rather than a
// number of attempts; when the time is up the caller needs one
// *danmaku.Error with RetryAfter, not the SDK's "exceeded maximum attempts";
// and Put must know whether an earlier attempt may have been written
// (attempt.Ambiguous) to tell its own retried write from a real conflict.
func (s *Store) do(ctx context.Context, op string, fn func(ctx context.Context, a attempt) error) error {
	deadline := time.Now().Add(s.deadline)
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var a attempt
	for {
		a.N++
		err := fn(actx, a)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("dynamodb %s: %w", op, ctx.Err())
		}
		timedOut := actx.Err() != nil
		if !timedOut && !isRetryable(err) {
			var de *danmaku.Error
			if errors.As(err, &de) {
				return err
			}
			return fmt.Errorf("dynamodb %s: %w", op, err)
		}
		if timedOut || mayHaveReached(err) {
			a.Ambiguous = true
		}
		wait := backoff(a.N)
		if timedOut || time.Until(deadline) <= wait {
			return unavailable(op, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dynamodb %s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
}

// mayHaveReached reports whether a failed attempt could have been carried
// out by DynamoDB: anything but an error answer below 500 (throttling,
// validation) or a connection that was never made.
func mayHaveReached(err error) bool {
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() > 0 {
		return status.HTTPStatusCode() >= 500
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return true
}
