package dbesdk

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// A Suite is a DB-ESDK algorithm suite: how items are encrypted and
// signed. Items of either are read; WithSuite chooses the one written.
type Suite uint16

const (
	// SuiteSymSig (0x6700) encrypts with AES-256-GCM under keys derived
	// with HKDF-SHA-512, commits to the data key and authenticates each
	// item with an HMAC-SHA-384 per recipient: a principal that can
	// decrypt items can also forge them.
	SuiteSymSig Suite = 0x6700
	// SuiteECDSASymSig (0x6701), DB-ESDK's default, adds an ECDSA P-384
	// signature under a key pair made for each item, whose public key
	// the header holds, so that readers cannot forge items. It costs a
	// P-384 key generation and signature per write and a verification
	// per read, about a millisecond in all.
	SuiteECDSASymSig Suite = 0x6701
)

// A FormatOption changes a Format.
type FormatOption func(*format)

// WithSuite sets the algorithm suite items are written with (default
// SuiteECDSASymSig, as DB-ESDK's).
func WithSuite(s Suite) FormatOption { return func(f *format) { f.suite = suite.ID(s) } }

// ReadOnly makes the Store read items in DB-ESDK's format and write its
// own (which needs dynacrypt.WithCipher): to move a table from DB-ESDK's
// format to dynacrypt's with Reencrypt, or to read a table that both
// kinds of services write while dynacrypt's services write dynacrypt's.
func ReadOnly() FormatOption { return func(f *format) { f.readOnly = true } }

// Format returns the option that makes a Store (dynacrypt.New) or Items
// (dynacrypt.NewItems) write items in DB-ESDK's format with keyring, and
// read items of both formats, told apart by their header attribute
// ("aws_dbe_head" for DB-ESDK's, the Store's own for dynacrypt's).
//
// The Store's schema is DB-ESDK's configuration: fields tagged
// encrypt:"kms" (or WithEncryptedAttributes) are ENCRYPT_AND_SIGN,
// WithUnsignedAttributes DO_NOTHING, the tenant attribute
// (WithTenantAttribute) SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, with the
// key attributes then too (format version 2), and every other attribute
// SIGN_ONLY, beacons included; the logical table name is
// WithLogicalTableName's (by default the table's name). Attributes named
// "aws_dbe_..." are refused at New. Reading, an item's actions come from
// its header, as in DB-ESDK; one that encrypts an attribute the Store does
// not declare encrypted is refused, since the Store would write it back in
// plaintext.
func Format(keyring *Keyring, opts ...FormatOption) dynacrypt.Option {
	f := &format{keyring: keyring, suite: suite.ECDSASymSig}
	for _, o := range opts {
		o(f)
	}
	return dynacrypt.WithItemFormat(f)
}

// format is DB-ESDK's item format, a dynacrypt.ItemFormat.
type format struct {
	keyring  *Keyring
	suite    suite.ID
	readOnly bool
}

func (f *format) HeaderAttribute() string { return structure.HeaderAttr }
func (f *format) Writes() bool            { return !f.readOnly }

// NewCodec maps the Store's schema to DB-ESDK's crypto actions (see
// Format) and makes the item encryptor.
func (f *format) NewCodec(t dynacrypt.FormatTable) (dynacrypt.FormatCodec, error) {
	if f.keyring == nil || f.keyring.k == nil {
		return nil, errors.New("dbesdk.Format: nil Keyring")
	}
	if _, err := suite.Parse(f.suite); err != nil {
		return nil, fmt.Errorf("dbesdk.WithSuite: %w", err)
	}
	actions := map[string]structure.Action{}
	for _, name := range t.Attributes {
		actions[name] = structure.SignOnly
	}
	keyAction := structure.SignOnly
	if t.Tenant != "" {
		keyAction = structure.SignAndIncludeInEncryptionContext
		actions[t.Tenant] = keyAction
	}
	for _, name := range []string{t.PartitionKey, t.SortKey} {
		if name != "" {
			actions[name] = keyAction
		}
	}
	for _, name := range t.Encrypted {
		actions[name] = structure.EncryptAndSign
	}
	for _, name := range t.Unsigned {
		actions[name] = structure.DoNothing
	}
	for _, name := range append(slices.Sorted(maps.Keys(actions)), t.Version) {
		if strings.HasPrefix(name, structure.ReservedPrefix) {
			return nil, fmt.Errorf("dbesdk.Format: attribute %q: names starting with %q are DB-ESDK's", name, structure.ReservedPrefix)
		}
	}
	cfg := structure.Config{
		TableName:          t.LogicalName,
		PartitionKey:       t.PartitionKey,
		SortKey:            t.SortKey,
		Actions:            actions,
		UnsignedAttributes: t.Unsigned,
		Suite:              f.suite,
		Keyring:            f.keyring.k,
		RefuseUndeclared:   true,
	}
	if t.Attributes == nil {
		cfg.Unlisted = structure.SignOnly // Items: whatever attributes items have
	}
	e, err := structure.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("dbesdk.Format: %w", err)
	}
	return &codec{e: e, keyring: f.keyring}, nil
}

