// Package retry is the backoff between attempts that the Store (Update,
// batches, the re-encryption walk) and the key store (rotations, deletes)
// retry with.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is full jitter over an exponentially growing window, so that
// callers that collided spread out: the wait before attempt n+1 is uniform
// in [0, min(Base·2ⁿ, Max)).
type Backoff struct {
	Base, Max time.Duration
}

// Delay returns how long to wait after attempt (1 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	window := min(b.Base<<min(attempt, 16), b.Max)
	return rand.N(window)
}

// Wait waits Delay(attempt), or until ctx ends.
func (b Backoff) Wait(ctx context.Context, attempt int) error {
	return Sleep(ctx, b.Delay(attempt))
}

// Sleep waits for d or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
