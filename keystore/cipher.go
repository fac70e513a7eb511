package keystore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/branchcache"
	"github.com/dynacrypt/dynacrypt/internal/nilref"
)

// A BranchKeySource is where a [Cipher] gets branch keys. [*KeyStore] is
// the one to use; tests and examples that have no key store use
// dynacrypttest.MemoryKeyStore, a key store in memory, or a source of their
// own (branch keys built with [NewBranchKey]). The Cipher caches what it
// returns, so each method is called about once per branch key version and
// cache TTL.
type BranchKeySource interface {
	// ActiveBranchKey returns the version of branch key id that new root
	// keys are wrapped under.
	ActiveBranchKey(ctx context.Context, id string) (*BranchKey, error)
	// BranchKeyVersion returns a version of branch key id. A version that
	// does not exist (any more) gives an error wrapping
	// ErrBranchKeyNotFound; one that is not authentic, an error wrapping
	// dynacrypt.ErrIntegrity.
	BranchKeyVersion(ctx context.Context, id, version string) (*BranchKey, error)
}

// Defaults of the Cipher's options.
const (
	DefaultCacheTTL   = 10 * time.Minute
	DefaultCacheSize  = 1000
	DefaultFailureTTL = time.Minute
)

// TenantContextKey is the encryption context key under which a Store
// declared dynacrypt.WithTenantAttribute passes an item's tenant. The Cipher
// then wraps and unwraps under the tenant's branch key (see
// [WithBranchKeyIDSupplier]).
const TenantContextKey = dynacrypt.TenantContextKey

// A BranchKeyIDSupplier maps a tenant (the TenantContextKey value of an
// encryption context) to the id of its branch key.
type BranchKeyIDSupplier func(ctx context.Context, tenant string) (string, error)

// A CipherOption configures a Cipher.
type CipherOption func(*cipherConfig)

type cipherConfig struct {
	ttl, failureTTL time.Duration
	size            int
	supplier        BranchKeyIDSupplier
	previous        dynacrypt.Cipher
	previousSet     bool // WithPreviousCipher was given, perhaps nil
}

// WithCacheTTL sets how long an unwrapped branch key version, and which
// version is active, stay cached (DefaultCacheTTL). It bounds how long a
// process goes on wrapping under a version after a rotation elsewhere, and
// reading after a shredding elsewhere.
func WithCacheTTL(d time.Duration) CipherOption { return func(c *cipherConfig) { c.ttl = d } }

// WithCacheSize bounds how many branch key versions stay cached
// (DefaultCacheSize); as many active versions, and as many failures, are
// remembered besides.
func WithCacheSize(n int) CipherOption { return func(c *cipherConfig) { c.size = n } }

// WithFailureTTL sets how long a fetch that failed with a verdict (the
// version is not found, or not authentic) is remembered, so that reads
// naming it fail without another request (DefaultFailureTTL). Failures of
// the moment, such as throttling, are not remembered. [Cipher.Forget]
// drops them; so, after a branch key is created, does the end of this TTL
// in a process that found it missing before.
func WithFailureTTL(d time.Duration) CipherOption { return func(c *cipherConfig) { c.failureTTL = d } }

// WithBranchKeyIDSupplier sets how a tenant maps to its branch key id. By
// default a tenant's branch key id is the tenant itself.
func WithBranchKeyIDSupplier(f BranchKeyIDSupplier) CipherOption {
	return func(c *cipherConfig) { c.supplier = f }
}

// WithPreviousCipher lets the Cipher read root keys that another Cipher
// wrapped: the [dynacrypt.KMSCipher] (or [dynacrypt.AESCipher]) a table
// used before it moved to the key store. Decrypt hands it every wrapped
// root that is not a key store's (FORMAT.md §11: the first byte tells);
// Encrypt never uses it, and UnderCurrentKey is false for what it wrapped,
// so Store.Reencrypt moves those items to the branch key. Once a walk has
// found nothing left to move, drop the option.
func WithPreviousCipher(previous dynacrypt.Cipher) CipherOption {
	return func(c *cipherConfig) { c.previous, c.previousSet = previous, true }
}

