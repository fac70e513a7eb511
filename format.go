package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// An ItemFormat is a second item format a Store (or Items) reads beside
// dynacrypt's own, and may write instead of it: package dbesdk's Format
// makes the format of AWS's Database Encryption SDK. Install one with
// [WithItemFormat].
//
// The Store tells the formats apart item by item by their header
// attributes: an item with the format's is the format's, one with the
// Store's own ([WithHeaderAttribute]) is dynacrypt's, and one with both is
// refused. Everything else stays the Store's and works on both formats:
// versions and conditions (on the header read: each format's header is
// unique to its write), Update, queries, cursors, batches, transactions,
// tenants, beacons (written as signed attributes) and the unwrap limit.
type ItemFormat interface {
	// HeaderAttribute names the attribute that every item of the format
	// has and no item of dynacrypt's has: DB-ESDK's "aws_dbe_head".
	HeaderAttribute() string
	// Writes reports whether Stores write new items in the format; if
	// not, they write dynacrypt's and read both.
	Writes() bool
	// NewCodec returns the format's codec for a table whose items t
	// describes. New calls it once, and fails with its error: a
	// configuration the format cannot serve is refused there, never met
	// with plaintext at rest.
	NewCodec(t FormatTable) (FormatCodec, error)
}

// FormatTable is what a Store knows at New of its table's items, for an
// ItemFormat: DB-ESDK's item encryptor configuration, in dynacrypt's
// terms. Every attribute not encrypted or unsigned is signed.
type FormatTable struct {
	// LogicalName is the logical table name (WithLogicalTableName, by
	// default the table's name), bound into every item.
	LogicalName string
	// PartitionKey and SortKey name the key attributes; SortKey is empty
	// for a table without one.
	PartitionKey, SortKey string
	// Attributes are all the attributes the Store writes: the fields of T
	// and the beacons. It is nil for Items, which writes the attributes it
	// is given.
	Attributes []string
	// Encrypted are the attributes encrypted (and signed): T's fields
	// tagged encrypt:"kms", or WithEncryptedAttributes.
	Encrypted []string
	// Unsigned are the attributes neither encrypted nor signed
	// (WithUnsignedAttributes).
	Unsigned []string
	// Tenant is the attribute naming each item's tenant
	// (WithTenantAttribute), or "": a format binds it into the keys'
	// encryption context, for keyrings that keep tenants apart.
	Tenant string
	// Version is the version attribute (WithVersion), or "". It is signed.
	Version string
}

// A FormatCodec seals and opens one table's items in an ItemFormat. It
// must be safe for concurrent use. Items are changed in place; their
// values are never nil pointers (the Store checks what it did not decode
// itself).
type FormatCodec interface {
	// Seal encrypts and signs a plaintext item in place: its encrypted
	// attributes replaced by their ciphertexts, the format's header (and
	// any other attribute of its own) added.
	Seal(ctx context.Context, item map[string]types.AttributeValue) error
	// Open verifies an item that has the format's header attribute and
	// decrypts it in place, removing the format's own attributes. It
	// unwraps the item's data key through g, once every check that needs
	// no key has passed. An item that is malformed or not authentic gives
	// an error wrapping ErrIntegrity, and one that holds an attribute
	// encrypted that the table does not declare encrypted too: a Store
	// would write it back in plaintext.
	Open(ctx context.Context, item map[string]types.AttributeValue, g *UnwrapGuard) error
	// Strip removes in place, verifying nothing, the format's own
	// attributes and the encrypted ones, for SkipDecryption.
	Strip(item map[string]types.AttributeValue) error
	// Outdated reports whether a stored item of the format is not as the
	// codec writes items now (another algorithm suite, say), which a
	// re-encryption walk then rewrites. It does no cryptography.
	Outdated(item map[string]types.AttributeValue) (bool, error)
}

