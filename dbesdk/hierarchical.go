package dbesdk

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/branchcache"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
)

// Defaults of the hierarchical keyring's options.
const (
	DefaultCacheTTL   = 10 * time.Minute
	DefaultCacheSize  = 1000
	DefaultFailureTTL = time.Minute
)

// A HierarchicalOption configures a [HierarchicalKeyring].
type HierarchicalOption func(*hierarchicalConfig)

type hierarchicalConfig struct {
	ttl, failureTTL time.Duration
	size            int
	supplier        BranchKeyIDSupplier
}

// WithCacheTTL sets how long an unwrapped branch key version, and which
// version is active, stay cached (DefaultCacheTTL): DB-ESDK's cache limit
// TTL. It bounds how long a process goes on wrapping under a version after
// a rotation elsewhere.
func WithCacheTTL(d time.Duration) HierarchicalOption {
	return func(c *hierarchicalConfig) { c.ttl = d }
}

// WithCacheSize bounds how many branch key versions stay cached
// (DefaultCacheSize, as in DB-ESDK); as many active versions, and as many
// failures, are remembered besides.
func WithCacheSize(n int) HierarchicalOption {
	return func(c *hierarchicalConfig) { c.size = n }
}

// WithFailureTTL sets how long a fetch that failed with a verdict on the
// key store (the version is not found, or not authentic) is remembered, so
// that items naming it fail without another request (DefaultFailureTTL).
// Failures of the moment, such as throttling, are not remembered.
func WithFailureTTL(d time.Duration) HierarchicalOption {
	return func(c *hierarchicalConfig) { c.failureTTL = d }
}

// WithBranchKeyIDSupplier makes the keyring choose each item's branch key
// with s, from the item's key and SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT
// attributes: one branch key per tenant. Give HierarchicalKeyring an empty
// branch key id with it.
func WithBranchKeyIDSupplier(s BranchKeyIDSupplier) HierarchicalOption {
	return func(c *hierarchicalConfig) { c.supplier = s }
}

