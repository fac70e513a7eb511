package keystore

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynacrypt/dynacrypt"
)

// PrefixSupplier returns a BranchKeyIDSupplier that maps a tenant to the
// branch key id prefix + tenant: with WithBranchKeyIDSupplier, tenant
// "acme" under prefix "clinic-" is wrapped under branch key "clinic-acme".
// A prefix keeps tenants' branch keys apart from the key store's other
// branch keys (a fleet's, the Cipher's own for cursors): no tenant can name
// one that does not start with it. The operator's command takes the same
// mapping as -branch-key-prefix.
func PrefixSupplier(prefix string) BranchKeyIDSupplier {
	return func(_ context.Context, tenant string) (string, error) { return prefix + tenant, nil }
}

// A BeaconKeySource is a BranchKeySource that keeps beacon keys too, as
// *KeyStore does: [Cipher.TenantBeaconKey] gets them from it.
type BeaconKeySource interface {
	// BeaconKey returns the beacon key of branch key id. One that does
	// not exist gives an error wrapping ErrBranchKeyNotFound.
	BeaconKey(ctx context.Context, id string) (*BeaconKey, error)
}

var _ dynacrypt.TenantChecker = (*Cipher)(nil)

// CheckTenant maps a tenant to its branch key id, as Encrypt and Decrypt
// do for an encryption context that names it, and returns the error of a
// tenant the mapping refuses (WithBranchKeyIDSupplier's, or an id the key
// store cannot hold). It makes no key store or KMS request (a supplier may
// make its own). A dynacrypt.Store with tenants calls it before it gets a
// tenant's beacon key, so that a tenant the Cipher refuses costs no fetch
// of any key, whatever the Store's beacon key source.
func (c *Cipher) CheckTenant(ctx context.Context, tenant string) error {
	if _, err := c.branchKeyID(ctx, map[string]string{TenantContextKey: tenant}); err != nil {
		return &Error{Op: "CheckTenant", Err: err}
	}
	return nil
}

// TenantBeaconKey returns the beacon key of a tenant: that of the branch
// key its tenant maps to (see WithBranchKeyIDSupplier), from the Cipher's
// source, which must be a BeaconKeySource (a *KeyStore is). A tenant the
// mapping refuses is refused first, with no request. It has the signature
// of a dynacrypt.BeaconKeySource, so that the mapping is configured once,
// on the Cipher, and serves both the tenant's root keys and its beacons:
//
//	dynacrypt.WithCipher(cipher), dynacrypt.WithTenantBeaconKeys(cipher.TenantBeaconKey)
//
// Each call costs one GetItem request and one KMS Decrypt; the Store keeps
// what it derives from the key, per tenant. A branch key that does not
// exist (never created, or shredded) gives an error wrapping
// ErrBranchKeyNotFound, and so dynacrypt.ErrKeyGone, after one GetItem and
// no KMS request.
func (c *Cipher) TenantBeaconKey(ctx context.Context, tenant string) ([]byte, error) {
	id, err := c.branchKeyID(ctx, map[string]string{TenantContextKey: tenant})
	if err != nil {
		return nil, &Error{Op: "TenantBeaconKey", Err: err}
	}
	src, ok := c.src.(BeaconKeySource)
	if !ok {
		return nil, &Error{Op: "TenantBeaconKey", ID: id, Err: fmt.Errorf("the Cipher's branch key source, a %T, has no beacon keys (it is no BeaconKeySource)", c.src)}
	}
	k, err := src.BeaconKey(ctx, id)
	if err != nil {
		return nil, opError("TenantBeaconKey", id, "", err)
	}
	switch {
	case k == nil || k.key == nil:
		return nil, &Error{Op: "TenantBeaconKey", ID: id, Err: errors.New("the beacon key source returned no key")}
	case k.ID != id:
		return nil, &Error{Op: "TenantBeaconKey", ID: id, Err: integrity("asked for the beacon key of %q, the source returned %q's", id, k.ID)}
	}
	return k.Key(), nil
}
