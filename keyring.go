package dynacrypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// keyring makes, wraps, caches and unwraps a Store's root keys.
//
// Writers share one current root key until it is maxAge old or has served
// maxItems writes; then the next writer makes a new one, while concurrent
// writers wait for that single Cipher.Encrypt. Readers keep unwrapped roots
// in an LRU keyed by the wrapped bytes, each entry valid for maxAge; misses
// for the same wrapped key share one Cipher.Decrypt. With caching off, every
// write wraps a new root and every read unwraps.
type keyring struct {
	cipher   Cipher
	context  map[string]string // the encryption context: the table name
	maxAge   time.Duration
	maxItems int
	noCache  bool
	now      func() time.Time

	mu      sync.Mutex
	current *rootKey
	wraps   singleflight.Group
	unwraps singleflight.Group
	cache   *lru.Cache[string, cachedRoot]
	// lastRead is the root key read last: items read together usually
	// share one, and checking it first spares the map key conversion.
	lastRead atomic.Pointer[cachedRoot]
}

type rootKey struct {
	key     []byte
	wrapped []byte
	expires time.Time
	uses    int
}

type cachedRoot struct {
	key     []byte
	expires time.Time
	wrapped []byte // set in lastRead only
}

func newKeyring(c Cipher, table string, cfg *config) (*keyring, error) {
	k := &keyring{
		cipher:   c,
		context:  map[string]string{TableContextKey: table},
		maxAge:   cfg.rootMaxAge,
		maxItems: cfg.rootMaxItems,
		noCache:  cfg.noCache,
		now:      time.Now,
	}
	if !k.noCache {
		cache, err := lru.New[string, cachedRoot](cfg.cacheSize)
		if err != nil {
			return nil, err
		}
		k.cache = cache
	}
	return k, nil
}

// forWrite returns a root key and its wrapped form for one item write.
func (k *keyring) forWrite(ctx context.Context) (root, wrapped []byte, err error) {
	if k.noCache {
		r, err := k.newRoot(ctx)
		if err != nil {
			return nil, nil, err
		}
		return r.key, r.wrapped, nil
	}
	for {
		k.mu.Lock()
		if r := k.usableRoot(); r != nil {
			r.uses++
			k.mu.Unlock()
			return r.key, r.wrapped, nil
		}
		k.mu.Unlock()

		// One caller makes the new root; the others wait for it, each
		// under its own context.
		ch := k.wraps.DoChan("", func() (any, error) {
			// A flight that ended just before this one began may have
			// made a root already.
			k.mu.Lock()
			fresh := k.usableRoot() != nil
			k.mu.Unlock()
			if fresh {
				return nil, nil
			}
			cctx, cancel := detach(ctx)
			defer cancel()
			r, err := k.newRoot(cctx)
			if err != nil {
				return nil, err
			}
			k.mu.Lock()
			k.current = r
			k.mu.Unlock()
			k.cache.Add(string(r.wrapped), cachedRoot{key: r.key, expires: r.expires})
			return nil, nil
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, nil, res.Err
			}
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		// Loop to take a use of the new root; if other writers used it
		// up meanwhile, the next round makes another.
	}
}

// sharedCallTimeout bounds a Cipher call made on behalf of several callers.
const sharedCallTimeout = 30 * time.Second

// detach returns a context for a Cipher call that several callers wait on:
// it keeps ctx's values but not its cancellation, since the caller that
// started the call may leave while others still wait, and it is bounded so a
// hung call cannot hold every later caller.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), sharedCallTimeout)
}

// usableRoot returns the current root if it may serve another write. k.mu
// must be held.
func (k *keyring) usableRoot() *rootKey {
	if r := k.current; r != nil && r.uses < k.maxItems && k.now().Before(r.expires) {
		return r
	}
	return nil
}

func (k *keyring) newRoot(ctx context.Context) (*rootKey, error) {
	key := make([]byte, itemcrypt.RootKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, err := k.cipher.Encrypt(ctx, key, k.context)
	if err != nil {
		return nil, err
	}
	if len(wrapped) == 0 {
		return nil, errors.New("cipher returned an empty ciphertext")
	}
	return &rootKey{key: key, wrapped: wrapped, expires: k.now().Add(k.maxAge)}, nil
}

// forRead returns the root key that wrapped unwraps to.
func (k *keyring) forRead(ctx context.Context, wrapped []byte) ([]byte, error) {
	if k.noCache {
		return k.unwrap(ctx, wrapped)
	}
	now := k.now()
	if last := k.lastRead.Load(); last != nil && bytes.Equal(last.wrapped, wrapped) && now.Before(last.expires) {
		return last.key, nil
	}
	id := string(wrapped)
	if c, ok := k.cached(id, now); ok {
		c.wrapped = []byte(id)
		k.lastRead.Store(&c)
		return c.key, nil
	}
	ch := k.unwraps.DoChan(id, func() (any, error) {
		// A flight that ended between the cache miss above and this one
		// has cached the root already.
		if c, ok := k.cached(id, k.now()); ok {
			return c.key, nil
		}
		cctx, cancel := detach(ctx)
		defer cancel()
		root, err := k.unwrap(cctx, wrapped)
		if err != nil {
			return nil, err
		}
		k.cache.Add(id, cachedRoot{key: root, expires: k.now().Add(k.maxAge)})
		return root, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cached returns the root cached under id, if it has not expired by now.
func (k *keyring) cached(id string, now time.Time) (cachedRoot, bool) {
	c, ok := k.cache.Get(id)
	return c, ok && now.Before(c.expires)
}

func (k *keyring) unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	root, err := k.cipher.Decrypt(ctx, wrapped, k.context)
	if err != nil {
		return nil, err
	}
	if len(root) != itemcrypt.RootKeySize {
		return nil, errors.New("cipher returned a root key of the wrong length")
	}
	return root, nil
}
