// Package keyring makes, wraps, caches and unwraps the root keys of one
// Store. It knows nothing of items: it hands out root keys for writing,
// finds the root key of a wrapped one for reading, and keeps the Cipher (KMS)
// from being called more than it must, by honest readers and writers as by
// forgers.
//
// Writers share one current root key (one per tenant, with TenantKey) until
// it is MaxAge old or has served MaxItems writes; then the next writer makes a new one while concurrent
// writers wait for that single Cipher.Encrypt. Readers keep unwrapped roots
// in an LRU keyed by the wrapped bytes, each entry valid for MaxAge; misses
// for the same wrapped key share one Cipher.Decrypt. Wrapped keys that did
// not unwrap are remembered for FailureTTL, and a limiter per Source bounds
// both the concurrent Decrypt calls and how many may fail (see Limit).
package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// KeySize is the length of a root key.
const KeySize = 32

// Cipher is the method set of dynacrypt.Cipher, which this package cannot
// import.
type Cipher interface {
	Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
}

// Source says where a wrapped key to unwrap came from. Each source has its
// own limiter, so that API clients forging cursors cannot stop the reading
// of items, nor the reverse.
type Source int

const (
	Items   Source = iota // headers of stored items
	Cursors               // page cursors, from API clients
	Legacy                // blobs of the legacy per-field KMS format
	numSources
)

// Config configures a Ring.
type Config struct {
	Cipher Cipher
	// Context is the encryption context of every Encrypt and Decrypt.
	Context  map[string]string
	MaxAge   time.Duration // how long a root key writes, and stays cached for reading
	MaxItems int           // writes per root key
	// CacheSize bounds the unwrapped roots kept for reading, and the
	// wrapped keys remembered as failed.
	CacheSize int
	// NoCache makes every write wrap a new root and every read unwrap.
	NoCache bool
	// Invalid reports whether a Decrypt error means the wrapped key is not
	// authentic (forged, altered, under another key or context), as opposed
	// to a failure of the moment (throttling, network). Only invalid keys
	// are remembered as failed; every failure but a cancelled or timed out
	// call counts against the Limit, since a forger may also send what the
	// key service refuses for other reasons.
	Invalid func(error) bool
	// FailureTTL is how long a wrapped key that did not unwrap is refused
	// without another Decrypt.
	FailureTTL time.Duration
	Limit      Limit
	// TenantKey, if set, is the encryption context key of a tenant:
	// ForWrite and ForRead then take a tenant, which joins the context of
	// its root keys, and each tenant has a current root key of its own.
	TenantKey string
	// Free, if set, reports whether a Decrypt error cost no key service
	// call: a wrapped key the Cipher refused by itself (or from its memory
	// of a key found gone). The Limit protects the key service, so such
	// failures are not counted against it, and forgeries refused at no
	// cost do not stop the cold reads of genuine items.
	Free func(error) bool
	// Current, if set, reports whether a wrapped root key is under the
	// Cipher's current key. Writers stop using a root it says is not, so
	// a Cipher that learns of a rotation has every later write wrapped
	// under the new key, without waiting for MaxAge.
	Current func(wrapped []byte) bool
	// Local, if set, reports whether the Cipher will unwrap wrapped
	// without a key service call (its key is at hand). Such unwraps are
	// not limited: they cost nothing, so forged input that spent the
	// limit must not stop them.
	Local func(wrapped []byte) bool
	// Guard, if set, is the Guard of the Ring's Decrypt calls, shared
	// with other users of the same limit (an item format's unwraps); its
	// own configuration then replaces Invalid, Free, FailureTTL and
	// Limit. Without it the Ring makes its own from those.
	Guard *Guard
}

// Ring makes, wraps, caches and unwraps root keys. It is safe for
// concurrent use.
type Ring struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	current *current                     // tenant ""
	tenants *lru.Cache[string, *current] // the others', with TenantKey
	// gen counts Forget calls: a root made or unwrapped by a flight that
	// began before one is not kept.
	gen     uint64
	wraps   singleflight.Group
	unwraps singleflight.Group
	cache   *lru.Cache[string, cached]
	guard   *Guard
	// lastRead is the root key read last: items read together usually
	// share one, and checking it first spares the map key conversion.
	lastRead atomic.Pointer[cached]
	// notCurrent counts the roots in a row the Cipher called not current
	// as soon as they were wrapped (maxNotCurrent).
	notCurrent atomic.Int32
}

