package dynacrypt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// A Cipher wraps and unwraps the root keys that item keys derive from. The
// Store calls it rarely: once per new root key when writing and once per
// root key it has not cached when reading.
//
// Encrypt returns a ciphertext of plaintext bound to encryptionContext.
// Decrypt returns the plaintext only if ciphertext came from Encrypt with an
// equal encryptionContext (same keys and values, any order). When the
// ciphertext is not authentic under that context (altered, bound to another
// context, or made under a key the Cipher does not accept) Decrypt returns an
// error that wraps [ErrIntegrity]; any other failure (throttling, network, a
// disabled key) must not wrap it, so that it is not mistaken for tampering.
// Both must be safe for concurrent use and must not retain or modify their
// arguments. Errors must not contain the plaintext. A panic in either is
// recovered and returned as an error of the Store call.
//
// A Decrypt error that has a method Local() bool returning true (in its
// chain, as errors.As finds it) says the Cipher refused the ciphertext
// without calling its key service (it is malformed, names a key the Cipher
// does not use for this context, or failed before), or found its key
// deleted in a way forged input cannot repeat at will (keystore's shredded
// versions: only keys that existed). The Store then does not count it
// against [WithUnwrapLimit], which bounds the key service calls forged
// input can cause, so that such refusals do not stop the cold reads of
// genuine items. (Any other [ErrKeyGone] that took a request to find
// counts: forged items can name key after made-up key.)
//
// The Store passes the context {"dynacrypt-table": <logical table name>}
// (see [WithLogicalTableName]).
type Cipher interface {
	Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
}

// localRefusal marks an error of this package's Ciphers as made without a
// call to the key service (see [Cipher]).
type localRefusal struct{ err error }

func (e localRefusal) Error() string { return e.err.Error() }
func (e localRefusal) Unwrap() error { return e.err }
func (localRefusal) Local() bool     { return true }

// refusedLocally reports whether a Decrypt error says the Cipher refused
// without calling its key service (see [Cipher]).
func refusedLocally(err error) bool {
	var l interface{ Local() bool }
	return errors.As(err, &l) && l.Local()
}

// A CurrentKeyChecker is a Cipher that can tell, without calling its key
// service, whether a ciphertext was made under its current key.
// [Store.Reencrypt] uses it to find the items whose root key a rotation left
// on an older key. [KMSCipher] implements it.
type CurrentKeyChecker interface {
	UnderCurrentKey(ciphertext []byte) bool
}

// A CurrentKeyRefresher is a CurrentKeyChecker that caches its current key,
// which may change elsewhere: a branch key rotated by another process, for
// keystore.Cipher. [Store.Reencrypt] uses it so that a walk works from the
// current key as it is, not as cached, and never moves an item onto a key
// older than its own.
//
// RefreshCurrentKey reads the current key for an encryption context
// afresh. A walk calls it once for each encryption context it rewrites
// under (the table's, or each tenant's), once an item of that context has
// shown the context's key to exist: it opened, or UnderCurrentKey called
// it current.
//
// CheckRewrap returns an error wrapping ErrIntegrity if ciphertext was made
// under a key newer than the current one (the current key was put back
// after a rotation), which a walk must not rewrap onto the older key. It
// may fetch the key ciphertext names.
type CurrentKeyRefresher interface {
	CurrentKeyChecker
	RefreshCurrentKey(ctx context.Context, encryptionContext map[string]string) error
	CheckRewrap(ctx context.Context, ciphertext []byte) error
}

// A LocalUnwrapper is a Cipher that can tell, without calling its key
// service, that its Decrypt of a ciphertext will not call it either: the
// key it needs is at hand, or it will refuse the ciphertext outright. The
// Store does not count such unwraps against [WithUnwrapLimit], which bounds
// the key service calls forged input can cause: they cost nothing, so a
// limit that forgeries spent does not stop them. [AESCipher] and the key
// store's Cipher implement it.
type LocalUnwrapper interface {
	UnwrapsLocally(ciphertext []byte) bool
}

// TableContextKey is the encryption context key under which the Store passes
// its logical table name to the Cipher. A KMS key policy can match it with
// the kms:EncryptionContext:dynacrypt-table condition key to limit a role to
// some tables.
const TableContextKey = "dynacrypt-table"