// HierarchicalKeyring returns a keyring over the branch keys of a DB-ESDK
// key store, as DB-ESDK's AWS KMS hierarchical keyring
// (mpl/framework/aws-kms/aws-kms-hierarchical-keyring.md): items it wraps
// and those DB-ESDK's keyring wraps under the same branch keys read both
// ways.
//
// Each item's data key is wrapped locally (an HMAC-SHA-256 KDF and
// AES-256-GCM) under the active version of a branch key, which the keyring
// reads from the key store and unwraps with KMS Decrypt about once per
// version and WithCacheTTL, however many items it wraps and unwraps: a
// process calls KMS rarely, and needs only kms:Decrypt. The branch key is
// branchKeyID, or, with [WithBranchKeyIDSupplier] (and branchKeyID empty),
// the one the supplier names for the item: one branch key per tenant.
//
// On decrypt it unwraps only EDKs of the branch key it would wrap the item
// under: an item naming another branch key (another tenant's, say) is
// refused with dynacrypt.ErrIntegrity before any key store request. A
// version it does not hold is read from the key store (one GetItem and one
// KMS Decrypt); one that does not exist (a forged item) costs one or two
// GetItem requests and no KMS request, and is remembered for
// WithFailureTTL. A branch key whose records were deleted gives an error
// wrapping ErrBranchKeyNotFound (and so dynacrypt.ErrKeyGone).
//
// Versions are cached in an LRU (WithCacheSize) for WithCacheTTL, misses
// for the same version share one fetch, and the active version is cached
// too: after a rotation elsewhere, this keyring wraps under the old version
// until its TTL ends, unless it has read an item under the new one; then it
// reads the active record again. If that record still names an older
// version than one read (someone put back an older branch:ACTIVE record),
// it refuses to wrap, with dynacrypt.ErrIntegrity.
//
// It makes no request until used.
func HierarchicalKeyring(ks *KeyStore, branchKeyID string, opts ...HierarchicalOption) (*Keyring, error) {
	cfg := hierarchicalConfig{ttl: DefaultCacheTTL, size: DefaultCacheSize, failureTTL: DefaultFailureTTL}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case ks == nil:
		return nil, errors.New("dbesdk: HierarchicalKeyring: no key store")
	case (branchKeyID == "") == (cfg.supplier == nil):
		return nil, errors.New("dbesdk: HierarchicalKeyring: give either a branch key id or WithBranchKeyIDSupplier, not both")
	}
	if branchKeyID != "" {
		if err := checkID(branchKeyID); err != nil {
			return nil, fmt.Errorf("dbesdk: HierarchicalKeyring: %w", err)
		}
	}
	cache, err := branchcache.New(branchcache.Config[*branchKey]{
		Size: cfg.size, TTL: cfg.ttl, FailureTTL: cfg.failureTTL,
		Describe: func(k *branchKey) branchcache.Meta {
			return branchcache.Meta{ID: k.ID, Version: k.Version, Created: k.created}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("dbesdk: HierarchicalKeyring: %w", err)
	}
	h := &hierarchical{ks: ks, id: branchKeyID, supplier: cfg.supplier, cache: cache}
	kind := fmt.Sprintf("hierarchical keyring over key store %s", ks.logical)
	if branchKeyID != "" {
		kind += fmt.Sprintf(", branch key %q", branchKeyID)
	}
	return &Keyring{k: h, kind: kind}, nil
}

// hierarchical is the hierarchical keyring.
type hierarchical struct {
	ks       *KeyStore
	id       string // "" when supplier is set
	supplier BranchKeyIDSupplier
	cache    *branchcache.Cache[*branchKey]
}

// branchKeyID returns the branch key of an item, from its encryption
// context. It makes no key store request (a supplier may make its own).
func (h *hierarchical) branchKeyID(ctx context.Context, ec structure.Context) (string, error) {
	if h.supplier == nil {
		return h.id, nil
	}
	key, err := selectorOf(ec)
	if err != nil {
		return "", err
	}
	id, err := h.supplier(ctx, key)
	if err != nil {
		return "", fmt.Errorf("branch key id supplier: %w", err)
	}
	if err := checkID(id); err != nil {
		return "", fmt.Errorf("branch key id supplier: %w", err)
	}
	return id, nil
}

// OnEncrypt wraps the data key (generating it if no keyring has) under the
// active version of the item's branch key.
func (h *hierarchical) OnEncrypt(ctx context.Context, m *structure.EncryptionMaterials) error {
	id, err := h.branchKeyID(ctx, m.Context)
	if err != nil {
		return err
	}
	k, err := h.cache.Active(ctx, id, func(ctx context.Context) (*branchKey, error) {
		return h.ks.activeBranchKey(ctx, id)
	})
	if err != nil {
		return err
	}
	if t, newer := h.cache.NewerThan(k); newer {
		return fmt.Errorf("%w: dbesdk: the branch:ACTIVE record of branch key %q names version %s, created at %v, before a version this keyring has read (created at %v): an older record was put back; find who wrote the key store, then rotate the branch key",
			dynacrypt.ErrIntegrity, id, k.Version, k.created.UTC(), t.UTC())
	}
	err = keywrap.WrapHierarchy(m, &k.BranchKey)
	runtime.KeepAlive(k) // its material is cleared once unreachable
	return err
}

// OnDecrypt unwraps the first EDK of the item's branch key that opens,
// fetching the version it names if it is not cached.
func (h *hierarchical) OnDecrypt(ctx context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	want, err := h.branchKeyID(ctx, m.Context)
	if err != nil {
		return refuse(err, true)
	}
	var errs []error
	requested := false
	for _, edk := range edks {
		if edk.ProviderID != keywrap.HierarchyProviderID {
			continue
		}
		named, err := keywrap.ParseHierarchyEDK(edk)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", dynacrypt.ErrIntegrity, err))
			continue
		}
		if named.BranchKeyID != want {
			continue
		}
		fetched := false
		k, err := h.cache.Version(ctx, want, named.Version, func(ctx context.Context) (*branchKey, error) {
			fetched = true
			return h.ks.branchKeyVersion(ctx, want, named.Version)
		})
		if fetched || ctx.Err() != nil {
			requested = true
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = keywrap.UnwrapHierarchy(m, edk, &k.BranchKey)
		runtime.KeepAlive(k)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%w: %w", dynacrypt.ErrIntegrity, err))
	}
	if len(errs) == 0 {
		return refuse(fmt.Errorf("%w: no encrypted data key is for branch key %q, the one for this item", dynacrypt.ErrIntegrity, want), true)
	}
	return refuse(errors.Join(errs...), !requested)
}

// UnwrapsLocally reports whether OnDecrypt of edks will make no key store
// or KMS request (structure.LocalKeyring): every EDK it may try names a
// version it holds, or that failed before. Without a supplier it knows which EDKs it will skip (those
// of other branch keys); with one it cannot tell without the item's
// context, and counts every EDK of this provider.
func (h *hierarchical) UnwrapsLocally(_ *structure.DecryptionMaterials, edks []structure.EDK) bool {
	for _, edk := range edks {
		if edk.ProviderID != keywrap.HierarchyProviderID {
			continue
		}
		named, err := keywrap.ParseHierarchyEDK(edk)
		if err != nil || h.supplier == nil && named.BranchKeyID != h.id {
			continue
		}
		if !h.cache.Holds(named.BranchKeyID, named.Version) {
			return false
		}
	}
	return true
}
