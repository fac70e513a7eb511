package structure

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// reservedContextPrefix starts every encryption context key DB-ESDK adds.
// DB-ESDK refuses to encrypt when a value of the item's base context starts
// with it (a check meant for keys), so names that do cannot be written.
const reservedContextPrefix = "aws-crypto-"

// Config describes a table's items as DB-ESDK's item encryptor configuration
// does (ddb-table-encryption-config.md).
type Config struct {
	// TableName is the logical table name, bound into every record.
	TableName string
	// PartitionKey and SortKey name the table's key attributes; SortKey is
	// empty for a table without one.
	PartitionKey, SortKey string
	// Actions are the crypto actions of the attributes items may have.
	// The key attributes must be SignOnly, or
	// SignAndIncludeInEncryptionContext when any attribute is (format
	// version 2).
	Actions map[string]Action
	// UnsignedAttributes and UnsignedPrefix name the attributes outside
	// the signature scope (DB-ESDK's allowedUnsignedAttributes and
	// allowedUnsignedAttributePrefix): exactly the attributes whose action
	// is DoNothing. An empty prefix means none.
	UnsignedAttributes []string
	UnsignedPrefix     string
	// Suite is the algorithm suite records are written with; zero means
	// DB-ESDK's default, suite.ECDSASymSig. Records are read with the
	// suite their header names.
	Suite suite.ID
	// Keyring supplies data keys.
	Keyring Keyring
	// Unlisted, if set, is the action of the attributes that Actions does
	// not name and that are not unsigned: SignOnly for a configuration
	// that signs whatever attributes items have (dynacrypt's model).
	// Zero refuses to encrypt them, as DB-ESDK does.
	Unlisted Action
	// RefuseUndeclared makes DecryptItem refuse an item whose header
	// encrypts an attribute that the configuration gives another action
	// (explicitly, or through Unlisted): a writer of this configuration
	// would store its plaintext. DB-ESDK decrypts such items.
	RefuseUndeclared bool
}

// Encryptor encrypts and decrypts DynamoDB items in DB-ESDK's format under
// one table's configuration. It is safe for concurrent use if its Keyring
// is.
type Encryptor struct {
	cfg      Config
	version  byte // the format version records are written with
	unsigned map[string]bool
	layout   layout
}

// New checks cfg as DB-ESDK's item encryptor does and returns an Encryptor.
func New(cfg Config) (*Encryptor, error) {
	e := &Encryptor{cfg: cfg, version: 1, unsigned: make(map[string]bool, len(cfg.UnsignedAttributes))}
	e.cfg.Actions = maps.Clone(cfg.Actions)
	e.cfg.UnsignedAttributes = slices.Clone(cfg.UnsignedAttributes)
	for _, name := range cfg.UnsignedAttributes {
		e.unsigned[name] = true
	}
	if cfg.Keyring == nil {
		return nil, fmt.Errorf("%w: no keyring", ErrInvalidConfig)
	}
	if e.cfg.Suite == 0 {
		e.cfg.Suite = suite.ECDSASymSig
	}
	if _, err := suite.Parse(e.cfg.Suite); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.TableName == "" || !utf8.ValidString(cfg.TableName) {
		return nil, fmt.Errorf("%w: logical table name is empty or not valid UTF-8", ErrInvalidConfig)
	}
	if cfg.PartitionKey == "" {
		return nil, fmt.Errorf("%w: no partition key name", ErrInvalidConfig)
	}
	for _, name := range []string{cfg.TableName, cfg.PartitionKey, cfg.SortKey} {
		if strings.HasPrefix(name, reservedContextPrefix) {
			return nil, fmt.Errorf("%w: %q starts with %q, which DB-ESDK cannot write", ErrInvalidConfig, name, reservedContextPrefix)
		}
	}
	for _, a := range cfg.Actions {
		if a == SignAndIncludeInEncryptionContext {
			e.version = 2
		}
	}
	keyAction := SignOnly
	if e.version == 2 {
		keyAction = SignAndIncludeInEncryptionContext
	}
	for _, key := range []string{cfg.PartitionKey, cfg.SortKey} {
		if key != "" && cfg.Actions[key] != keyAction {
			return nil, fmt.Errorf("%w: key attribute %q must be %v", ErrInvalidConfig, key, keyAction)
		}
	}
	switch cfg.Unlisted {
	case 0, SignOnly, EncryptAndSign:
	default:
		return nil, fmt.Errorf("%w: the action of unlisted attributes must be SIGN_ONLY or ENCRYPT_AND_SIGN, not %v", ErrInvalidConfig, cfg.Unlisted)
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Actions)) {
		a := cfg.Actions[name]
		switch {
		case !a.valid():
			return nil, fmt.Errorf("%w: attribute %q has an invalid action", ErrInvalidConfig, name)
		case name == "" || !utf8.ValidString(name):
			return nil, fmt.Errorf("%w: attribute name is empty or not valid UTF-8", ErrInvalidConfig)
		case strings.HasPrefix(name, ReservedPrefix):
			return nil, fmt.Errorf("%w: attribute %q is reserved and may not be configured", ErrInvalidConfig, name)
		case (a == DoNothing) != e.isUnsigned(name):
			return nil, fmt.Errorf("%w: attribute %q is %v, but only the unsigned attributes (by name or prefix) may be, and they must be", ErrInvalidConfig, name, a)
		}
	}
	e.layout = newLayout(e)
	return e, nil
}

// isUnsigned reports whether an attribute is outside the signature scope:
// named unsigned, starting with the unsigned prefix, or reserved.
func (e *Encryptor) isUnsigned(name string) bool {
	return e.unsigned[name] ||
		(e.cfg.UnsignedPrefix != "" && strings.HasPrefix(name, e.cfg.UnsignedPrefix)) ||
		strings.HasPrefix(name, ReservedPrefix)
}

// action returns the action of an attribute of a plaintext item: its
// configured action, DoNothing for an unsigned one, and an error for any
// other (DB-ESDK refuses attributes it has no action for).
func (e *Encryptor) action(name string) (Action, error) {
	if a, ok := e.configured(name); ok {
		return a, nil
	}
	return 0, fmt.Errorf("%w: no crypto action is configured for attribute %q", ErrInvalidItem, name)
}

// configured returns the action the configuration gives an attribute:
// its own, DoNothing for an unsigned one, or Unlisted; false if none.
func (e *Encryptor) configured(name string) (Action, bool) {
	if a, ok := e.cfg.Actions[name]; ok {
		return a, true
	}
	if e.isUnsigned(name) {
		return DoNothing, true
	}
	return e.cfg.Unlisted, e.cfg.Unlisted != 0
}

// Outdated reports whether a stored item's header names another format
// version or algorithm suite than the Encryptor writes. It checks the
// header's form only.
func (e *Encryptor) Outdated(item map[string]types.AttributeValue) (bool, error) {
	b, ok := item[HeaderAttr].(*types.AttributeValueMemberB)
	if !ok {
		return false, fmt.Errorf("%w: attribute %s is absent or not binary", ErrMalformed, HeaderAttr)
	}
	h, err := ParseHeader(b.Value)
	if err != nil {
		return false, err
	}
	return h.Version != e.version || h.Suite != e.cfg.Suite, nil
}
