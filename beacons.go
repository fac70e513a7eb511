package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/dynacrypt/dynacrypt/internal/beacon"
	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// Beacons let an index find items by an encrypted field. A field tagged
//
//	Email string `dynamodbav:"email" encrypt:"kms,beacon=16,lower,trim"`
//
// is stored encrypted, and beside it, in the plaintext S attribute
// BeaconAttribute("email"), a beacon: the low 16 bits of an HMAC of its
// (lower-cased, trimmed) value under a key of its own. A global secondary
// index on that attribute, declared with WithIndex, serves Store.Lookup,
// which queries it with the probe's beacon, then verifies, decrypts and
// compares every candidate, so that the false positives a short beacon
// admits never reach the caller. docs/beacons.md says how to choose the
// length and what beacons reveal.

// BeaconAttribute returns the name of the attribute that holds the beacon
// of field attr, with the default header attribute: "_dynacrypt_b_" + attr.
// (With WithHeaderAttribute(h) it is h + "_b_" + attr.) Declare indexes on
// it with WithIndex.
func BeaconAttribute(attr string) string { return DefaultHeaderAttribute + beaconInfix + attr }

const beaconInfix = "_b_"

// WithBeaconKey sets the 32-byte key beacons derive from, for a Store whose
// type declares beacons (in a Store with tenants, each tenant's beacons
// derive from it and the tenant, unless WithTenantBeaconKeys is set). It
// must be secret and stay the same for as long as
// beacons written with it exist: a new key means rewriting every beacon
// (Store.Reencrypt). The key is copied.
func WithBeaconKey(key []byte) Option {
	return func(c *config) { c.beaconKey = append([]byte(nil), key...) }
}

// A BeaconPart is one part of a compound beacon: a prefix, then either the
// beacon of an encrypted field that has one, or the value of a plaintext
// field (a string or a number).
type BeaconPart struct {
	Prefix string
	Attr   string
}

// WithCompoundBeacon declares a compound beacon: an S attribute named name,
// made of parts joined by separator, such as "T-acme.E-3f2a" for the parts
// {"T-", "tenant"} and {"E-", "email"}. It serves as the partition key of an
// index for lookups on several fields at once, or as a sort key with
// begins_with and ranges on its leading plaintext parts. A part whose
// attribute an item lacks leaves the item without the compound beacon; a
// plaintext value that contains the separator is refused at write.
func WithCompoundBeacon(name, separator string, parts ...BeaconPart) Option {
	return func(c *config) {
		c.compounds = append(c.compounds, compoundConfig{name, separator, parts})
	}
}

type compoundConfig struct {
	name, separator string
	parts           []BeaconPart
}

// beaconSpec is a standard beacon, ready to compute.
type beaconSpec struct {
	field string // the encrypted attribute
	attr  string // where its beacon is stored
	*schema.Beacon
	i int // its place in a beaconKeys
}

// beaconKeys computes the values of each standard beacon, in order, under
// the keys of one table (and tenant).
type beaconKeys []*beacon.Beacon

// compoundSpec is a compound beacon, ready to compute.
type compoundSpec struct {
	attr, separator string
	parts           []compoundPart
}

type compoundPart struct {
	prefix, field string
	beacon        *beaconSpec // nil: the field's plaintext
}

// beacons is what a codec knows of a type's beacons.
type beacons struct {
	standard  []*beaconSpec
	compounds []*compoundSpec
	logical   string
	keys      beaconKeys // without tenants
	// With tenants: where a tenant's beacon key comes from, the keys
	// derived from it, by tenant, and the fetches that failed with a
	// verdict (a record not authentic, a key gone), remembered so that
	// probes cannot turn into a KMS request each.
	source  BeaconKeySource
	vet     func(ctx context.Context, tenant string) error // the Cipher's CheckTenant; nil if it has none
	tenants *lru.Cache[string, beaconKeys]
	failed  *lru.Cache[string, beaconFailure]
	fetches singleflight.Group
	// mu orders forget against the caching of fetches; gen counts the
	// forgets, so that a fetch under way during one is not kept.
	mu  sync.Mutex
	gen uint64
}

type beaconFailure struct {
	err     error
	expires time.Time
}

// names returns the attributes beacons are stored in.
func (b *beacons) names() []string {
	var out []string
	for _, s := range b.standard {
		out = append(out, s.attr)
	}
	for _, c := range b.compounds {
		out = append(out, c.attr)
	}
	return out
}