// WithItemFormat installs a second item format (see [ItemFormat]): the
// Store reads items of both formats, and writes the format's if
// f.Writes(). Use package dbesdk's Format rather than calling it. With a
// format that writes, WithCipher is optional: it is needed to read items
// of dynacrypt's format (to move a table, say) and to sign page cursors.
func WithItemFormat(f ItemFormat) Option { return func(c *config) { c.format = f } }

// An UnwrapGuard bounds the key service requests that opening items of an
// ItemFormat costs, as [WithUnwrapLimit] bounds those of dynacrypt's
// items, sharing that limit: a keyring that calls KMS for every item it
// opens would otherwise make one request per forged item. The Store passes
// one to FormatCodec.Open.
type UnwrapGuard struct {
	g *keyring.Guard
}

// Unwrap runs unwrap, which unwraps an item's data key, under the Store's
// unwrap limit, and returns the function that settles it: the caller calls
// settle(genuine) once it has checked the item the key opens (genuine:
// it verified), or at once if unwrap failed. id names what is unwrapped
// (the item's encrypted data keys and encryption context, as bytes): an id
// whose unwrap failed with an error wrapping ErrIntegrity within the last
// minute is refused without a call. local says the keyring will make no
// key service request (its key is at hand): such unwraps are not limited.
// An error from unwrap whose chain has a method Local() bool returning
// true (see [Cipher]) cost nothing and is not counted. A keyring that
// makes several requests for one unwrap asks for each after the first with
// [AnotherRequest]. Once the limit is spent by failures, Unwrap fails with
// an error wrapping ErrUnwrapLimited without calling unwrap.
func (g *UnwrapGuard) Unwrap(ctx context.Context, id string, local bool, unwrap func(ctx context.Context) error) (settle func(genuine bool), err error) {
	if g == nil || g.g == nil {
		return nil, errors.New("dynacrypt: no UnwrapGuard: FormatCodec.Open is called by a Store")
	}
	hold, err := g.g.Unwrap(ctx, keyring.Items, keyring.FormatID(id), local, unwrap)
	if err != nil {
		return nil, err
	}
	return hold.Settle, nil
}

// AnotherRequest is for a keyring (or Cipher) that makes several key
// service requests for one unwrap, such as a KMS keyring trying an item's
// encrypted data keys one by one: called before each request after the
// first, with the context the Store passed, it takes another place in the
// unwrap limit, and fails with an error wrapping ErrUnwrapLimited when
// none is free. Outside a limited unwrap it allows every request.
func AnotherRequest(ctx context.Context) error { return keyring.AnotherRequest(ctx) }

// checkFormat checks the item format of cfg, if any, and returns the
// header attribute of the items a Store of cfg writes.
func checkFormat(cfg *config) (string, error) {
	f := cfg.format
	if f == nil {
		return cfg.headerAttr, nil
	}
	if isNilPointer(f) {
		return "", errors.New("WithItemFormat: the ItemFormat is nil")
	}
	h := f.HeaderAttribute()
	if h == "" || h == cfg.headerAttr {
		return "", fmt.Errorf("WithItemFormat: the format's header attribute %q is empty or the Store's own (WithHeaderAttribute)", h)
	}
	if f.Writes() {
		return h, nil
	}
	return cfg.headerAttr, nil
}

// setFormat gives the codec the item format f (checked by checkFormat),
// its codec for table t, and guard for its unwraps.
func (c *codec) setFormat(f ItemFormat, t FormatTable, guard *keyring.Guard) error {
	h := f.HeaderAttribute()
	if slices.Contains(t.Attributes, h) {
		return fmt.Errorf("attribute %q is the item format's header: it cannot be a field", h)
	}
	fc, err := f.NewCodec(t)
	if err != nil {
		return err
	}
	if fc == nil || isNilPointer(fc) {
		return errors.New("WithItemFormat: the format returned a nil codec")
	}
	c.format, c.formatHeader, c.writesFormat, c.guard = fc, h, f.Writes(), &UnwrapGuard{guard}
	if c.writesFormat {
		c.writeHeader = h
	}
	return nil
}