// codec is DB-ESDK's format for one table, a dynacrypt.FormatCodec.
type codec struct {
	e       *structure.Encryptor
	keyring *Keyring
}

func (c *codec) Seal(ctx context.Context, item map[string]types.AttributeValue) error {
	if err := c.e.EncryptInPlace(ctx, item); err != nil {
		return fmt.Errorf("dbesdk: %w", err)
	}
	return nil
}

func (c *codec) Open(ctx context.Context, item map[string]types.AttributeValue, g *dynacrypt.UnwrapGuard) error {
	kr := &guardedKeyring{keyring: c.keyring, guard: g}
	err := c.e.DecryptInPlace(ctx, item, kr)
	if kr.settle != nil {
		kr.settle(err == nil) // a genuine key in a forged item uses its place up
	}
	return integrity(err)
}

func (c *codec) Strip(item map[string]types.AttributeValue) error {
	actions, err := c.e.ResolveActions(item)
	if err != nil {
		return integrity(err)
	}
	for name, a := range actions {
		if a == structure.EncryptAndSign || strings.HasPrefix(name, structure.ReservedPrefix) {
			delete(item, name)
		}
	}
	return nil
}

func (c *codec) Outdated(item map[string]types.AttributeValue) (bool, error) {
	outdated, err := c.e.Outdated(item)
	return outdated, integrity(err)
}

// integrity says an error is this package's, and marks it
// dynacrypt.ErrIntegrity if it says an item is malformed or not authentic,
// or its data key does not unwrap.
func integrity(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("dbesdk: %w", unwrapFailure(err))
}

// unwrapFailure marks an error dynacrypt.ErrIntegrity if it says an item
// is malformed or not authentic, or its data key does not unwrap: so the
// UnwrapGuard tells a keyring's refusal of a forged item from a failing
// request. It adds no words: the Encryptor says the error is the
// keyring's, and integrity that it is this package's.
func unwrapFailure(err error) error {
	switch {
	case err == nil || errors.Is(err, dynacrypt.ErrIntegrity):
		return err
	case errors.Is(err, structure.ErrMalformed), errors.Is(err, structure.ErrAuthentication), errors.Is(err, keywrap.ErrUnwrap):
		return fmt.Errorf("%w: %w", dynacrypt.ErrIntegrity, err)
	}
	return err
}

// guardedKeyring is a keyring for one item read: it unwraps through the
// Store's UnwrapGuard, unless the keyring says it will make no key service
// request (structure.LocalKeyring), and keeps the guard's settle for the
// caller.
type guardedKeyring struct {
	keyring *Keyring
	guard   *dynacrypt.UnwrapGuard
	settle  func(genuine bool)
}

func (k *guardedKeyring) OnEncrypt(ctx context.Context, m *structure.EncryptionMaterials) error {
	return k.keyring.k.OnEncrypt(ctx, m)
}

func (k *guardedKeyring) OnDecrypt(ctx context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	if k.guard == nil || k.keyring.unwrapsLocally(m, edks) {
		return unwrapFailure(k.keyring.k.OnDecrypt(ctx, m, edks))
	}
	settle, err := k.guard.Unwrap(ctx, unwrapID(m, edks), false, func(ctx context.Context) error {
		return unwrapFailure(k.keyring.k.OnDecrypt(ctx, m, edks))
	})
	k.settle = settle
	return err
}

// unwrapID names an unwrap for the guard's memory of failures: a hash of
// the encryption context the keyring authenticates and the encrypted data
// keys, which decide its outcome.
func unwrapID(m *structure.DecryptionMaterials, edks []structure.EDK) string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(n[:0], uint64(len(b))))
		h.Write(b)
	}
	field(m.AAD)
	for _, edk := range edks {
		field([]byte(edk.ProviderID))
		field(edk.ProviderInfo)
		field(edk.Ciphertext)
	}
	return string(h.Sum(nil))
}
