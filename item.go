package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// MarshalItem returns the attribute map Put would send for item: marshalled
// as attributevalue.MarshalMap does, encrypted, signed, with the header, and
// with a version attribute at item's version plus one. It is for callers
// that send their own requests (PartiQL, hand-made transactions, imports);
// the condition Put would attach is theirs to add (the stored version is
// item's, or for version 0, attribute_not_exists of the partition key).
// item is not changed.
func (s *Store[T]) MarshalItem(ctx context.Context, item *T) (map[string]types.AttributeValue, error) {
	if item == nil {
		return nil, s.fail("MarshalItem", errors.New("nil item"))
	}
	p, err := s.preparePut(ctx, item, writeConfig{}, nil)
	if err != nil {
		return nil, s.fail("MarshalItem", err)
	}
	return p.item, nil
}

// UnmarshalItem verifies and decrypts a stored attribute map, as Get does
// with what GetItem returns, and unmarshals it into a new T. It is for items
// that reach the service by other ways than the Store's calls: stream
// records, exports, the answers to hand-made requests. Its errors are Get's:
// ErrIntegrity for an item that fails verification, and for one holding a
// nil value (such as (*types.AttributeValueMemberB)(nil)) at any depth,
// which DynamoDB never returns. av is not changed.
func (s *Store[T]) UnmarshalItem(ctx context.Context, av map[string]types.AttributeValue, opts ...ReadOption) (*T, error) {
	if av == nil {
		return nil, s.fail("UnmarshalItem", errors.New("nil item"))
	}
	if err := checkNil(av); err != nil {
		return nil, s.fail("UnmarshalItem", err)
	}
	item, err := s.decode(ctx, maps.Clone(av), readConfigOf(opts).skipDecrypt)
	if err != nil {
		return nil, s.fail("UnmarshalItem", err)
	}
	return item, nil
}

// Items seals and opens the items of a table as attribute maps, with no Go
// type, and re-encrypts the whole table (Reencrypt): for tools that work on
// any table, such as the dynacrypt command, which know the table's keys and
// encrypted attributes by name. Items sealed
// by a Store[T] of the same table, keys, Cipher and logical name open here,
// and the reverse. It is safe for concurrent use.
type Items struct {
	table   string
	codec   codec
	cipher  Cipher
	version string // the version attribute Reencrypt increments; "" for none
}

// WithEncryptedAttributes names the attributes NewItems encrypts: with no
// Go type, there are no tags to read. A Store takes its encrypted
// attributes from T's tags and refuses this option.
func WithEncryptedAttributes(attrs ...string) Option {
	return func(c *config) { c.encryptedAttrs = append(c.encryptedAttrs, attrs...) }
}

// NewItems returns Items for table. It takes New's options that do not
// depend on a Go type: WithPartitionKey (required), WithSortKey, WithCipher
// (required, unless an item format writes: WithItemFormat, such as
// dbesdk.Format), WithEncryptedAttributes, WithLogicalTableName,
// WithHeaderAttribute, WithUnsignedAttributes, WithTenantAttribute, the key
// cache options, and WithVersion, which only Reencrypt uses: it increments
// the version of every item it rewrites, as a Store's does (Seal and Open
// leave it as it is). For a table that still holds items without a header,
// it takes WithLegacyKMS (with LegacyBinary for the binary attributes) and
// WithPlaintextItems in phase ReadPlaintext, both with LegacyAttributes,
// since there is no T to take the items' attributes from: Open reads such
// items, and Reencrypt migrates them, under the same guard as a Store's.
func NewItems(table string, opts ...Option) (*Items, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	it, err := newItems(table, cfg)
	if err != nil {
		return nil, fmt.Errorf("dynacrypt: NewItems for table %q: %w", table, err)
	}
	return it, nil
}

