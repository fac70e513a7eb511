package keystore

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

// cache keeps unwrapped branch key versions for a Cipher: an LRU of
// versions and an LRU of which version is active per id, each entry valid
// for ttl; one fetch in flight per (id, version) and per active id; and
// the failures that are verdicts on the key store (not found, not
// authentic) remembered for failureTTL, so that a flood of reads naming a
// bad version costs one fetch, not one per read.
type cache struct {
	ttl, failureTTL time.Duration
	now             func() time.Time

	// mu orders forget against the caching of fetches, and gen counts the
	// forgets, so that a fetch under way when its id is forgotten is not
	// cached afterwards. learnt counts the times newest grew, so that an
	// active version can be told to have been read before a newer version
	// was seen, or after.
	mu     sync.Mutex
	gen    uint64
	learnt uint64

	versions *lru.Cache[string, cachedKey] // version || id (versions are 32 bytes)
	active   *lru.Cache[string, cachedKey] // id
	failures *lru.Cache[string, failure]   // flight key
	// newest is the latest creation time of a version of id fetched (and
	// so authenticated by KMS), kept across forgets: an active version
	// older than it was rotated away from, and is either stale in this
	// process or was put back by someone (see Cipher.Encrypt).
	newest  *lru.Cache[string, seen]
	flights singleflight.Group
}

// seen is the newest version of a branch key fetched: its creation time,
// and the value of cache.learnt once it was noted.
type seen struct {
	created time.Time
	learnt  uint64
}

type cachedKey struct {
	key     *BranchKey
	expires time.Time
	// learnt is cache.learnt when the fetch began: an active version
	// fetched before a newer version was seen may be stale.
	learnt uint64
}

type failure struct {
	err     error
	expires time.Time
}

func newCache(size int, ttl, failureTTL time.Duration) (*cache, error) {
	c := &cache{ttl: ttl, failureTTL: failureTTL, now: time.Now}
	var err error
	if c.versions, err = lru.New[string, cachedKey](size); err != nil {
		return nil, err
	}
	if c.active, err = lru.New[string, cachedKey](size); err != nil {
		return nil, err
	}
	if c.failures, err = lru.New[string, failure](size); err != nil {
		return nil, err
	}
	if c.newest, err = lru.New[string, seen](size); err != nil {
		return nil, err
	}
	return c, nil
}

// activeKey returns the active version of id, from the cache or from fetch.
// A fetched active version is cached as a version too, so that reading what
// this process wrote needs no fetch.
//
// A cached active version older than a version of id fetched since is
// fetched again, once: the branch key was rotated elsewhere, and this
// process learnt of it by reading an item under the new version. If the
// active version is still older, the caller finds it so with newerThan.
func (c *cache) activeKey(ctx context.Context, id string, fetch func(context.Context) (*BranchKey, error)) (*BranchKey, error) {
	k, err := c.loadActive(ctx, id, fetch)
	if err != nil || !c.stale(id, k) {
		return k, err
	}
	c.dropActive(id, k)
	return c.loadActive(ctx, id, fetch)
}

// refreshActive fetches the active version of id, whatever is cached.
func (c *cache) refreshActive(ctx context.Context, id string, fetch func(context.Context) (*BranchKey, error)) (*BranchKey, error) {
	if e, ok := c.active.Peek(id); ok {
		c.dropActive(id, e.key)
	}
	return c.loadActive(ctx, id, fetch)
}

func (c *cache) loadActive(ctx context.Context, id string, fetch func(context.Context) (*BranchKey, error)) (*BranchKey, error) {
	return c.load(ctx, "a"+id,
		func(now time.Time) *BranchKey { return fresh(c.active, id, now) },
		fetch,
		func(k *BranchKey, expires time.Time, learnt uint64) {
			c.active.Add(id, cachedKey{k, expires, learnt})
			c.versions.Add(k.Version+id, cachedKey{k, expires, learnt})
			c.saw(k)
		})
}

// stale reports whether k, the cached active version of id, is older than a
// version of id seen since it was fetched.
func (c *cache) stale(id string, k *BranchKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.active.Peek(id)
	n, seenAny := c.newest.Peek(id)
	return ok && e.key == k && seenAny && n.created.After(k.CreateTime) && e.learnt < n.learnt
}

// dropActive removes the cached active version of id if it is still k.
func (c *cache) dropActive(id string, k *BranchKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.active.Peek(id); ok && e.key == k {
		c.active.Remove(id)
	}
}

