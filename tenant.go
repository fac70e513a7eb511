package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// TenantContextKey is the encryption context key under which a Store
// declared WithTenantAttribute passes an item's tenant to its Cipher, beside
// TableContextKey. keystore.Cipher wraps under the tenant's branch key; a
// KMSCipher passes the pair to KMS, where key policies can test it
// (kms:EncryptionContext:dynacrypt-tenant).
const TenantContextKey = "dynacrypt-tenant"

// WithTenantAttribute names the attribute that holds each item's tenant: a
// plaintext string field of T (often the partition key), signed as every
// field is. Each item's root key is then wrapped under an encryption
// context that holds its tenant (TenantContextKey), so that a Cipher that
// keeps tenants apart, such as keystore.Cipher with a branch key per
// tenant, protects each tenant's items with that tenant's key alone:
// shredding one tenant's key leaves the others readable.
//
// Writers keep a current root key per tenant. Readers unwrap an item's root
// key under the tenant the item names, and cache it for that tenant only,
// so that an item copied under another tenant fails with ErrIntegrity (a
// keystore.Cipher refuses it before fetching any key). A write of an item
// whose tenant is empty is refused.
//
// In the items of an item format ([WithItemFormat]) the tenant is bound as
// the format does it: dbesdk.Format puts it in the encryption context that
// DB-ESDK's keyrings see (SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT).
//
// Page cursors and legacy manifests belong to no tenant: their root keys
// are wrapped under the table's context alone, so a keystore.Cipher serving
// a tenant Store needs a branch key of its own (named at keystore.NewCipher)
// for them. Beacons are keyed per tenant: see WithTenantBeaconKeys.
func WithTenantAttribute(attr string) Option { return func(c *config) { c.tenantAttr = attr } }

// A BeaconKeySource returns a tenant's beacon key (32 bytes). The Store
// derives its beacons' keys from it at once and keeps neither the slice nor
// the key.
type BeaconKeySource func(ctx context.Context, tenant string) ([]byte, error)

// WithTenantBeaconKeys sets where a Store declared WithTenantAttribute gets
// each tenant's beacon key: with a key store, the beacon key of the
// tenant's branch key, which keystore.Cipher's TenantBeaconKey returns
// through the same mapping of tenants to branch keys as it wraps under:
//
//	dynacrypt.WithCipher(cipher), dynacrypt.WithTenantBeaconKeys(cipher.TenantBeaconKey)
//
// It is called once per tenant and process (the keys derived from it stay
// in an LRU of WithKeyCacheSize tenants), when an item of the tenant is
// written or looked up; if the Cipher is a TenantChecker, only once the
// Cipher has accepted the tenant, so that a tenant it refuses costs no
// fetch. Without it, each tenant's beacon keys derive from WithBeaconKey
// and the tenant. Either way the same value has unrelated beacons under two
// tenants.
func WithTenantBeaconKeys(src BeaconKeySource) Option {
	return func(c *config) { c.tenantBeaconKeys = src }
}

// A TenantChecker is a Cipher that can refuse a tenant before any key is
// fetched for it, such as keystore.Cipher, whose mapping of tenants to
// branch keys may refuse some. A Store with tenants asks it before it gets
// a tenant's beacon key from its BeaconKeySource (on a write or a Lookup),
// so that a tenant the Cipher refuses costs no beacon key fetch either.
// CheckTenant returns nil for a tenant the Cipher serves; it must be safe
// for concurrent use and cheap, as Encrypt's mapping of the tenant is.
type TenantChecker interface {
	CheckTenant(ctx context.Context, tenant string) error
}

// checkTenant checks the tenant attribute of a Store of schema sch.
func checkTenant(sch *schema.Schema, cfg *config) error {
	attr := cfg.tenantAttr
	if attr == "" {
		if cfg.tenantBeaconKeys != nil {
			return errors.New("WithTenantBeaconKeys needs WithTenantAttribute")
		}
		return nil
	}
	f, ok := sch.Field(attr)
	switch {
	case cfg.cipher == nil && cfg.format == nil:
		return errors.New("WithTenantAttribute needs a Cipher: tenants are told apart by their keys")
	case !ok:
		return fmt.Errorf("tenant attribute %q is not a field of %v", attr, sch.Type)
	case f.Encrypted:
		return fmt.Errorf("%s: tenant attribute %q cannot be encrypted: reads need it to unwrap the item's key", f.Path, attr)
	case f.Type.Kind() != reflect.String:
		return fmt.Errorf("%s: tenant attribute %q has type %v; it must be a string", f.Path, attr, f.Type)
	case slices.Contains(cfg.unsigned, attr):
		return fmt.Errorf("tenant attribute %q cannot be unsigned", attr)
	}
	return nil
}

// tenantOf returns an item's tenant: "" for a Store without tenants, and an
// error for an item whose tenant attribute is missing, empty or not a
// string.
func (c *codec) tenantOf(item map[string]types.AttributeValue) (string, error) {
	if c.tenantAttr == "" {
		return "", nil
	}
	if v, ok := item[c.tenantAttr].(*types.AttributeValueMemberS); ok && v.Value != "" {
		return v.Value, nil
	}
	return "", fmt.Errorf("item has no tenant: attribute %q is missing, empty or not a string", c.tenantAttr)
}

// ForgetRootKeys drops the root keys this Store holds for tenant's items
// ("": for a Store without tenants, all of them), to read and to write, and
// the tenant's beacon keys. After a tenant's branch key is deleted
// (crypto-shredding), call it, with keystore.Cipher.Forget, so that this
// process stops reading the tenant's items at once rather than when its
// caches expire (WithRootKeyMaxAge, the Cipher's TTL).
func (s *Store[T]) ForgetRootKeys(tenant string) {
	if s.codec.ring != nil {
		s.codec.ring.Forget(tenant)
	}
	s.codec.beacons.forget(tenant)
}