// Cipher is a dynacrypt.Cipher that wraps root keys locally under branch
// keys from a key store: the role of AWS's hierarchical keyring. A fleet
// shares the branch key, so each process calls KMS about once per branch
// key version and cache TTL, however many root keys its writers make, and
// needs KMS Decrypt only (never Encrypt).
//
// Encrypt wraps under the active version of the branch key: HKDF-SHA-256
// of the branch key with a fresh salt, bound to the branch key id, the
// version and the encryption context, keys an AES-256-GCM that seals the
// root key once (FORMAT.md §11). Decrypt reads the id and version from the
// wrapped root, refuses with dynacrypt.ErrIntegrity and no request an id
// that is not the one this cipher uses for the encryption context, fetches
// that version if it is not cached, and opens the root key.
//
// Which branch key: the one named at NewCipher, unless the encryption
// context holds a tenant (TenantContextKey); then the tenant's, as
// [WithBranchKeyIDSupplier] maps it (the tenant itself by default). A root
// key wrapped under another tenant's branch key is refused before any fetch.
//
// Versions are cached in an LRU (WithCacheSize) for WithCacheTTL; misses
// for the same version share one fetch; fetches that failed with a verdict
// are remembered for WithFailureTTL. A version that no longer exists
// (shredded by [KeyStore.Delete]) gives an error wrapping
// ErrBranchKeyNotFound and not dynacrypt.ErrIntegrity. The active version
// is cached too: after a rotation this process wraps under the old version
// until its TTL ends or [Cipher.Forget] is called.
//
// A Cipher is safe for concurrent use. Share one per process.
type Cipher struct {
	src      BranchKeySource
	id       string
	supplier BranchKeyIDSupplier
	previous dynacrypt.Cipher // reads what another Cipher wrapped; nil if none
	cache    *branchcache.Cache[*BranchKey]
}

var _ dynacrypt.Cipher = (*Cipher)(nil)
var _ dynacrypt.CurrentKeyRefresher = (*Cipher)(nil)
var _ dynacrypt.LocalUnwrapper = (*Cipher)(nil)

