package dynacrypt

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// A legacy item is an item without a header: written before the table was
// encrypted with dynacrypt, by code that encrypted each secret field with
// KMS ([WithLegacyKMS]) or that stored it in plaintext
// ([WithPlaintextItems]). It carries no signature, so anyone who can write
// the table can forge one, and the Store reads such items only under a
// guard, configured by LegacyOptions: an end date, and a signed snapshot of
// the legacy items (a manifest) that vouches for each before it is read,
// let alone written back in the current format and so signed.

// A LegacyOption configures how a Store reads items without a header:
// [WithLegacyKMS] and [WithPlaintextItems] take them.
type LegacyOption func(*legacyOptions)

type legacyOptions struct {
	mode       string       // the Option that set them, for errors
	values     legacyFormat // how legacy items hold their encrypted attributes
	until      time.Time
	attrs      []string
	manifest   []byte
	unverified bool
	binary     []string // LegacyBinary
	// conflict names another Option that set legacyOptions before, if
	// any: a Store reads items without a header in one format.
	conflict string
}

// setLegacy makes o the config's legacy options, noting an earlier Option
// of another format.
func setLegacy(c *config, o *legacyOptions) {
	if c.legacy != nil && c.legacy.mode != o.mode {
		o.conflict = c.legacy.mode
	}
	c.legacy = o
}

// A legacyFormat is how legacy items hold their encrypted attributes: it
// builds, for a table, the legacyValues that check and open them.
type legacyFormat interface {
	values(o *legacyOptions, t *legacySchema) (legacyValues, error)
}

// legacyValues check and open the encrypted attributes of legacy items.
type legacyValues interface {
	// check refuses, before any request, an encrypted attribute's value
	// that the format cannot hold.
	check(name string, v types.AttributeValue) error
	// open turns every encrypted attribute of item into its plaintext
	// value, in place.
	open(ctx context.Context, c *codec, item map[string]types.AttributeValue) error
}

// LegacyUntil ends the legacy or plaintext mode at t: from then on, items
// without a header fail with ErrIntegrity, as without the mode. Required:
// pick the date by which the migration will be finished.
func LegacyUntil(t time.Time) LegacyOption { return func(o *legacyOptions) { o.until = t } }

// LegacyAttributes names every attribute the legacy writer stored. An item
// without a header that has any other attribute is not a legacy item: it
// fails with ErrIntegrity. By default, every field of T except the version
// attribute; [NewItems], which has no T, requires it. Key and unsigned
// attributes are always allowed.
func LegacyAttributes(attrs ...string) LegacyOption {
	return func(o *legacyOptions) { o.attrs = append(o.attrs, attrs...) }
}

// LegacyManifest makes the Store read only the legacy items listed, unchanged,
// in manifest, a snapshot made by [Store.LegacySnapshot] of this table (same
// logical name, same Cipher). It is signed: its signature is checked, with
// one Cipher call, at the first legacy read.
func LegacyManifest(manifest []byte) LegacyOption {
	return func(o *legacyOptions) { o.manifest = manifest }
}

// LegacyUnverified makes the Store read every legacy item, with no manifest
// to vouch for it: a forged item reads as a real one, as it did with the
// legacy code. In exchange, no legacy item is ever written back in the
// current format (which would sign a forgery): [Store.Update] of one and
// [Store.Reencrypt] fail with [ErrNotVouched]. Use it for the rollout,
// while legacy writers still run, then take a snapshot and switch to
// LegacyManifest.
func LegacyUnverified() LegacyOption { return func(o *legacyOptions) { o.unverified = true } }

// LegacyBinary names, for [NewItems] with WithLegacyKMS, the encrypted
// attributes whose legacy values are byte strings: decrypted, they are
// binary (B) values, as a []byte field of a Store's T; the others are
// strings (S). A Store reads this from T and refuses the option.
func LegacyBinary(attrs ...string) LegacyOption {
	return func(o *legacyOptions) { o.binary = append(o.binary, attrs...) }
}

// legacySchema is what the guard of legacy items knows of the table.
type legacySchema struct {
	typ       reflect.Type    // T; nil for Items, which has no Go type
	fields    []*schema.Field // T's fields
	encrypted []*schema.Field // for Items, typed string or, if LegacyBinary names them, []byte
	keys      []string
	version   string // "" for none
	header    string
	unsigned  []string
}

// schemaOf returns the legacySchema of a Store's table.
func schemaOf(sch *schema.Schema, keys []*schema.Field, version *schema.Field, header string, unsigned []string) *legacySchema {
	t := &legacySchema{typ: sch.Type, encrypted: sch.Encrypted(), header: header, unsigned: unsigned}
	for i := range sch.Fields {
		t.fields = append(t.fields, &sch.Fields[i])
	}
	for _, f := range keys {
		t.keys = append(t.keys, f.Attr)
	}
	if version != nil {
		t.version = version.Attr
	}
	return t
}

// itemsSchema returns the legacySchema of the table of Items, which knows
// no types but what LegacyBinary says.
func itemsSchema(cfg *config, keys []string) (*legacySchema, error) {
	t := &legacySchema{keys: keys, version: cfg.version, header: cfg.headerAttr, unsigned: cfg.unsigned}
	for _, a := range cfg.legacy.binary {
		if !slices.Contains(cfg.encryptedAttrs, a) {
			return nil, fmt.Errorf("LegacyBinary: %q is not an encrypted attribute (WithEncryptedAttributes)", a)
		}
	}
	for _, a := range cfg.encryptedAttrs {
		typ := reflect.TypeFor[string]()
		if slices.Contains(cfg.legacy.binary, a) {
			typ = reflect.TypeFor[[]byte]()
		}
		t.encrypted = append(t.encrypted, &schema.Field{Attr: a, Path: a, Type: typ})
	}
	return t, nil
}

