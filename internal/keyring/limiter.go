package keyring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrLimited is returned instead of unwrapping a root key when too many
// wrapped keys of the same source have failed to unwrap recently.
var ErrLimited = errors.New("root key not unwrapped: too many invalid wrapped keys were seen recently; retry later")

// Limit bounds the Decrypt calls of one source. Up to Burst calls may be in
// flight at once. A call that shows its wrapped key invalid uses up its
// place until the place comes back, one every Refill; a call that succeeds,
// or fails for a passing reason, frees its place at once. When every place
// is used up by failures, uncached unwraps of that source fail with
// ErrLimited without a Decrypt, while cached root keys keep serving reads.
//
// So honest readers, whose unwraps succeed, are only bounded in
// concurrency, and a forger who sends a thousand distinct wrapped keys costs
// Burst Decrypts, then one per Refill.
type Limit struct {
	Burst  int
	Refill time.Duration
}

func (l Limit) check() error {
	if l.Burst <= 0 || l.Refill <= 0 {
		return fmt.Errorf("unwrap limit %d per %v: both must be positive", l.Burst, l.Refill)
	}
	return nil
}

// limiter is a Limit in force: a token bucket whose tokens are held during a
// Decrypt and kept by the ones that fail.
type limiter struct {
	limit    Limit
	now      func() time.Time
	mu       sync.Mutex
	free     int       // places available now
	inFlight int       // places held by calls under way
	refilled time.Time // when the last place came back
	changed  chan struct{}
}

func newLimiter(l Limit, now func() time.Time) *limiter {
	return &limiter{limit: l, now: now, free: l.Burst, changed: make(chan struct{})}
}

// acquire takes a place for one Decrypt, waiting while calls under way may
// give theirs back. It fails with ErrLimited when all places are used up by
// failures.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		l.refill()
		if l.free > 0 {
			l.free--
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		if l.inFlight == 0 {
			l.mu.Unlock()
			return ErrLimited
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back the place of a finished Decrypt, unless the wrapped key
// proved invalid: then the place stays used until a refill.
func (l *limiter) release(invalid bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if !invalid {
		l.free++
	} else if l.free+l.inFlight == l.limit.Burst-1 {
		// The first place used up starts the refill clock.
		l.refilled = l.now()
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// refill brings back one used-up place per Refill since the last. l.mu must
// be held.
func (l *limiter) refill() {
	used := l.limit.Burst - l.free - l.inFlight
	if used == 0 {
		return
	}
	n := int(l.now().Sub(l.refilled) / l.limit.Refill)
	if n <= 0 {
		return
	}
	n = min(n, used)
	l.free += n
	l.refilled = l.refilled.Add(time.Duration(n) * l.limit.Refill)
}