// NewCipher returns a Cipher over src (usually a *KeyStore) that wraps
// under branch key branchKeyID. branchKeyID may be empty only if every
// encryption context will hold a tenant. It makes no request.
func NewCipher(src BranchKeySource, branchKeyID string, opts ...CipherOption) (*Cipher, error) {
	cfg := cipherConfig{ttl: DefaultCacheTTL, size: DefaultCacheSize, failureTTL: DefaultFailureTTL}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case nilref.Is(src):
		return nil, errors.New("keystore: NewCipher: no branch key source")
	case cfg.previousSet && nilref.Is(cfg.previous):
		return nil, errors.New("keystore: NewCipher: WithPreviousCipher of a nil Cipher")
	}
	if branchKeyID != "" {
		if err := checkID(branchKeyID); err != nil {
			return nil, fmt.Errorf("keystore: NewCipher: %w", err)
		}
	}
	c, err := branchcache.New(branchcache.Config[*BranchKey]{
		Size: cfg.size, TTL: cfg.ttl, FailureTTL: cfg.failureTTL,
		Describe: func(k *BranchKey) branchcache.Meta {
			return branchcache.Meta{ID: k.ID, Version: k.Version, Created: k.CreateTime}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: NewCipher: %w", err)
	}
	return &Cipher{src: src, id: branchKeyID, supplier: cfg.supplier, previous: cfg.previous, cache: c}, nil
}

// BranchKeyID returns the branch key the cipher wraps under when the
// encryption context holds no tenant.
func (c *Cipher) BranchKeyID() string { return c.id }

// branchKeyID returns the branch key id for an encryption context: the
// tenant's, if it holds one, else the cipher's. It makes no key store
// request (a supplier may make its own).
func (c *Cipher) branchKeyID(ctx context.Context, ec map[string]string) (string, error) {
	tenant, ok := ec[TenantContextKey]
	if !ok {
		if c.id == "" {
			return "", fmt.Errorf("the encryption context has no %s, and the cipher has no branch key id of its own", TenantContextKey)
		}
		return c.id, nil
	}
	id := tenant
	if c.supplier != nil {
		var err error
		if id, err = c.supplier(ctx, tenant); err != nil {
			return "", fmt.Errorf("branch key id of tenant %q: %w", tenant, err)
		}
	}
	if err := checkID(id); err != nil {
		return "", fmt.Errorf("branch key id of tenant %q: %w", tenant, err)
	}
	return id, nil
}

// Encrypt wraps a 32-byte root key under the active version of the branch
// key the encryption context selects. It fetches that version only when it
// is not cached: two GetItem requests and one KMS Decrypt, per TTL.
//
// A cached active version older than a version of the same branch key this
// cipher has fetched since (to read an item written elsewhere after a
// rotation) is read again first. If the branch:ACTIVE record still names
// the older version, Encrypt refuses (dynacrypt.ErrIntegrity): someone who
// can write the key store put an older record back, to have new data, and
// Store.Reencrypt's rewrites, wrapped under a version rotated away from.
// (A process that never read the newer version cannot tell.) Versions are
// ordered by their creation times, which Rotate keeps increasing whatever
// the rotating machine's clock says.
func (c *Cipher) Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	if len(plaintext) != KeySize {
		return nil, &Error{Op: "Encrypt", Err: fmt.Errorf("root key is %d bytes, want %d", len(plaintext), KeySize)}
	}
	id, err := c.branchKeyID(ctx, encryptionContext)
	if err != nil {
		return nil, &Error{Op: "Encrypt", Err: err}
	}
	k, err := c.cache.Active(ctx, id, c.fetchActive(id))
	if err != nil {
		return nil, opError("Encrypt", id, "", err)
	}
	if t, newer := c.cache.NewerThan(k); newer {
		return nil, &Error{Op: "Encrypt", ID: id, Version: k.Version, Err: integrity(
			"the branch:ACTIVE record names a version created at %v, before a version of this branch key this process has read (created at %v): an older record was put back; find who wrote the key store, then rotate the branch key",
			k.CreateTime.UTC(), t.UTC())}
	}
	var salt [wrapSalt]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	out, err := wrap(k.key[:], k.ID, k.Version, salt[:], plaintext, encryptionContext)
	runtime.KeepAlive(k) // its key material is zeroed once unreachable
	if err != nil {
		return nil, &Error{Op: "Encrypt", ID: id, Version: k.Version, Err: err}
	}
	return out, nil
}