// newBeacons checks the declared beacons against the schema and derives
// their keys.
func newBeacons(sch *schema.Schema, cfg *config, logical string) (*beacons, error) {
	b := &beacons{logical: logical}
	byField := map[string]*beaconSpec{}
	for _, f := range sch.Fields {
		if f.Beacon == nil {
			continue
		}
		if cfg.beaconKey == nil && cfg.tenantBeaconKeys == nil {
			return b, fmt.Errorf("%s declares a beacon but the Store has no beacon key: use WithBeaconKey (or, with tenants, WithTenantBeaconKeys)", f.Path)
		}
		spec := &beaconSpec{field: f.Attr, attr: cfg.headerAttr + beaconInfix + f.Attr, Beacon: f.Beacon, i: len(b.standard)}
		b.standard = append(b.standard, spec)
		byField[f.Attr] = spec
	}
	var err error
	switch {
	case len(b.standard) == 0:
	case cfg.tenantAttr == "" && cfg.tenantBeaconKeys == nil:
		if b.keys, err = b.derive(cfg.beaconKey, ""); err != nil {
			return b, fmt.Errorf("WithBeaconKey: %w", err)
		}
	default:
		if b.source = cfg.tenantBeaconKeys; b.source == nil {
			key := cfg.beaconKey
			if len(key) != beacon.KeySize {
				return b, fmt.Errorf("WithBeaconKey: the key is %d bytes, want %d", len(key), beacon.KeySize)
			}
			b.source = func(context.Context, string) ([]byte, error) { return key, nil }
		}
		if checker, ok := cfg.cipher.(TenantChecker); ok {
			b.vet = checker.CheckTenant
		}
		if b.tenants, err = lru.New[string, beaconKeys](cfg.cacheSize); err != nil {
			return b, err
		}
		if b.failed, err = lru.New[string, beaconFailure](cfg.cacheSize); err != nil {
			return b, err
		}
	}
	for _, cc := range cfg.compounds {
		if cc.name == "" || cc.separator == "" || len(cc.parts) == 0 {
			return b, fmt.Errorf("compound beacon %q: a name, a separator and parts are required", cc.name)
		}
		spec := &compoundSpec{attr: cc.name, separator: cc.separator}
		for _, p := range cc.parts {
			f, ok := sch.Field(p.Attr)
			switch {
			case !ok:
				return b, fmt.Errorf("compound beacon %q: %q is not a field of %v", cc.name, p.Attr, sch.Type)
			case strings.Contains(p.Prefix, cc.separator):
				return b, fmt.Errorf("compound beacon %q: prefix %q contains the separator %q", cc.name, p.Prefix, cc.separator)
			case f.Encrypted && byField[f.Attr] == nil:
				return b, fmt.Errorf("compound beacon %q: %s is encrypted without a beacon: its plaintext cannot be a part; declare beacon=N on it", cc.name, f.Path)
			case slices.Contains(cfg.unsigned, f.Attr):
				return b, fmt.Errorf("compound beacon %q: %q is unsigned, and a part must be signed", cc.name, f.Attr)
			}
			spec.parts = append(spec.parts, compoundPart{prefix: p.Prefix, field: f.Attr, beacon: byField[f.Attr]})
		}
		b.compounds = append(b.compounds, spec)
	}
	seen := map[string]bool{}
	for _, name := range b.names() {
		if _, clash := sch.FieldFold(name); clash || seen[name] || name == cfg.headerAttr {
			return b, fmt.Errorf("beacon attribute %q is used twice, or by a field: rename one", name)
		}
		seen[name] = true
	}
	return b, nil
}

