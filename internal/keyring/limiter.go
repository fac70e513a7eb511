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
// same call (see AnotherRequest). Up to Burst may be in flight at once. A
// call that fails (other than by cancellation) uses up its place until the
// place comes back, one every Refill. A call that succeeds keeps its place
// until the caller has checked the item or cursor its root key opens (see
// Hold): then a genuine one gives the place back, and a forged one (a
// genuine wrapped key pasted into a forgery) uses it up like a failure.
// When every place is used up, uncached unwraps of that source fail with
// ErrLimited without a Decrypt, while cached root keys keep serving reads.
//
// So honest readers, whose unwraps succeed, are only bounded in
// concurrency, and a forger who sends a thousand distinct wrapped keys,
// genuine (harvested from other cursors) or not, costs Burst key service
// requests, then one per Refill.
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
	inFlight int       // places held by calls under way, or by Holds
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

// release gives back n places of finished calls (or of a Hold), unless
// they failed: then the places stay used until refills.
func (l *limiter) release(n int, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		l.inFlight--
		if failed {
			l.useUp()
		} else {
			l.free++
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// useUp records that one more place is used up, starting the refill clock
// at the first. l.mu must be held, and the place already taken from
// inFlight.
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
	l.free += n
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

// HoldTimeout is how long a Hold that nobody settles keeps its places: then
// they come back as a genuine call's would. Callers settle within
// microseconds; the timeout only covers a caller that left (its context
// ended while it waited for a call another caller started).
const HoldTimeout = 5 * time.Second

// A Hold keeps the places in a source's limit of a key service call that
// unwrapped a root key, until the caller has checked what the root key
// opens. A Hold is safe for concurrent use: callers that shared the call
// share its Hold, and the first Settle decides.
type Hold struct {
	once   sync.Once
	lim    *limiter
	places int
	timer  *time.Timer
}

func newHold(lim *limiter, places int) *Hold {
	h := &Hold{lim: lim, places: places}
	h.timer = time.AfterFunc(HoldTimeout, func() { h.settle(true) })
	return h
}

// Settle ends the hold: genuine gives the places back; otherwise (a
// genuine wrapped key in a forged item or cursor) they stay used up until
// refilled, as a failed call's. Settle of a nil Hold does nothing.
func (h *Hold) Settle(genuine bool) {
	if h == nil {
		return
	}
	h.timer.Stop()
	h.settle(genuine)
}

func (h *Hold) settle(genuine bool) {
	h.once.Do(func() { h.lim.release(h.places, !genuine) })
}
