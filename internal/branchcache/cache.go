// Package branchcache caches unwrapped branch key versions for the two
// hierarchical keyrings of the project: keystore.Cipher, over dynacrypt's
// key store, and dbesdk's hierarchical keyring, over a DB-ESDK key store.
// Both face the same forged input (items naming versions that do not
// exist, records put back) and get the same bounds from it:
//
//   - an LRU of versions and an LRU of which version is active per branch
//     key id, each entry valid for a TTL;
//   - one fetch in flight per (id, version) and per active id, shared by
//     every caller asking meanwhile (singleflight);
//   - the failures that are verdicts on the key store (not found, not
//     authentic: dynacrypt.ErrKeyGone, dynacrypt.ErrIntegrity) remembered for a failure TTL, so that a flood of reads
//     naming a bad version costs one fetch, not one per read;
//   - Forget, which drops everything of an id, fetches under way included;
//   - the creation time of the newest version of each id fetched, kept
//     across forgets, so that an active version older than one seen can be
//     told: the active record was put back (a rollback), or this process's
//     cached active version is stale.
package branchcache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// Meta is what the cache needs to know of a fetched version.
type Meta struct {
	ID, Version string
	Created     time.Time
}

// Config configures a Cache.
type Config[K any] struct {
	// Size bounds the versions cached; as many active versions, failures
	// and newest creation times are kept besides.
	Size int
	// TTL is how long a fetched version, and which version is active, stay
	// cached; FailureTTL how long a failure that Verdict accepts is
	// remembered.
	TTL, FailureTTL time.Duration
	// Describe returns the id, version and creation time of a fetched key.
	Describe func(K) Meta
}

// verdict reports whether a failed fetch says something lasting about the
// key store: the key is gone (dynacrypt.ErrKeyGone), or a record is not
// authentic (dynacrypt.ErrIntegrity), as opposed to a failure of the moment
// (throttling, network, a disabled KMS key), which the next read should try
// again.
func verdict(err error) bool {
	return errors.Is(err, dynacrypt.ErrKeyGone) || errors.Is(err, dynacrypt.ErrIntegrity)
}

// Cache keeps unwrapped branch key versions of type K (a pointer). It is
// safe for concurrent use.
type Cache[K comparable] struct {
	cfg Config[K]
	now func() time.Time

	// mu orders Forget against the caching of fetches, and gen counts the
	// forgets, so that a fetch under way when its id is forgotten is not
	// cached afterwards. learnt counts the times newest grew, so that an
	// active version can be told to have been read before a newer version
	// was seen, or after.
	mu     sync.Mutex
	gen    uint64
	learnt uint64

	versions *lru.Cache[versionKey, entry[K]]
	active   *lru.Cache[string, entry[K]] // by id
	failures *lru.Cache[flight, failure]
	// newest is the latest creation time of a version of id fetched (and
	// so authenticated by KMS), kept across forgets: an active version
	// older than it was rotated away from, and is either stale in this
	// process or was put back by someone.
	newest  *lru.Cache[string, seen]
	flights singleflight.Group
}

type versionKey struct{ id, version string }

// flight names a fetch: of the active version of id (version ""), or of a
// version of id.
type flight struct {
	active      bool
	id, version string
}

// name is the flight's singleflight key. Versions never contain a NUL
// byte, so the name is unambiguous.
func (f flight) name() string {
	if f.active {
		return "a" + f.id
	}
	return "v" + f.version + "\x00" + f.id
}

// seen is the newest version of a branch key fetched: its creation time,
// and the value of Cache.learnt once it was noted.
type seen struct {
	created time.Time
	learnt  uint64
}

type entry[K any] struct {
	key     K
	meta    Meta
	expires time.Time
	// learnt is Cache.learnt when the fetch began: an active version
	// fetched before a newer version was seen may be stale.
	learnt uint64
}

type failure struct {
	err     error
	expires time.Time
}

