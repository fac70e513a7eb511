package dynacrypt

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// codec turns a marshalled item into its stored form (encrypted fields
// sealed, header added, everything signed) and back. It holds only what New
// computed from the schema and options, so it is safe for concurrent use.
type codec struct {
	table      string
	headerAttr string
	keyAttrs   []string // partition key, then sort key if any
	encrypted  map[string]*[itemcrypt.NonceSize]byte
	unsigned   map[string]bool
	signedT    []string      // T's signed attributes, sorted: the usual signing order
	ring       *keyring      // nil: no Cipher, items stored as they are
	legacy     *legacyReader // nil: items without a header are rejected
}

// newCodec prepares the codec for a schema: the nonce of each encrypted
// attribute, the unsigned set, and the keyring if there is a Cipher.
func newCodec(table string, cfg *config, sch *schema.Schema, keyAttrs []*schema.Field) (codec, error) {
	c := codec{
		table:      table,
		headerAttr: cfg.headerAttr,
		encrypted:  map[string]*[itemcrypt.NonceSize]byte{},
		unsigned:   map[string]bool{},
	}
	for _, f := range keyAttrs {
		c.keyAttrs = append(c.keyAttrs, f.Attr)
	}
	encrypted := sch.Encrypted()
	if len(encrypted) > 0 && cfg.cipher == nil {
		return c, fmt.Errorf("%s is tagged %s:%q but no Cipher is set: use WithCipher", encrypted[0].Path, schema.EncryptTag, schema.EncryptKMS)
	}
	for _, f := range encrypted {
		nonce := itemcrypt.Nonce(f.Attr)
		c.encrypted[f.Attr] = &nonce
	}
	for _, attr := range cfg.unsigned {
		f, inT := sch.Field(attr)
		if (inT && f.Encrypted) || slices.Contains(c.keyAttrs, attr) || attr == cfg.version || attr == cfg.headerAttr {
			return c, fmt.Errorf("attribute %q cannot be unsigned: key, version, header and encrypted attributes are always signed", attr)
		}
		c.unsigned[attr] = true
	}
	for _, f := range sch.Fields {
		if !c.unsigned[f.Attr] && f.Attr != c.headerAttr {
			c.signedT = append(c.signedT, f.Attr)
		}
	}
	slices.Sort(c.signedT)
	var err error
	if cfg.cipher != nil {
		if c.ring, err = newKeyring(cfg.cipher, table, cfg); err != nil {
			return c, err
		}
	}
	if cfg.legacy != nil {
		if c.ring == nil {
			return c, errors.New("WithLegacyKMS needs a Cipher for the new format: use WithCipher")
		}
		if c.legacy, err = cfg.legacy.prepare(encrypted); err != nil {
			return c, err
		}
	}
	return c, nil
}

// isLegacy reports whether a stored item is in the article's format and the
// Store reads that format.
func (c *codec) isLegacy(item map[string]types.AttributeValue) bool {
	_, hasHeader := item[c.headerAttr]
	return c.legacy != nil && !hasHeader
}

func integrity(format string, args ...any) error {
	return &OpError{Kind: ErrIntegrity, Err: fmt.Errorf(format, args...)}
}

func (c *codec) info(item map[string]types.AttributeValue) ([]byte, error) {
	var keys [2]itemcrypt.KeyAttr
	for i, name := range c.keyAttrs {
		v, ok := item[name]
		if !ok {
			return nil, fmt.Errorf("key attribute %q missing", name)
		}
		keys[i] = itemcrypt.KeyAttr{Name: name, Value: v}
	}
	return itemcrypt.Info(c.table, keys[:len(c.keyAttrs)])
}

// seal encrypts the item's encrypted attributes in place, signs it, and adds
// the header attribute.
func (c *codec) seal(ctx context.Context, item map[string]types.AttributeValue) error {
	if c.ring == nil {
		return nil
	}
	root, wrapped, err := c.ring.forWrite(ctx)
	if err != nil {
		return fmt.Errorf("wrapping root key: %w", err)
	}
	var salt [header.SaltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return err
	}
	return c.sealWith(root, wrapped, salt[:], item)
}

// sealWith is seal with the root key and salt given: the deterministic part,
// which FORMAT.md's test vectors check.
func (c *codec) sealWith(root, wrapped, salt []byte, item map[string]types.AttributeValue) error {
	info, err := c.info(item)
	if err != nil {
		return err
	}
	keys, err := itemcrypt.Derive(root, salt, info)
	if err != nil {
		return err
	}
	defer keys.Release()
	for name, nonce := range c.encrypted {
		v, ok := item[name]
		if !ok {
			continue
		}
		sealed, err := keys.Seal(name, nonce, v)
		if err != nil {
			return fmt.Errorf("encrypting %q: %w", name, err)
		}
		item[name] = &types.AttributeValueMemberB{Value: sealed}
	}
	hdr := make([]byte, 0, header.Size(len(wrapped)))
	if hdr, err = header.AppendSigned(hdr, header.SuiteV1, salt, wrapped); err != nil {
		return err
	}
	mac, err := c.sign(keys, hdr, item)
	if err != nil {
		return err
	}
	item[c.headerAttr] = &types.AttributeValueMemberB{Value: append(hdr, mac...)}
	return nil
}

// sign computes the item signature over the header's signed part and every
// attribute except the header and the unsigned ones.
func (c *codec) sign(keys *itemcrypt.Keys, headerSigned []byte, item map[string]types.AttributeValue) ([]byte, error) {
	var stack [32]string
	return keys.Sign(headerSigned, c.signedNames(item, stack[:0]), item)
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
// encrypted attributes, verifying nothing.
func (c *codec) open(ctx context.Context, item map[string]types.AttributeValue, skipDecrypt bool) error {
	if c.ring == nil {
		return nil
	}
	if c.isLegacy(item) {
		return c.legacy.open(ctx, item, c.encrypted, skipDecrypt)
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
		return &OpError{Kind: ErrIntegrity, Err: err}
	}
	root, err := c.ring.forRead(ctx, h.Wrapped)
	if err != nil {
		return fmt.Errorf("unwrapping root key: %w", err)
	}
	info, err := c.info(item)
	if err != nil {
		return &OpError{Kind: ErrIntegrity, Err: err}
	}
	keys, err := itemcrypt.Derive(root, h.Salt, info)
	if err != nil {
		return err
	}
	defer keys.Release()
	mac, err := c.sign(keys, header.Signed(hv.Value), item)
	if err != nil {
		return &OpError{Kind: ErrIntegrity, Err: err}
	}
	if !hmac.Equal(mac, h.MAC) {
		return integrity("signature does not match: the item was altered, moved, or is missing attributes")
	}
	for name, nonce := range c.encrypted {
		v, ok := item[name]
		if !ok {
			continue
		}
		b, ok := v.(*types.AttributeValueMemberB)
		if !ok {
			return integrity("encrypted attribute %q is not binary", name)
		}
		plain, err := keys.Open(name, nonce, b.Value)
		if err != nil {
			return &OpError{Kind: ErrIntegrity, Err: err}
		}
		item[name] = plain
	}
	return nil
}