// appendContext appends an encryption context in canonical form: pairs in
// ascending key order, each key and value length-prefixed.
func appendContext(dst []byte, ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		dst = canonical.AppendName(dst, k)
		dst = canonical.AppendName(dst, ec[k])
	}
	return dst
}

// checkCipher refuses a Cipher that would fail on first use: nil, a nil
// pointer, or one that knows it was built wrong (a KMSCipher without a
// client, say).
func checkCipher(c Cipher) error {
	if c == nil || isNilPointer(c) {
		return errors.New("the Cipher is nil")
	}
	if v, ok := c.(interface{ check() error }); ok {
		return v.check()
	}
	return nil
}

// isNilPointer reports whether v holds a nil pointer (or other nil
// reference) whose methods would panic.
func isNilPointer(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// codec turns a marshalled item into its stored form (encrypted fields
// sealed, header added, everything signed) and back. It holds only what New
// computed from the schema and options, so it is safe for concurrent use.
type codec struct {
	logical    string // the logical table name, bound into every item key
	headerAttr string
	keyAttrs   []string // partition key, then sort key if any
	encrypted  map[string]*itemcrypt.Field
	unsigned   map[string]bool
	signedT    []string      // T's signed attributes, sorted: the usual signing order
	ring       *keyring.Ring // nil: no Cipher, items stored as they are
	legacy     *legacyReader // nil: items without a header are rejected
	beacons    *beacons
	tenantAttr string // "": items have no tenant
	suite      byte   // the suite new items are written in
	// checkUndeclared makes open refuse items with an encrypted attribute
	// not declared encrypted (see checkDeclared): set for Items, and for
	// the codec of a Store's re-encryption walk.
	checkUndeclared bool
	// probes holds the Field (nonce, associated data) of each attribute
	// checkDeclared has tried: names of verified items, so few.
	probes *sync.Map
	// format is the codec of a second item format (WithItemFormat), nil
	// if none; its items carry formatHeader. With writesFormat, new items
	// are written in it; writeHeader is the header attribute of the items
	// the codec writes, whichever the format.
	format       FormatCodec
	formatHeader string
	writesFormat bool
	writeHeader  string
	// guard bounds the format's unwraps, under the ring's limit.
	guard *UnwrapGuard
}

// newCodec prepares the codec of a table: the key attributes, the
// encrypted ones (their nonces), the unsigned ones, and the attributes items
// usually have (fields: T's, sorted once for the signing order). unsigned
// must have been checked.
func newCodec(keys, encrypted, fields []string, logical, headerAttr string, unsigned []string, ring *keyring.Ring) codec {
	c := codec{
		logical:     logical,
		headerAttr:  headerAttr,
		keyAttrs:    keys,
		encrypted:   map[string]*itemcrypt.Field{},
		unsigned:    map[string]bool{},
		ring:        ring,
		beacons:     &beacons{},
		probes:      new(sync.Map),
		suite:       header.SuiteV2,
		writeHeader: headerAttr,
	}
	for _, attr := range encrypted {
		c.encrypted[attr] = itemcrypt.NewField(attr)
	}
	for _, attr := range unsigned {
		c.unsigned[attr] = true
	}
	for _, attr := range fields {
		if !c.unsigned[attr] {
			c.signedT = append(c.signedT, attr)
		}
	}
	slices.Sort(c.signedT)
	return c
}

// seals reports whether the codec seals the items it writes: with a
// Cipher, or in an item format that writes. Without either, a Store
// stores items as they are.
func (c *codec) seals() bool { return c.ring != nil || c.writesFormat }

// isLegacy reports whether a stored item has no header and the Store reads
// the legacy per-field KMS format.
func (c *codec) isLegacy(item map[string]types.AttributeValue) bool {
	return c.legacy != nil && !c.hasHeader(item)
}

// hasHeader reports whether a stored item has a header of either format.
func (c *codec) hasHeader(item map[string]types.AttributeValue) bool {
	_, native := item[c.headerAttr]
	return native || c.isFormat(item)
}

// isFormat reports whether a stored item is of the second item format.
func (c *codec) isFormat(item map[string]types.AttributeValue) bool {
	if c.format == nil {
		return false
	}
	_, ok := item[c.formatHeader]
	return ok
}

// headerOf returns the name of a stored item's header attribute: the
// format's for an item of the second format, else the Store's own.
func (c *codec) headerOf(item map[string]types.AttributeValue) string {
	if c.isFormat(item) {
		return c.formatHeader
	}
	return c.headerAttr
}

// keyOf returns the key attributes of a stored item.
func (c *codec) keyOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	km := make(map[string]types.AttributeValue, len(c.keyAttrs))
	for _, name := range c.keyAttrs {
		km[name] = item[name]
	}
	return km
}