// New returns an empty Cache.
func New[K comparable](cfg Config[K]) (*Cache[K], error) {
	if cfg.Size <= 0 || cfg.TTL <= 0 || cfg.FailureTTL <= 0 {
		return nil, errors.New("cache TTL, cache size and failure TTL must be positive")
	}
	c := &Cache[K]{cfg: cfg, now: time.Now}
	var err error
	if c.versions, err = lru.New[versionKey, entry[K]](cfg.Size); err != nil {
		return nil, err
	}
	if c.active, err = lru.New[string, entry[K]](cfg.Size); err != nil {
		return nil, err
	}
	if c.failures, err = lru.New[flight, failure](cfg.Size); err != nil {
		return nil, err
	}
	if c.newest, err = lru.New[string, seen](cfg.Size); err != nil {
		return nil, err
	}
	return c, nil
}

// SetClock replaces the cache's clock, for tests. Call it before the cache
// is used.
func (c *Cache[K]) SetClock(now func() time.Time) { c.now = now }

// Active returns the active version of id, from the cache or from fetch. A
// fetched active version is cached as a version too, so that reading what
// this process wrote needs no fetch.
//
// A cached active version older than a version of id fetched since is
// fetched again, once: the branch key was rotated elsewhere, and this
// process learnt of it by reading an item under the new version. If the
// active version is still older, the caller finds it so with NewerThan.
func (c *Cache[K]) Active(ctx context.Context, id string, fetch func(context.Context) (K, error)) (K, error) {
	k, err := c.loadActive(ctx, id, fetch)
	if err != nil || !c.stale(id, k) {
		return k, err
	}
	c.dropActive(id, k)
	return c.loadActive(ctx, id, fetch)
}

// RefreshActive fetches the active version of id, whatever is cached.
func (c *Cache[K]) RefreshActive(ctx context.Context, id string, fetch func(context.Context) (K, error)) (K, error) {
	if e, ok := c.active.Peek(id); ok {
		c.dropActive(id, e.key)
	}
	return c.loadActive(ctx, id, fetch)
}

func (c *Cache[K]) loadActive(ctx context.Context, id string, fetch func(context.Context) (K, error)) (K, error) {
	return c.load(ctx, flight{active: true, id: id},
		func(now time.Time) (K, bool) { return fresh(c.active, id, now) },
		fetch,
		func(e entry[K]) {
			c.active.Add(id, e)
			c.versions.Add(versionKey{id, e.meta.Version}, e)
			c.saw(e.meta)
		})
}

// stale reports whether k, the cached active version of id, is older than a
// version of id seen since it was fetched.
func (c *Cache[K]) stale(id string, k K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.active.Peek(id)
	n, seenAny := c.newest.Peek(id)
	return ok && e.key == k && seenAny && n.created.After(e.meta.Created) && e.learnt < n.learnt
}

// dropActive removes the cached active version of id if it is still k.
func (c *Cache[K]) dropActive(id string, k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.active.Peek(id); ok && e.key == k {
		c.active.Remove(id)
	}
}

// Version returns a version of id, from the cache or from fetch.
func (c *Cache[K]) Version(ctx context.Context, id, version string, fetch func(context.Context) (K, error)) (K, error) {
	vk := versionKey{id, version}
	return c.load(ctx, flight{id: id, version: version},
		func(now time.Time) (K, bool) { return fresh(c.versions, vk, now) },
		fetch,
		func(e entry[K]) {
			c.versions.Add(vk, e)
			c.saw(e.meta)
		})
}

// saw notes the creation time of a fetched version. c.mu is held.
func (c *Cache[K]) saw(m Meta) {
	if n, ok := c.newest.Peek(m.ID); !ok || m.Created.After(n.created) {
		c.learnt++
		c.newest.Add(m.ID, seen{m.Created, c.learnt})
	}
}