// versionKey returns a version of id, from the cache or from fetch.
func (c *cache) versionKey(ctx context.Context, id, version string, fetch func(context.Context) (*BranchKey, error)) (*BranchKey, error) {
	return c.load(ctx, "v"+version+id,
		func(now time.Time) *BranchKey { return fresh(c.versions, version+id, now) },
		fetch,
		func(k *BranchKey, expires time.Time, learnt uint64) {
			c.versions.Add(version+id, cachedKey{k, expires, learnt})
			c.saw(k)
		})
}

// saw notes the creation time of a fetched version. c.mu is held.
func (c *cache) saw(k *BranchKey) {
	if n, ok := c.newest.Peek(k.ID); !ok || k.CreateTime.After(n.created) {
		c.learnt++
		c.newest.Add(k.ID, seen{k.CreateTime, c.learnt})
	}
}

// newerThan returns the creation time of a version of k's branch key
// fetched before, if it is later than k's.
func (c *cache) newerThan(k *BranchKey) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.newest.Get(k.ID)
	return n.created, ok && n.created.After(k.CreateTime)
}

// current reports whether version is the active version of id as last
// fetched (even if its entry has expired), and no newer version of id has
// been seen since.
func (c *cache) current(id, version string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.active.Peek(id)
	if !ok || e.key.Version != version {
		return false
	}
	n, seenAny := c.newest.Peek(id)
	return !seenAny || !n.created.After(e.key.CreateTime)
}

// holds reports whether a version of id is cached, or its fetch failed
// with a verdict, so that asking for it makes no fetch.
func (c *cache) holds(id, version string) bool {
	now := c.now()
	if e, ok := c.versions.Peek(version + id); ok && now.Before(e.expires) {
		return true
	}
	f, ok := c.failures.Peek("v" + version + id)
	return ok && now.Before(f.expires)
}

func fresh(l *lru.Cache[string, cachedKey], key string, now time.Time) *BranchKey {
	if e, ok := l.Get(key); ok && now.Before(e.expires) {
		return e.key
	}
	return nil
}

// load returns what cached finds, or a failure remembered for flight, or
// else the result of one fetch shared by every caller asking meanwhile,
// which keep caches. Each caller waits under its own context.
func (c *cache) load(ctx context.Context, flight string, cached func(time.Time) *BranchKey,
	fetch func(context.Context) (*BranchKey, error), keep func(k *BranchKey, expires time.Time, learnt uint64)) (*BranchKey, error) {
	if k := cached(c.now()); k != nil {
		return k, nil
	}
	if err := c.failedBefore(flight); err != nil {
		return nil, err
	}
	ch := c.flights.DoChan(flight, func() (any, error) {
		// A flight that ended between the miss above and this one has
		// cached its key, or its failure, already.
		if k := cached(c.now()); k != nil {
			return k, nil
		}
		if err := c.failedBefore(flight); err != nil {
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
				c.failures.Add(flight, failure{err, c.now().Add(c.failureTTL)})
			}
			return nil, err
		}
		keep(k, c.now().Add(c.ttl), learnt)
		return k, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*BranchKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// verdict reports whether a failed fetch says something lasting about the
// key store (the key is gone, or a record is not authentic), as opposed to
// a failure of the moment (throttling, network, a disabled KMS key), which
// the next read should try again.
func verdict(err error) bool {
	return errors.Is(err, ErrBranchKeyNotFound) || errors.Is(err, dynacrypt.ErrIntegrity)
}

// failedBefore returns the error of a fetch for flight that failed with a
// verdict less than failureTTL ago.
func (c *cache) failedBefore(flight string) error {
	if f, ok := c.failures.Get(flight); ok && c.now().Before(f.expires) {
		return f.err
	}
	return nil
}

// forget drops everything cached of id: versions, active version, failures,
// and the result of any fetch of it under way.
func (c *cache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.active.Remove(id)
	for _, k := range c.versions.Keys() {
		if k[versionLen:] == id {
			c.versions.Remove(k)
		}
	}
	for _, k := range c.failures.Keys() {
		if k == "a"+id || k[0] == 'v' && k[1+versionLen:] == id {
			c.failures.Remove(k)
		}
	}
}

// safely runs a fetch, turning a panic into an error: fetches run in
// goroutines of their own, where a panic would end the process.
func safely(ctx context.Context, fetch func(context.Context) (*BranchKey, error)) (k *BranchKey, err error) {
	defer func() {
		if p := recover(); p != nil {
			k = nil
			if re, ok := p.(runtime.Error); ok {
				err = fmt.Errorf("branch key fetch panicked: %w", re)
			} else {
				err = fmt.Errorf("branch key fetch panicked with a %T", p)
			}
		}
	}()
	return fetch(ctx)
}