// checkNil refuses an item that holds a nil value anywhere (a nil pointer
// such as (*types.AttributeValueMemberB)(nil)), which a caller's map can and
// an item DynamoDB returns cannot: open's type switches assume none. Items
// the Store reads itself skip it, since it costs a walk of every value.
func checkNil(item map[string]types.AttributeValue) error {
	if err := canonical.CheckNil(item); err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	return nil
}

func integrity(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIntegrity, fmt.Sprintf(format, args...))
}

// deriveItem derives the keys of one item write from a root key, bound to
// the logical table and the item's key attributes.
func (c *codec) deriveItem(root, salt []byte, item map[string]types.AttributeValue) (*itemcrypt.Keys, error) {
	keys, err := c.keyValues(item)
	if err != nil {
		return nil, err
	}
	return itemcrypt.DeriveItem(root, salt, c.logical, keys[:len(c.keyAttrs)])
}

// keyValues returns the item's key attributes, or an error naming one that
// is missing.
func (c *codec) keyValues(item map[string]types.AttributeValue) ([2]itemcrypt.KeyAttr, error) {
	var keys [2]itemcrypt.KeyAttr
	for i, name := range c.keyAttrs {
		v, ok := item[name]
		if !ok {
			return keys, fmt.Errorf("key attribute %q missing", name)
		}
		keys[i] = itemcrypt.KeyAttr{Name: name, Value: v}
	}
	return keys, nil
}

// derive derives the keys of a cursor or manifest from a root key.
func derive(root *keyring.Root, salt, info []byte) (*itemcrypt.Keys, error) {
	keys, err := itemcrypt.Derive(root.Key(), salt, info)
	runtime.KeepAlive(root) // its key material is zeroed once unreachable
	return keys, err
}

