package keyring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrLimited is returned instead of unwrapping a root key when too many
// wrapped keys of the same source have failed to unwrap recently.
var ErrLimited = errors.New("root key not unwrapped: too many invalid wrapped keys were seen recently; retry later")

// Limit bounds the key service requests of one source's Decrypt calls: one
// per call, and one more for each further request a Cipher makes for the
// same call (see AnotherRequest). Up to Burst may be in
// flight at once. A call that fails (other than by cancellation) uses up its
// place until the place comes back, one every Refill, as does a call that
// succeeded for an item or cursor that then proved forged (Ring.Charge); a
// call that succeeds frees its place at once. When every place
// is used up by failures, uncached unwraps of that source fail with
// ErrLimited without a Decrypt, while cached root keys keep serving reads.
//
// So honest readers, whose unwraps succeed, are only bounded in
// concurrency, and a forger who sends a thousand distinct wrapped keys costs
// Burst Decrypts, then one per Refill; twice Burst if the keys are genuine
// (harvested from other cursors), since such an unwrap gives its place back
// before its cursor fails its check (the charge is then paid by the next
// place given back).
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
	debt     int       // charges that found no free place: paid by the next places back
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

// tryAcquire takes a free place, if there is one, without waiting: for a
// further key service request of a call that holds a place already, which
// must not wait for itself.
func (l *limiter) tryAcquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill()
	if l.free == 0 {
		return false
	}
	l.free--
	l.inFlight++
	return true
}

// release gives back the place of a finished Decrypt, unless it failed:
// then the place stays used until a refill.
func (l *limiter) release(failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	switch {
	case failed:
		l.useUp()
	case l.debt > 0:
		// A charge made while every place was taken: this place pays it,
		// so that a flood of concurrent forgeries cannot slip its charges.
		l.debt--
		l.useUp()
	default:
		l.free++
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// charge uses up a place for a failure that made no Decrypt of its own: a
// free one, or else the next one given back.
func (l *limiter) charge() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill()
	if l.free > 0 {
		l.free--
		l.useUp()
	} else {
		// Paid by the next place given back or refilled. Not capped: a
		// charge dropped would be a Decrypt a forger got for free.
		l.debt++
	}
}

// useUp records that one more place is used up, starting the refill clock
// at the first. l.mu must be held, and the place already taken from free
// or inFlight.
func (l *limiter) useUp() {
	if l.free+l.inFlight == l.limit.Burst-1 {
		l.refilled = l.now()
	}
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
	l.refilled = l.refilled.Add(time.Duration(n) * l.limit.Refill)
	paid := min(n, l.debt) // a place back pays a debt first
	l.debt -= paid
	l.free += n - paid
}

// meterKey is the context key of a call's meter.
type meterKey struct{}

// meter counts the places taken for the key service requests of one
// limited Cipher call beyond its first.
type meter struct {
	lim   *limiter
	extra atomic.Int32
}

// AnotherRequest is for a Cipher that may make several key service requests
// for one Decrypt (a KMSCipher trying a ciphertext under each of the keys it
// has not resolved): it asks, before each request after the first, for a
// place of the limit the Ring's call is under, and fails with ErrLimited
// when none is free, so that the limit counts requests, not Cipher calls.
// Outside a call the Ring limits, it allows every request.
func AnotherRequest(ctx context.Context) error {
	m, ok := ctx.Value(meterKey{}).(*meter)
	if !ok {
		return nil
	}
	if !m.lim.tryAcquire() {
		return ErrLimited
	}
	m.extra.Add(1)
	return nil
}