// Decrypt unwraps a root key that Encrypt wrapped under the same
// encryption context. It refuses, with an error wrapping
// dynacrypt.ErrIntegrity and no request, bytes that are not a wrapped root
// key and a root key wrapped under a branch key other than the one the
// context selects; then it fetches the version the wrapped root names if
// it is not cached (one GetItem request and one KMS Decrypt) and opens the
// root key. A version that no longer exists gives ErrBranchKeyNotFound.
//
// Its errors say, with a method Local returning true, that the refusal is
// not to be counted against a Store's unwrap limit (as dynacrypt.Cipher
// describes): no key store or KMS request was made for this call (the
// wrapped root was malformed, named another branch key, failed before, or
// did not open under a version already fetched), or the version was found
// shredded (ErrBranchKeyShredded), which costs two GetItems (the
// version's record, then the active record, which must not name it) and no
// KMS request, and which forged items can name only for keys that existed.
//
// With [WithPreviousCipher], a root key wrapped by another Cipher goes to
// that Cipher, once the tenant's branch key id is known (a supplier that
// refuses the tenant refuses those too); its errors are returned as they
// are.
func (c *Cipher) Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	// The tenant's branch key first: a supplier that refuses the tenant
	// refuses what the previous Cipher wrapped for it too.
	want, err := c.branchKeyID(ctx, encryptionContext)
	if err != nil {
		return nil, local(&Error{Op: "Decrypt", Err: err})
	}
	if c.previous != nil && len(ciphertext) > 0 && ciphertext[0] != wrapFormat {
		return c.previous.Decrypt(ctx, ciphertext, encryptionContext)
	}
	w, err := parseWrapped(ciphertext)
	if err != nil {
		return nil, local(&Error{Op: "Decrypt", Err: err})
	}
	if w.id != want {
		return nil, local(&Error{Op: "Decrypt", ID: w.id, Version: w.version,
			Err: integrity("root key wrapped under another branch key than %q, the one for this encryption context", want)})
	}
	// fetched is set by the fetch this call starts, if it starts one; it
	// is read only once the fetch has answered.
	fetched := false
	fetch := c.fetchVersion(w.id, w.version)
	k, err := c.cache.Version(ctx, w.id, w.version, func(ctx context.Context) (*BranchKey, error) {
		fetched = true
		return fetch(ctx)
	})
	if err != nil {
		err = opError("Decrypt", w.id, w.version, err)
		// A version known shredded is not charged even when it took a
		// fetch to learn: forged items can name only so many of them.
		if ctx.Err() == nil && (!fetched || errors.Is(err, ErrBranchKeyShredded)) {
			err = local(err)
		}
		return nil, err
	}
	root, err := unwrap(k.key[:], w, encryptionContext)
	runtime.KeepAlive(k) // its key material is zeroed once unreachable
	if err != nil {
		return nil, local(&Error{Op: "Decrypt", ID: w.id, Version: w.version, Err: err})
	}
	return root, nil
}

// fetchActive returns the fetch of the active version of branch key id.
func (c *Cipher) fetchActive(id string) func(context.Context) (*BranchKey, error) {
	return func(ctx context.Context) (*BranchKey, error) {
		k, err := c.src.ActiveBranchKey(ctx, id)
		if err == nil {
			err = checkFetched(k, id, "")
		}
		return k, err
	}
}

// fetchVersion returns the fetch of a version of branch key id.
func (c *Cipher) fetchVersion(id, version string) func(context.Context) (*BranchKey, error) {
	return func(ctx context.Context) (*BranchKey, error) {
		k, err := c.src.BranchKeyVersion(ctx, id, version)
		if err == nil {
			err = checkFetched(k, id, version)
		}
		return k, err
	}
}

// checkFetched refuses what a source returned for another branch key or
// version than asked for (version "": any), or without material.
func checkFetched(k *BranchKey, id, version string) error {
	switch {
	case k == nil || k.key == nil:
		return errors.New("the branch key source returned no key (use NewBranchKey)")
	case k.ID != id || version != "" && k.Version != version || !validVersion(k.Version):
		return integrity("asked for branch key %q version %q, the source returned %q version %q", id, version, k.ID, k.Version)
	}
	return nil
}

// UnderCurrentKey reports whether a wrapped root key names the active
// version of its branch key, as this cipher last fetched it, and no newer
// version of that branch key has been fetched since (to read an item
// written elsewhere after a rotation). It makes no request, and is false
// for a branch key whose active version this cipher has not fetched since
// it was made or told to Forget it. A dynacrypt.Store uses it to stop
// writing under a root key wrapped under an older version, and
// Store.Reencrypt to find the items to rewrap after a rotation, once
// RefreshCurrentKey has read the active version afresh.
func (c *Cipher) UnderCurrentKey(ciphertext []byte) bool {
	w, err := parseWrapped(ciphertext)
	return err == nil && c.cache.Current(w.id, w.version)
}