// NewerThan returns the creation time of a version of k's branch key
// fetched before, if it is later than k's.
func (c *Cache[K]) NewerThan(k K) (time.Time, bool) {
	m := c.cfg.Describe(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.newest.Get(m.ID)
	return n.created, ok && n.created.After(m.Created)
}

// Current reports whether version is the active version of id as last
// fetched (even if its entry has expired), and no newer version of id has
// been seen since.
func (c *Cache[K]) Current(id, version string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.active.Peek(id)
	if !ok || e.meta.Version != version {
		return false
	}
	n, seenAny := c.newest.Peek(id)
	return !seenAny || !n.created.After(e.meta.Created)
}

// Holds reports whether a version of id is cached, or its fetch failed
// with a verdict, so that asking for it makes no fetch.
func (c *Cache[K]) Holds(id, version string) bool {
	now := c.now()
	if e, ok := c.versions.Peek(versionKey{id, version}); ok && now.Before(e.expires) {
		return true
	}
	f, ok := c.failures.Peek(flight{id: id, version: version})
	return ok && now.Before(f.expires)
}

func fresh[L comparable, K any](l *lru.Cache[L, entry[K]], key L, now time.Time) (K, bool) {
	if e, ok := l.Get(key); ok && now.Before(e.expires) {
		return e.key, true
	}
	var zero K
	return zero, false
}

// load returns what cached finds, or a failure remembered for f, or else
// the result of one fetch shared by every caller asking meanwhile, which
// keep caches. Each caller waits under its own context.
func (c *Cache[K]) load(ctx context.Context, f flight, cached func(time.Time) (K, bool),
	fetch func(context.Context) (K, error), keep func(entry[K])) (K, error) {
	var zero K
	if k, ok := cached(c.now()); ok {
		return k, nil
	}
	if err := c.failedBefore(f); err != nil {
		return zero, err
	}
	ch := c.flights.DoChan(f.name(), func() (any, error) {
		// A flight that ended between the miss above and this one has
		// cached its key, or its failure, already.
		if k, ok := cached(c.now()); ok {
			return k, nil
		}
		if err := c.failedBefore(f); err != nil {
			return nil, err
		}
		c.mu.Lock()
		gen, learnt := c.gen, c.learnt
		c.mu.Unlock()
		fctx, cancel := keyring.Detach(ctx)
		defer cancel()
		k, err := safely(fctx, fetch)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen != gen { // forgotten meanwhile: answer the callers, keep nothing
			return k, err
		}
		if err != nil {
			if verdict(err) {
				c.failures.Add(f, failure{err, c.now().Add(c.cfg.FailureTTL)})
			}
			return nil, err
		}
		keep(entry[K]{key: k, meta: c.cfg.Describe(k), expires: c.now().Add(c.cfg.TTL), learnt: learnt})
		return k, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(K), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// failedBefore returns the error of a fetch f that failed with a verdict
// less than FailureTTL ago.
func (c *Cache[K]) failedBefore(f flight) error {
	if e, ok := c.failures.Get(f); ok && c.now().Before(e.expires) {
		return e.err
	}
	return nil
}

// Forget drops everything cached of id: versions, active version, failures,
// and the result of any fetch of it under way. What was seen of its newest
// version stays.
func (c *Cache[K]) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.active.Remove(id)
	for _, k := range c.versions.Keys() {
		if k.id == id {
			c.versions.Remove(k)
		}
	}
	for _, k := range c.failures.Keys() {
		if k.id == id {
			c.failures.Remove(k)
		}
	}
}

// safely runs a fetch, turning a panic into an error: fetches run in
// goroutines of their own, where a panic would end the process.
func safely[K any](ctx context.Context, fetch func(context.Context) (K, error)) (k K, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero K
			k = zero
			if re, ok := p.(runtime.Error); ok {
				err = fmt.Errorf("branch key fetch panicked: %w", re)
			} else {
				err = fmt.Errorf("branch key fetch panicked with a %T", p)
			}
		}
	}()
	return fetch(ctx)
}