// current is the root key writers use, and how much it has served.
type current struct {
	root    *Root
	expires time.Time
	uses    int
}

type cached struct {
	root    *Root
	tenant  string
	expires time.Time
}

// New returns a Ring for cfg.
func New(cfg Config) (*Ring, error) {
	if cfg.Cipher == nil {
		return nil, errors.New("a Cipher is required")
	}
	if cfg.MaxAge <= 0 || cfg.MaxItems <= 0 || cfg.CacheSize <= 0 {
		return nil, errors.New("root key max age, max items and key cache size must be positive")
	}
	k := &Ring{cfg: cfg, now: time.Now, guard: cfg.Guard}
	var err error
	if k.guard == nil {
		k.guard, err = NewGuard(GuardConfig{Invalid: cfg.Invalid, Free: cfg.Free, FailureTTL: cfg.FailureTTL, Limit: cfg.Limit, Size: cfg.CacheSize})
		if err != nil {
			return nil, err
		}
		k.guard.now = k.clock
	}
	if cfg.TenantKey != "" {
		if k.tenants, err = lru.New[string, *current](cfg.CacheSize); err != nil {
			return nil, err
		}
	}
	if !cfg.NoCache {
		if k.cache, err = lru.New[string, cached](cfg.CacheSize); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *Ring) clock() time.Time { return k.now() }

// SetClock replaces the ring's clock, for tests; that of its Guard too,
// unless the Guard was given (Config.Guard).
func (k *Ring) SetClock(now func() time.Time) { k.now = now }

// ForWrite returns a root key for one write of tenant's item (tenant "":
// an item of no tenant, a cursor or a manifest).
func (k *Ring) ForWrite(ctx context.Context, tenant string) (*Root, error) {
	if tenant != "" && k.cfg.TenantKey == "" {
		return nil, errors.New("a tenant's root key, but the ring has no TenantKey")
	}
	if k.cfg.NoCache {
		return k.newRoot(ctx, tenant)
	}
	for {
		k.mu.Lock()
		if c := k.usable(tenant); c != nil {
			c.uses++
			k.mu.Unlock()
			return c.root, nil
		}
		k.mu.Unlock()

		// One caller makes the new root; the others wait for it, each
		// under its own context.
		ch := k.wraps.DoChan(tenant, func() (any, error) {
			// A flight that ended just before this one began may have
			// made a root already.
			k.mu.Lock()
			fresh := k.usable(tenant) != nil
			k.mu.Unlock()
			if fresh {
				return nil, nil
			}
			gen := k.generation()
			cctx, cancel := Detach(ctx)
			defer cancel()
			r, err := k.newRoot(cctx, tenant)
			if err != nil {
				return nil, err
			}
			if k.cfg.Current != nil && !k.cfg.Current(r.wrapped) {
				if k.notCurrent.Add(1) >= maxNotCurrent {
					k.notCurrent.Store(0)
					return nil, fmt.Errorf("%d root keys in a row were not current once wrapped: the Cipher's UnderCurrentKey disagrees with its Encrypt", maxNotCurrent)
				}
			} else {
				k.notCurrent.Store(0)
			}
			expires := k.now().Add(k.cfg.MaxAge)
			c := &current{root: r, expires: expires}
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.gen != gen {
				return nil, nil // forgotten meanwhile: the writers make another
			}
			if tenant == "" {
				k.current = c
			} else {
				k.tenants.Add(tenant, c)
			}
			k.cache.Add(k.readID(r.wrapped, tenant), cached{root: r, tenant: tenant, expires: expires})
			return nil, nil
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, res.Err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// Loop to take a use of the new root; if other writers used it
		// up meanwhile, the next round makes another.
	}
}

// maxNotCurrent bounds the roots in a row that the Cipher calls not
// current as soon as it wrapped them: its UnderCurrentKey then disagrees
// with its Encrypt, and writers would wrap roots (and call KMS) without end.
const maxNotCurrent = 8

// usable returns tenant's current root if it may serve another write. k.mu
// must be held.
func (k *Ring) usable(tenant string) *current {
	c := k.current
	if tenant != "" {
		c, _ = k.tenants.Get(tenant)
	}
	if c != nil && c.uses < k.cfg.MaxItems && k.now().Before(c.expires) &&
		(k.cfg.Current == nil || k.cfg.Current(c.root.wrapped)) {
		return c
	}
	return nil
}

// SharedCallTimeout bounds a call made on behalf of several callers.
const SharedCallTimeout = 30 * time.Second

// Detach returns a context for a call that several callers wait on (a
// Cipher call here, a key fetch in the beacons and the key store): it keeps
// ctx's values but not its cancellation, since the caller that started the
// call may leave while others still wait, and it is bounded
// (SharedCallTimeout) so a hung call cannot hold every later caller.
func Detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), SharedCallTimeout)
}