// RefreshCurrentKey reads the active version of the branch key the
// encryption context selects afresh, whatever this cipher has cached, so
// that UnderCurrentKey and Encrypt then answer for the key store as it is
// now: two GetItem requests and, for a version not cached, one KMS Decrypt.
// Store.Reencrypt calls it once per branch key before it decides which of
// its items to rewrap, so that a walk in a process that cached the active
// version before a rotation elsewhere moves the items still under it. A
// branch key that is gone gives ErrBranchKeyNotFound, remembered as
// Decrypt's failures are.
func (c *Cipher) RefreshCurrentKey(ctx context.Context, encryptionContext map[string]string) error {
	id, err := c.branchKeyID(ctx, encryptionContext)
	if err != nil {
		return &Error{Op: "RefreshCurrentKey", Err: err}
	}
	if _, err := c.cache.RefreshActive(ctx, id, c.fetchActive(id)); err != nil {
		return opError("RefreshCurrentKey", id, "", err)
	}
	return nil
}

// CheckRewrap returns an error wrapping dynacrypt.ErrIntegrity if a wrapped
// root key names a version of its branch key created after the active one:
// the branch:ACTIVE record was put back, and rewrapping would move the item
// onto a version rotated away from. It compares with the active version as
// this cipher holds it (RefreshCurrentKey reads it afresh), and fetches the
// version the root names if it is not cached (one GetItem request and one
// KMS Decrypt). Store.Reencrypt calls it before every rewrite, so that a
// walk never moves an item back, even in a process whose memory of the
// newer version was evicted from its caches. A root key another Cipher
// wrapped (WithPreviousCipher) passes.
func (c *Cipher) CheckRewrap(ctx context.Context, ciphertext []byte) error {
	w, err := parseWrapped(ciphertext)
	if err != nil {
		return nil
	}
	active, err := c.cache.Active(ctx, w.id, c.fetchActive(w.id))
	if err != nil {
		return opError("CheckRewrap", w.id, "", err)
	}
	if w.version == active.Version {
		return nil
	}
	k, err := c.cache.Version(ctx, w.id, w.version, c.fetchVersion(w.id, w.version))
	if err != nil {
		return opError("CheckRewrap", w.id, w.version, err)
	}
	if k.CreateTime.After(active.CreateTime) {
		return &Error{Op: "CheckRewrap", ID: w.id, Version: w.version, Err: integrity(
			"the item's version was created at %v, after the active version %s (%v): the branch:ACTIVE record was put back; find who wrote the key store, then rotate the branch key",
			k.CreateTime.UTC(), active.Version, active.CreateTime.UTC())}
	}
	return nil
}

// Forget drops at once everything this cipher cached of a branch key: its
// versions, which version is active, and remembered failures. Call it
// after deleting a branch key, so that this process stops reading what it
// protected without waiting for the TTL, or after rotating it, so that this
// process wraps under the new version at once. Other processes learn within
// their cache TTL. (A dynacrypt.Store also caches unwrapped root keys, for
// its WithRootKeyMaxAge.)
func (c *Cipher) Forget(branchKeyID string) { c.cache.Forget(branchKeyID) }

// UnwrapsLocally reports whether Decrypt of ciphertext will make no key
// store or KMS request: the version it names is cached (or known to have
// failed), or the bytes are no wrapped root key at all. A root key for
// [WithPreviousCipher] is asked of that Cipher, if it can tell. A Store uses
// it to exempt such unwraps from its unwrap limit.
func (c *Cipher) UnwrapsLocally(ciphertext []byte) bool {
	if c.previous != nil && len(ciphertext) > 0 && ciphertext[0] != wrapFormat {
		l, ok := c.previous.(dynacrypt.LocalUnwrapper)
		return ok && l.UnwrapsLocally(ciphertext)
	}
	w, err := parseWrapped(ciphertext)
	return err != nil || c.cache.Holds(w.id, w.version)
}