// seal encrypts the item's encrypted attributes in place, signs it, and adds
// the header attribute.
func (c *codec) seal(ctx context.Context, item map[string]types.AttributeValue) error {
	if !c.seals() {
		return nil
	}
	tenant, err := c.tenantOf(item)
	if err != nil {
		return err
	}
	if err := c.beacons.add(ctx, item, tenant); err != nil {
		return err
	}
	if c.writesFormat {
		return c.format.Seal(ctx, item)
	}
	root, err := c.ring.ForWrite(ctx, tenant)
	if err != nil {
		return fmt.Errorf("wrapping root key: %w", err)
	}
	if c.suite == header.SuiteV1 {
		var salt [header.SaltSize]byte
		if _, err := rand.Read(salt[:]); err != nil {
			return err
		}
		err = c.sealWith(root.Key(), root.Wrapped(), salt[:], item)
		runtime.KeepAlive(root) // its key material is zeroed once unreachable
		return err
	}
	key, err := c.itemKey(root)
	if err != nil {
		return err
	}
	var nonce [header.NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	return c.sealV2(key, root.Wrapped(), nonce[:], item)
}

// itemKey returns suite 2's item key of a root key, derived once per Root.
func (c *codec) itemKey(root *keyring.Root) (*itemcrypt.ItemKey, error) {
	derived, err := root.Derived(func(key []byte) (any, error) { return itemcrypt.NewItemKey(key, c.logical) })
	if err != nil {
		return nil, err
	}
	if key := derived.(*itemcrypt.ItemKey); key.Table() == c.logical {
		return key, nil
	}
	// A Root shared by codecs of two logical tables (none of the Store's
	// do that): derive this one's key without keeping it.
	key, err := itemcrypt.NewItemKey(root.Key(), c.logical)
	runtime.KeepAlive(root) // its key material is zeroed once unreachable
	return key, err
}

// sealV2 is seal in suite 2 with the item key and nonce given: the
// deterministic part, which FORMAT.md's test vectors check. The encrypted
// attributes are sealed together, so the ciphertexts and the header share
// one buffer.
func (c *codec) sealV2(key *itemcrypt.ItemKey, wrapped, nonce []byte, item map[string]types.AttributeValue) error {
	if _, err := c.keyValues(item); err != nil {
		return err
	}
	var stack [32]string
	names := c.signedNames(item, stack[:0])
	hdrSize := header.Size(header.SuiteV2, len(wrapped))
	buf := make([]byte, hdrSize, hdrSize+sealedSize(item, c.encrypted)+header.TagSize)
	signed, err := header.AppendSigned(buf[:0], header.SuiteV2, nonce, wrapped)
	if err != nil {
		return err
	}
	var lensStack [16]int
	buf, lens, err := key.Seal(buf, lensStack[:0], nonce, signed, names, c.encrypted, item)
	if err != nil {
		return err
	}
	ciphertexts, tag := buf[hdrSize:len(buf)-header.TagSize], buf[len(buf)-header.TagSize:]
	copy(buf[len(signed):hdrSize], tag)
	values := make([]types.AttributeValueMemberB, len(lens)+1)
	i := 0
	for _, name := range names {
		if _, ok := c.encrypted[name]; ok {
			values[i].Value = ciphertexts[:lens[i]:lens[i]]
			ciphertexts = ciphertexts[lens[i]:]
			item[name] = &values[i]
			i++
		}
	}
	values[i].Value = buf[:hdrSize:hdrSize]
	item[c.headerAttr] = &values[i]
	return nil
}

// sealWith is seal in suite 1 with the root key and salt given: the
// deterministic part, which FORMAT.md's test vectors check.
func (c *codec) sealWith(root, wrapped, salt []byte, item map[string]types.AttributeValue) error {
	keys, err := c.deriveItem(root, salt, item)
	if err != nil {
		return err
	}
	defer keys.Release()
	// One allocation for the ciphertexts and the header, one for their
	// attribute values.
	buf := make([]byte, 0, sealedSize(item, c.encrypted)+header.Size(header.SuiteV1, len(wrapped)))
	values := make([]types.AttributeValueMemberB, 0, len(c.encrypted)+1)
	for name, f := range c.encrypted {
		v, ok := item[name]
		if !ok {
			continue
		}
		start := len(buf)
		if buf, err = keys.Seal(buf, f, v); err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
		values = append(values, types.AttributeValueMemberB{Value: buf[start:len(buf):len(buf)]})
		item[name] = &values[len(values)-1]
	}
	start := len(buf)
	if buf, err = header.AppendSigned(buf, header.SuiteV1, salt, wrapped); err != nil {
		return err
	}
	var stack [32]string
	if buf, err = keys.Sign(buf, buf[start:], c.signedNames(item, stack[:0]), item); err != nil {
		return err
	}
	values = append(values, types.AttributeValueMemberB{Value: buf[start:]})
	item[c.headerAttr] = &values[len(values)-1]
	return nil
}

// sealedSize is about the bytes the encrypted attributes of item take
// sealed, their canonical encodings and a GCM tag each, so that the buffer
// they are encoded and sealed in need not grow.
func sealedSize(item map[string]types.AttributeValue, encrypted map[string]*itemcrypt.Field) int {
	n := 0
	for name := range encrypted {
		if v, ok := item[name]; ok {
			n += canonical.SizeHint(v) + itemcrypt.Overhead
		}
	}
	return n
}

// signedNames appends to buf the names of item's signed attributes, in
// ascending order. Items usually hold only attributes of T, whose names New
// sorted once; only an item with others (written by other code, or tampered
// with) needs a walk of the map and a sort.
func (c *codec) signedNames(item map[string]types.AttributeValue, buf []string) []string {
	names := buf
	for _, name := range c.signedT {
		if _, ok := item[name]; ok {
			names = append(names, name)
		}
	}
	others := len(item) - len(names)
	if _, ok := item[c.headerAttr]; ok {
		others--
	}
	for name := range c.unsigned {
		if _, ok := item[name]; ok {
			others--
		}
	}
	if others == 0 {
		return names
	}
	names = buf
	for name := range item {
		if name != c.headerAttr && !c.unsigned[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// open verifies a stored item and decrypts its encrypted attributes in place,
// removing the header. With skipDecrypt it only removes the header and the
// encrypted attributes, verifying nothing. The item holds no nil values:
// it comes from the SDK's decoder, or through checkNil.
func (c *codec) open(ctx context.Context, item map[string]types.AttributeValue, skipDecrypt bool) error {
	if c.isFormat(item) {
		return c.openFormat(ctx, item, skipDecrypt)
	}
	if c.ring == nil {
		if c.format == nil {
			return nil // a Store without a Cipher stores items as they are
		}
		if _, native := item[c.headerAttr]; native {
			return fmt.Errorf("item is in dynacrypt's format (header %s), but the Store has no Cipher to read it: use WithCipher", c.headerAttr)
		}
		return integrity("item has no %s header: not written by a Store of this table, or the header was removed", c.formatHeader)
	}
	if c.isLegacy(item) {
		return c.legacy.open(ctx, item, c, skipDecrypt)
	}
	hv, ok := item[c.headerAttr].(*types.AttributeValueMemberB)
	if !ok {
		return integrity("item has no %s header: not written by dynacrypt, or the header was removed", c.headerAttr)
	}
	delete(item, c.headerAttr)
	if skipDecrypt {
		for name := range c.encrypted {
			delete(item, name)
		}
		return nil
	}
	h, err := header.Parse(hv.Value)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if _, err := c.keyValues(item); err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	tenant, err := c.tenantOf(item)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	// Checked before the unwrap, which may cost a KMS request.
	for name := range c.encrypted {
		if v, ok := item[name]; ok {
			if _, binary := v.(*types.AttributeValueMemberB); !binary {
				return integrity("encrypted attribute %q is not binary", name)
			}
		}
	}
	root, hold, err := c.ring.ForRead(ctx, h.Wrapped, tenant, keyring.Items)
	if err != nil {
		return fmt.Errorf("unwrapping root key: %w", err)
	}
	if h.Suite == header.SuiteV2 {
		err = c.openV2(root, h, hv.Value, item)
	} else {
		err = c.openV1(root, h, hv.Value, item)
	}
	// A genuine wrapped key pasted into a forgery: whatever gave it away,
	// the unwrap counts against the limit.
	hold.Settle(err == nil)
	return err
}

// openFormat is open for an item of the second item format.
func (c *codec) openFormat(ctx context.Context, item map[string]types.AttributeValue, skipDecrypt bool) error {
	if _, both := item[c.headerAttr]; both {
		return integrity("item has both a %s and a %s header", c.headerAttr, c.formatHeader)
	}
	if skipDecrypt {
		return c.format.Strip(item)
	}
	if _, err := c.tenantOf(item); err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	return c.format.Open(ctx, item, c.guard)
}

// openV1 is open for an item of suite 1, whose root key is unwrapped.
func (c *codec) openV1(root *keyring.Root, h header.Header, hdr []byte, item map[string]types.AttributeValue) error {
	keys, err := c.deriveItem(root.Key(), h.Salt, item)
	runtime.KeepAlive(root) // its key material is zeroed once unreachable
	if err != nil {
		return err
	}
	defer keys.Release()
	var stack [32]string
	names := c.signedNames(item, stack[:0])
	valid, err := keys.Verify(h.MAC, header.Signed(hdr), names, item)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if !valid {
		return integrity("signature does not match: the item was altered, moved, or is missing attributes")
	}
	if c.checkUndeclared {
		if err := c.checkDeclared(keys, names, item); err != nil {
			return err
		}
	}
	for name, f := range c.encrypted {
		if v, ok := item[name]; ok {
			plain, err := keys.Open(f, v.(*types.AttributeValueMemberB).Value) // binary: checked by open
			if err != nil {
				return fmt.Errorf("%w: %w", ErrIntegrity, err)
			}
			item[name] = plain
		}
	}
	return nil
}

// openV2 is open for an item of suite 2, whose root key is unwrapped.
func (c *codec) openV2(root *keyring.Root, h header.Header, hdr []byte, item map[string]types.AttributeValue) error {
	key, err := c.itemKey(root)
	if err != nil {
		return err
	}
	var stack [32]string
	names := c.signedNames(item, stack[:0])
	valid, err := key.Open(h.MAC, h.Salt, header.Signed(hdr), names, c.encrypted, item)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if !valid {
		if c.checkUndeclared {
			if err := c.diagnoseUndeclared(key, h, header.Signed(hdr), names, item); err != nil {
				return err
			}
		}
		return integrity("signature does not match: the item was altered, moved, or is missing attributes")
	}
	return nil
}