// derive derives the keys of the standard beacons from a beacon key, for a
// tenant or none.
func (b *beacons) derive(beaconKey []byte, tenant string) (beaconKeys, error) {
	keys := make(beaconKeys, len(b.standard))
	for i, s := range b.standard {
		key, err := beacon.Key(beaconKey, b.logical, s.attr, tenant)
		if err != nil {
			return nil, err
		}
		if keys[i], err = beacon.New(key, s.Bits); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// keysOf returns the beacon keys of a tenant ("": none), fetching its beacon
// key once per tenant kept in the cache. Callers asking meanwhile share the
// fetch, each waiting under its own context; a fetch that failed with a
// verdict is remembered for failedKeyTTL.
func (b *beacons) keysOf(ctx context.Context, tenant string) (beaconKeys, error) {
	if b.source == nil || len(b.standard) == 0 {
		return b.keys, nil
	}
	if keys, ok := b.tenants.Get(tenant); ok {
		return keys, nil
	}
	if err := b.failedBefore(tenant); err != nil {
		return nil, err
	}
	ch := b.fetches.DoChan(tenant, func() (any, error) {
		if keys, ok := b.tenants.Get(tenant); ok {
			return keys, nil
		}
		if err := b.failedBefore(tenant); err != nil {
			return nil, err
		}
		b.mu.Lock()
		gen := b.gen
		b.mu.Unlock()
		fctx, cancel := keyring.Detach(ctx)
		defer cancel()
		keys, err := b.fetch(fctx, tenant)
		b.mu.Lock()
		defer b.mu.Unlock()
		switch {
		case b.gen != gen: // forgotten meanwhile: answer, keep nothing
		case err == nil:
			b.tenants.Add(tenant, keys)
		case errors.Is(err, ErrIntegrity) || errors.Is(err, ErrKeyGone):
			b.failed.Add(tenant, beaconFailure{err, time.Now().Add(failedKeyTTL)})
		}
		return keys, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(beaconKeys), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch gets a tenant's beacon key from the source, once the Cipher (a
// TenantChecker) has accepted the tenant, and derives the beacon keys; a
// panic of either becomes an error, since it runs in a goroutine of its
// own.
func (b *beacons) fetch(ctx context.Context, tenant string) (keys beaconKeys, err error) {
	defer func() {
		if p := recover(); p != nil {
			keys, err = nil, fmt.Errorf("beacon key of tenant %q: the source or the Cipher panicked with a %T", tenant, p)
		}
	}()
	if b.vet != nil {
		if err := b.vet(ctx, tenant); err != nil {
			return nil, err
		}
	}
	key, err := b.source(ctx, tenant)
	if err == nil {
		keys, err = b.derive(key, tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("beacon key of tenant %q: %w", tenant, err)
	}
	return keys, nil
}

// failedBefore returns the error of a fetch of tenant's beacon key that
// failed with a verdict less than failedKeyTTL ago.
func (b *beacons) failedBefore(tenant string) error {
	if f, ok := b.failed.Get(tenant); ok && time.Now().Before(f.expires) {
		return f.err
	}
	return nil
}

// forget drops what is cached of tenant's beacon keys, and what a fetch
// under way would cache.
func (b *beacons) forget(tenant string) {
	if b.tenants == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.tenants.Remove(tenant)
	b.failed.Remove(tenant)
}

// value returns the beacon of a field's plaintext value.
func (s *beaconSpec) value(keys beaconKeys, v types.AttributeValue) (string, error) {
	return keys[s.i].Value(beacon.Normalize(v, s.Lower, s.Trim))
}

// value returns the compound beacon of an item's plaintext attributes, or ok
// false if a part's attribute is missing.
func (c *compoundSpec) value(keys beaconKeys, item map[string]types.AttributeValue) (string, bool, error) {
	var b strings.Builder
	for i, p := range c.parts {
		v, ok := item[p.field]
		if !ok {
			return "", false, nil
		}
		var part string
		if p.beacon != nil {
			var err error
			if part, err = p.beacon.value(keys, v); err != nil {
				return "", false, fmt.Errorf("attribute %q: %w", p.field, err)
			}
		} else {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				part = v.Value
			case *types.AttributeValueMemberN:
				n, err := canonical.NormalizeNumber(v.Value)
				if err != nil {
					return "", false, fmt.Errorf("attribute %q: %w", p.field, err)
				}
				part = n
			default:
				return "", false, fmt.Errorf("attribute %q: a compound beacon part must be a string or a number, not %T", p.field, v)
			}
			if strings.Contains(part, c.separator) {
				return "", false, fmt.Errorf("attribute %q contains the compound beacon %q's separator %q", p.field, c.attr, c.separator)
			}
		}
		if i > 0 {
			b.WriteString(c.separator)
		}
		b.WriteString(p.prefix)
		b.WriteString(part)
	}
	return b.String(), true, nil
}

// add stores the beacons of an item of tenant ("": none) in it, computed
// from its plaintext attributes, replacing any it had (a rewritten item's,
// or a forger's).
func (b *beacons) add(ctx context.Context, item map[string]types.AttributeValue, tenant string) error {
	if len(b.standard)+len(b.compounds) == 0 {
		return nil
	}
	keys, err := b.keysOf(ctx, tenant)
	if err != nil {
		return err
	}
	for _, s := range b.standard {
		delete(item, s.attr)
		v, ok := item[s.field]
		if !ok {
			continue
		}
		bv, err := s.value(keys, v)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", s.field, err)
		}
		item[s.attr] = &types.AttributeValueMemberS{Value: bv}
	}
	for _, c := range b.compounds {
		delete(item, c.attr)
		v, ok, err := c.value(keys, item)
		if err != nil {
			return err
		}
		if ok {
			item[c.attr] = &types.AttributeValueMemberS{Value: v}
		}
	}
	return nil
}

// missing reports whether a stored item lacks a beacon it should have: one
// declared after the item was written.
func (b *beacons) missing(item map[string]types.AttributeValue) bool {
	for _, s := range b.standard {
		if _, has := item[s.field]; has {
			if _, ok := item[s.attr]; !ok {
				return true
			}
		}
	}
	for _, c := range b.compounds {
		if _, ok := item[c.attr]; ok {
			continue
		}
		complete := true
		for _, p := range c.parts {
			if _, has := item[p.field]; !has {
				complete = false
			}
		}
		if complete {
			return true
		}
	}
	return false
}

// errNoBeacon is Lookup's error for an index whose key is not a beacon.
var errNoBeacon = errors.New("the index's partition key is not a beacon declared on the item type: use Query")