// newItemsLegacyReader is newLegacyReader for Items.
func newItemsLegacyReader(cfg *config, keys []string) (*legacyReader, error) {
	t, err := itemsSchema(cfg, keys)
	if err != nil {
		return nil, err
	}
	return newLegacyReader(cfg.legacy, t)
}

// legacyReader checks legacy items, and opens them with their format's
// legacyValues.
type legacyReader struct {
	values   legacyValues
	until    time.Time
	now      func() time.Time
	allowed  map[string]bool // attributes a legacy item may have
	manifest *manifest       // nil: LegacyUnverified
	// writesPlaintext: the Store writes plaintext items (WritePlaintext).
	writesPlaintext bool
}

// newLegacyReader checks the legacy options against the table.
func newLegacyReader(o *legacyOptions, t *legacySchema) (*legacyReader, error) {
	switch {
	case o.conflict != "":
		return nil, fmt.Errorf("%s and %s: items without a header are of one format, legacy per-field KMS or plaintext; give one of them", o.conflict, o.mode)
	case len(o.binary) > 0 && (t.typ != nil || o.mode != legacyKMSMode):
		return nil, fmt.Errorf("%s: LegacyBinary is for NewItems with WithLegacyKMS (a Store reads the types of its fields from T)", o.mode)
	case o.until.IsZero():
		return nil, fmt.Errorf("%s: LegacyUntil is required: legacy items are unsigned, so reading them must end at a date", o.mode)
	case (o.manifest == nil) == !o.unverified:
		return nil, fmt.Errorf("%s: give LegacyManifest (a snapshot from Store.LegacySnapshot: only the legacy items it lists are read and migrated) or LegacyUnverified (any legacy item is read, none is migrated)", o.mode)
	}
	values, err := o.values.values(o, t)
	if err != nil {
		return nil, err
	}
	l := &legacyReader{values: values, until: o.until, now: time.Now, allowed: map[string]bool{}}
	if p, ok := o.values.(legacyPlaintext); ok {
		l.writesPlaintext = p.phase == WritePlaintext
	}
	attrs := o.attrs
	switch {
	case attrs == nil && t.typ == nil:
		return nil, fmt.Errorf("%s with NewItems: LegacyAttributes is required, since there is no T to take the attributes of items without a header from", o.mode)
	case attrs == nil:
		for _, f := range t.fields {
			if f.Attr != t.version {
				attrs = append(attrs, f.Attr)
			}
		}
	}
	for _, a := range attrs {
		if t.typ != nil && !slices.ContainsFunc(t.fields, func(f *schema.Field) bool { return f.Attr == a }) && !slices.Contains(t.unsigned, a) {
			return nil, fmt.Errorf("LegacyAttributes: %q is not a field of %v nor an unsigned attribute", a, t.typ)
		}
		if t.version != "" && a == t.version {
			return nil, fmt.Errorf("LegacyAttributes: %q is the version attribute, which only the current format writes", a)
		}
		l.allowed[a] = true
	}
	for _, a := range append(slices.Clone(t.keys), t.unsigned...) {
		l.allowed[a] = true
	}
	if err := checkAttributeCount("LegacyAttributes (with the keys and unsigned attributes)", len(l.allowed)); err != nil {
		return nil, err
	}
	if o.manifest != nil {
		var err error
		if l.manifest, err = parseManifest(o.manifest); err != nil {
			return nil, fmt.Errorf("LegacyManifest: %w", err)
		}
	}
	delete(l.allowed, t.header)
	return l, nil
}

// open checks a legacy item, then opens its encrypted attributes in place.
// Every check comes before the first Cipher or KMS request.
func (l *legacyReader) open(ctx context.Context, item map[string]types.AttributeValue, c *codec, skipDecrypt bool) error {
	if !l.now().Before(l.until) {
		return integrity("item has no %s header, and legacy reading ended at %s (LegacyUntil)", c.headerAttr, l.until.Format(time.RFC3339))
	}
	for name := range item {
		if !l.allowed[name] {
			return integrity("item has no %s header but has attribute %q, which legacy items do not have: a current item whose header was removed?", c.headerAttr, name)
		}
	}
	for name := range c.encrypted {
		if v, ok := item[name]; ok {
			if err := l.values.check(name, v); err != nil {
				return err
			}
		}
	}
	if skipDecrypt {
		// Unverified, as SkipDecryption reads of current items are.
		for name := range c.encrypted {
			delete(item, name)
		}
		return nil
	}
	if l.manifest != nil {
		if err := l.manifest.vouch(ctx, c, item); err != nil {
			return err
		}
	}
	return l.values.open(ctx, c, item)
}

// checkWritesBack refuses to start a walk that would write legacy items
// back in the current format with no manifest to vouch for them.
func (c *codec) checkWritesBack() error {
	if c.legacy != nil && c.legacy.manifest == nil {
		return errUnverifiedLegacy
	}
	return nil
}

// errUnverifiedLegacy is why a Store with LegacyUnverified does not write a
// legacy item back in the current format.
var errUnverifiedLegacy = fmt.Errorf("%w: a legacy item is written back in the current format only if a manifest vouches for it: with LegacyUnverified, a forged legacy item would be signed; take a snapshot (Store.LegacySnapshot) and use LegacyManifest", ErrNotVouched)