// EncryptionContext returns the encryption context of tenant's root keys
// ("": of no tenant). The caller must not modify it.
func (k *Ring) EncryptionContext(tenant string) map[string]string {
	if tenant == "" {
		return k.cfg.Context
	}
	ec := make(map[string]string, len(k.cfg.Context)+1)
	for name, v := range k.cfg.Context {
		ec[name] = v
	}
	ec[k.cfg.TenantKey] = tenant
	return ec
}

func (k *Ring) newRoot(ctx context.Context, tenant string) (*Root, error) {
	r := newRoot()
	if _, err := rand.Read(r.material[:]); err != nil {
		return nil, err
	}
	ec := k.EncryptionContext(tenant)
	wrapped, err := call(func() ([]byte, error) { return k.cfg.Cipher.Encrypt(ctx, r.material[:], ec) })
	if err != nil {
		return nil, err
	}
	if len(wrapped) == 0 {
		return nil, errors.New("cipher returned an empty ciphertext")
	}
	r.wrapped = wrapped
	return r, nil
}

// ForRead returns the root key that wrapped unwraps to. When it had the
// Cipher unwrap it with a key service call (rather than finding it cached,
// or unwrapping it locally), it also returns the Hold of that call's place
// in src's limit: the caller must Settle it once it has checked the item or
// cursor the root key opens, genuine or not, since a forger may paste a
// genuine wrapped key into a forgery to make the Store call the key
// service. src names where wrapped came from, for the limiter; tenant is the
// tenant the item says it is of ("": none), whose context the root key must
// unwrap under.
func (k *Ring) ForRead(ctx context.Context, wrapped []byte, tenant string, src Source) (*Root, *Hold, error) {
	if tenant != "" && k.cfg.TenantKey == "" {
		return nil, nil, errors.New("a tenant's root key, but the ring has no TenantKey")
	}
	if k.cfg.NoCache {
		r, err := k.unwrap(ctx, wrapped, tenant, src, k.readID(wrapped, tenant))
		if err != nil {
			return nil, nil, err
		}
		return r.root, r.hold, nil
	}
	now := k.now()
	if last := k.lastRead.Load(); last != nil && bytes.Equal(last.root.wrapped, wrapped) && last.tenant == tenant && now.Before(last.expires) {
		return last.root, nil, nil
	}
	id := k.readID(wrapped, tenant)
	if c, ok := k.cached(id, now); ok {
		k.lastRead.Store(&c)
		return c.root, nil, nil
	}
	if err := k.guard.failedBefore(RootID(id), now); err != nil {
		return nil, nil, err
	}
	// One flight per source, so that a source whose limit is spent cannot
	// fail the readers of another.
	ch := k.unwraps.DoChan(string(rune('0'+src))+id, func() (any, error) {
		// A flight that ended between the cache miss above and this one
		// has cached the root, or its failure, already.
		if c, ok := k.cached(id, k.now()); ok {
			return unwrapped{root: c.root}, nil
		}
		if err := k.guard.failedBefore(RootID(id), k.now()); err != nil {
			return nil, err
		}
		gen := k.generation()
		cctx, cancel := Detach(ctx)
		defer cancel()
		r, err := k.unwrap(cctx, wrapped, tenant, src, id)
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.gen == gen { // not forgotten meanwhile
			k.cache.Add(id, cached{root: r.root, tenant: tenant, expires: k.now().Add(k.cfg.MaxAge)})
		}
		return r, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, nil, res.Err
		}
		r := res.Val.(unwrapped)
		return r.root, r.hold, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// generation returns the count of Forget calls so far.
func (k *Ring) generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// Forget drops the root keys of tenant ("": of no tenant) that the ring
// holds: the one writers use and those cached for reading. What reads and
// writes under way when it is called make is not kept either.
func (k *Ring) Forget(tenant string) {
	k.mu.Lock()
	k.gen++
	if tenant == "" {
		k.current = nil
	} else if k.tenants != nil {
		k.tenants.Remove(tenant)
	}
	k.mu.Unlock()
	if last := k.lastRead.Load(); last != nil && last.tenant == tenant {
		k.lastRead.CompareAndSwap(last, nil)
	}
	if k.cache == nil {
		return
	}
	for _, id := range k.cache.Keys() {
		if c, ok := k.cache.Peek(id); ok && c.tenant == tenant {
			k.cache.Remove(id)
		}
	}
}

// cached returns the root cached under id, if it has not expired by now.
func (k *Ring) cached(id string, now time.Time) (cached, bool) {
	c, ok := k.cache.Get(id)
	return c, ok && now.Before(c.expires)
}

// readID is what the read cache and the memory of failures know a wrapped
// root key by: with TenantKey, prefixed by the tenant (its length, as a
// uvarint, then its bytes), since the same bytes are a different question
// under each tenant's context, and a root found under one must not serve
// another.
func (k *Ring) readID(wrapped []byte, tenant string) string {
	if k.cfg.TenantKey == "" {
		return string(wrapped)
	}
	b := make([]byte, 0, binary.MaxVarintLen64+len(tenant)+len(wrapped))
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	return string(append(b, wrapped...))
}

// unwrapped is a root key unwrapped, and the Hold of the places its key
// service call took (nil if it made none).
type unwrapped struct {
	root *Root
	hold *Hold
}

// unwrap calls Decrypt under Guard (unlimited if Local says it makes no
// key service call), and checks the root key it returns. id is
// readID(wrapped, tenant).
func (k *Ring) unwrap(ctx context.Context, wrapped []byte, tenant string, src Source, id string) (unwrapped, error) {
	ec := k.EncryptionContext(tenant)
	limited := k.cfg.Local == nil || !k.cfg.Local(wrapped)
	plain, hold, err := k.guard.guard(ctx, src, limited, true, RootID(id), func(ctx context.Context) ([]byte, error) {
		plain, err := k.cfg.Cipher.Decrypt(ctx, wrapped, ec)
		if err == nil && len(plain) != KeySize {
			clear(plain)
			return nil, fmt.Errorf("cipher returned a root key of %d bytes, want %d", len(plain), KeySize)
		}
		return plain, err
	})
	if err != nil {
		return unwrapped{}, err
	}
	r := newRoot()
	copy(r.material[:], plain)
	clear(plain)
	r.wrapped = bytes.Clone(wrapped)
	return unwrapped{root: r, hold: hold}, nil
}

// RootID, LegacyID and FormatID name what Guard calls are about in its memory of
// failures: a wrapped root key (decrypted under the table's context, and a
// tenant's: its readID) or a legacy ciphertext (decrypted with none). Kept
// apart, the same bytes sent as both cannot make one fail for the other.
func RootID(readID string) string { return "root:" + readID }

// LegacyID: see RootID.
func LegacyID(blob []byte) string { return "legacy:" + string(blob) }

// FormatID: see RootID; id is what an item format's unwrap is about (its
// encrypted data keys and encryption context).
func FormatID(id string) string { return "format:" + id }

// Guard makes a Cipher call about id (RootID or LegacyID) from source src
// under the Ring's Guard: see [Guard.Call].
func (k *Ring) Guard(ctx context.Context, src Source, id string, f func(context.Context) ([]byte, error)) ([]byte, error) {
	return k.guard.Call(ctx, src, id, f)
}

// call runs a Cipher call, turning a panic into an error: Cipher calls run
// in goroutines of their own (singleflight), where a panic would end the
// process beyond any recover of the caller.
func call(f func() ([]byte, error)) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &PanicError{Value: p}
		}
	}()
	return f()
}

// PanicError reports a Cipher call that panicked.
type PanicError struct{ Value any }

// Error describes the panic. It shows the panic value only if it is a
// runtime error (such as an index out of range), whose text cannot hold
// key material; any other value is named by its type.
func (e *PanicError) Error() string {
	if re, ok := e.Value.(runtime.Error); ok {
		return "cipher panicked: " + re.Error()
	}
	return fmt.Sprintf("cipher panicked with a %T", e.Value)
}