func newItems(table string, cfg config) (*Items, error) {
	switch {
	case table == "":
		return nil, errors.New("empty table name")
	case cfg.partitionKey == "":
		return nil, errors.New("no partition key: use WithPartitionKey")
	case cfg.cipher == nil && (cfg.format == nil || !cfg.format.Writes()):
		return nil, errors.New("no Cipher: use WithCipher (or an item format that writes, WithItemFormat)")
	case len(cfg.indexes) > 0:
		return nil, errors.New("indexes need a Store of a Go type")
	}
	if err := checkAttributeCount("WithUnsignedAttributes", len(cfg.unsigned)); err != nil {
		return nil, err
	}
	if cfg.cipher != nil {
		if err := checkCipher(cfg.cipher); err != nil {
			return nil, fmt.Errorf("WithCipher: %w", err)
		}
	}
	keys := []string{cfg.partitionKey}
	if cfg.sortKey != "" {
		keys = append(keys, cfg.sortKey)
	}
	for _, attr := range append(append([]string{}, cfg.encryptedAttrs...), cfg.unsigned...) {
		if slices.Contains(keys, attr) || attr == cfg.headerAttr {
			return nil, fmt.Errorf("attribute %q is a key or the header: it can be neither encrypted nor unsigned", attr)
		}
	}
	for _, attr := range cfg.unsigned {
		if slices.Contains(cfg.encryptedAttrs, attr) {
			return nil, fmt.Errorf("attribute %q cannot be both encrypted and unsigned", attr)
		}
	}
	if t := cfg.tenantAttr; t != "" && (slices.Contains(cfg.encryptedAttrs, t) || slices.Contains(cfg.unsigned, t)) {
		return nil, fmt.Errorf("tenant attribute %q can be neither encrypted nor unsigned", t)
	}
	if v := cfg.version; v != "" && (slices.Contains(keys, v) || v == cfg.headerAttr ||
		slices.Contains(cfg.encryptedAttrs, v) || slices.Contains(cfg.unsigned, v)) {
		return nil, fmt.Errorf("version attribute %q cannot be a key, the header, encrypted or unsigned", v)
	}
	logical := cfg.logicalName
	if logical == "" {
		logical = table
	}
	if _, err := checkFormat(&cfg); err != nil {
		return nil, err
	}
	guard, err := newGuard(&cfg)
	if err != nil {
		return nil, err
	}
	var ring *keyring.Ring
	if cfg.cipher != nil {
		if ring, err = newRing(cfg.cipher, logical, &cfg, guard); err != nil {
			return nil, err
		}
	}
	it := &Items{table: table, codec: newCodec(keys, cfg.encryptedAttrs, nil, logical, cfg.headerAttr, cfg.unsigned, ring),
		cipher: cfg.cipher, version: cfg.version}
	it.codec.tenantAttr = cfg.tenantAttr
	it.codec.suite = byte(cfg.suite)
	it.codec.checkUndeclared = true
	if cfg.format != nil {
		t := FormatTable{LogicalName: logical, PartitionKey: cfg.partitionKey, SortKey: cfg.sortKey,
			Encrypted: cfg.encryptedAttrs, Unsigned: cfg.unsigned, Tenant: cfg.tenantAttr, Version: cfg.version}
		if err := it.codec.setFormat(cfg.format, t, guard); err != nil {
			return nil, err
		}
	}
	if cfg.legacy != nil {
		if it.codec.legacy, err = newItemsLegacyReader(&cfg, keys); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// Key returns the key attributes of an item.
func (it *Items) Key(av map[string]types.AttributeValue) map[string]types.AttributeValue {
	return it.codec.keyOf(av)
}

// Open verifies a stored item and returns it decrypted, without its header,
// as Store.UnmarshalItem does before unmarshalling. av is not changed.
// Errors are OpErrors of operation "Open": ErrIntegrity for an item that
// fails verification, and for one with an encrypted attribute left out of
// WithEncryptedAttributes, which would otherwise come out as its
// ciphertext: each binary attribute not declared is tried as encrypted
// (one AES-GCM open; items without such attributes cost nothing more).
// An item holding a nil value at any depth is ErrIntegrity too. With
// SkipDecryption nothing is verified, and nothing tried.
func (it *Items) Open(ctx context.Context, av map[string]types.AttributeValue, opts ...ReadOption) (map[string]types.AttributeValue, error) {
	if err := checkNil(av); err != nil {
		return nil, newOpError("Open", it.table, err)
	}
	out := maps.Clone(av)
	if err := it.codec.open(ctx, out, readConfigOf(opts).skipDecrypt); err != nil {
		return nil, newOpError("Open", it.table, err)
	}
	return out, nil
}

// Seal returns an item encrypted and signed, with its header, as a Store
// writes it. av is not changed; its values must be storable as they are
// (valid UTF-8, sets without repeats, no nil values).
func (it *Items) Seal(ctx context.Context, av map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out := maps.Clone(av)
	if it.codec.hasHeader(out) {
		return nil, newOpError("Seal", it.table, fmt.Errorf("item has an attribute named like a header, %q", it.codec.headerOf(out)))
	}
	if err := canonical.CheckNil(out); err != nil {
		return nil, newOpError("Seal", it.table, err)
	}
	if err := it.codec.seal(ctx, out); err != nil {
		return nil, newOpError("Seal", it.table, err)
	}
	return out, nil
}
