package dynacrypt

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff between attempts of Update, of a batch's unprocessed items and of
// the re-encryption walk: full jitter over an exponentially growing window,
// so that callers that collided spread out.
const (
	backoffBase = 2 * time.Millisecond
	backoffMax  = 250 * time.Millisecond
)

// backoff returns how long to wait before attempt+1.
func backoff(attempt int) time.Duration {
	window := backoffBase << min(attempt, 16)
	window = min(window, backoffMax)
	return rand.N(window)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
