package keyring

import (
	"context"
	"errors"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// GuardConfig configures a Guard.
type GuardConfig struct {
	// Invalid reports whether a call's error means what it was about is
	// not authentic (forged, altered, under another key or context), as
	// opposed to a failure of the moment (throttling, network). Only
	// invalid ones are remembered as failed; every failure but a cancelled
	// or timed out call counts against the Limit, since a forger may also
	// send what the key service refuses for other reasons.
	Invalid func(error) bool
	// Free, if set, reports whether a call's error cost no key service
	// request: input the Cipher or keyring refused by itself. Such
	// failures are not counted against the Limit, so that forgeries
	// refused at no cost do not stop the cold reads of genuine items.
	Free func(error) bool
	// FailureTTL is how long what failed as invalid is refused without
	// another call.
	FailureTTL time.Duration
	// Size bounds how many failures are remembered.
	Size  int
	Limit Limit
}

// Guard bounds the key service calls that unwrap keys for reading, by
// honest readers and forgers alike: a limiter per Source (see Limit) and a
// memory of what failed as invalid. A Store's Ring makes its Decrypt calls
// under one, and an item format (DB-ESDK's) its keyrings' unwraps under
// the same, so that forged items of either format draw on one limit. It is
// safe for concurrent use.
type Guard struct {
	cfg    GuardConfig
	now    func() time.Time
	failed *lru.Cache[string, failure]
	limits [numSources]*limiter
}

type failure struct {
	err     error
	expires time.Time
}

// NewGuard returns a Guard for cfg.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.Invalid == nil {
		return nil, errors.New("an Invalid classifier is required")
	}
	if cfg.FailureTTL <= 0 || cfg.Size <= 0 {
		return nil, errors.New("failure TTL and size must be positive")
	}
	if err := cfg.Limit.check(); err != nil {
		return nil, err
	}
	g := &Guard{cfg: cfg, now: time.Now}
	var err error
	if g.failed, err = lru.New[string, failure](cfg.Size); err != nil {
		return nil, err
	}
	for i := range g.limits {
		g.limits[i] = newLimiter(cfg.Limit, g.clock)
	}
	return g, nil
}

func (g *Guard) clock() time.Time { return g.now() }

// failedBefore returns the error of an earlier call about id that showed it
// invalid, if that was less than FailureTTL ago.
func (g *Guard) failedBefore(id string, now time.Time) error {
	if f, ok := g.failed.Get(id); ok && now.Before(f.expires) {
		return f.err
	}
	return nil
}

// Call makes a key service call about id (RootID, LegacyID or FormatID)
// from source src: refused at once if id failed as invalid within
// FailureTTL, made once src's limiter allows it, and remembered if it
// shows id invalid. A panic in the call becomes an error.
func (g *Guard) Call(ctx context.Context, src Source, id string, f func(context.Context) ([]byte, error)) ([]byte, error) {
	out, _, err := g.guard(ctx, src, true, false, id, f)
	return out, err
}

// Unwrap is Call for an unwrap whose result the caller checks before it
// trusts it (an item format's data key, which opens the item): unlimited
// if local (the unwrap makes no key service request), and a successful
// limited call returns the Hold of its places, which the caller settles
// once it has checked the item.
func (g *Guard) Unwrap(ctx context.Context, src Source, id string, local bool, f func(context.Context) error) (*Hold, error) {
	_, h, err := g.guard(ctx, src, !local, true, id, func(ctx context.Context) ([]byte, error) { return nil, f(ctx) })
	return h, err
}

// guard is Call, with src's limiter only if limited. With hold, the places
// of a call that succeeds are not given back but returned in a Hold, for
// the caller to settle once it has checked what the call unwrapped.
func (g *Guard) guard(ctx context.Context, src Source, limited, hold bool, id string, f func(context.Context) ([]byte, error)) ([]byte, *Hold, error) {
	if err := g.failedBefore(id, g.now()); err != nil {
		return nil, nil, err
	}
	lim := g.limits[src]
	var m *meter
	if limited {
		if err := lim.acquire(ctx); err != nil {
			return nil, nil, err
		}
		m = &meter{lim: lim}
		ctx = context.WithValue(ctx, meterKey{}, m)
	}
	out, err := call(func() ([]byte, error) { return f(ctx) })
	invalid := err != nil && g.cfg.Invalid(err)
	free := err != nil && g.cfg.Free != nil && g.cfg.Free(err)
	var h *Hold
	if limited {
		// Every place the call took, its first and those of further
		// requests (AnotherRequest), shares the call's fate.
		places := 1 + int(m.extra.Load())
		if err == nil && hold {
			h = newHold(lim, places)
		} else {
			failed := err != nil && !free && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
			lim.release(places, failed)
		}
	}
	if invalid {
		g.failed.Add(id, failure{err: err, expires: g.now().Add(g.cfg.FailureTTL)})
	}
	return out, h, err
}
