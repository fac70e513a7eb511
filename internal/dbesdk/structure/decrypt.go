package structure

import (
	"context"
	"crypto/ecdsa"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// DecryptItem verifies an item in DB-ESDK's format and returns it decrypted
// (decrypt-item.md): its encrypted attributes replaced by their plaintext,
// without aws_dbe_head, aws_dbe_foot or any other attribute whose name
// starts with "aws_dbe_". Everything that can be checked without the data
// key (the header's and footer's form, the signed attributes against the
// legend, the attribute types, the encryption context) is checked before
// the keyring is asked for it. item is not modified.
func (e *Encryptor) DecryptItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out := maps.Clone(item)
	if err := e.DecryptInPlace(ctx, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// DecryptInPlace is DecryptItem on item itself: on success its encrypted
// attributes are replaced by their plaintexts and the attributes named
// "aws_dbe_..." removed; on failure it is unchanged. kr, if not nil,
// replaces the configured keyring for this item (one that wraps it with
// per-call state, say).
func (e *Encryptor) DecryptInPlace(ctx context.Context, item map[string]types.AttributeValue, kr Keyring) error {
	if kr == nil {
		kr = e.cfg.Keyring
	}
	sc := getScratch()
	defer sc.release()
	head, foot, h, fields, err := e.readItem(sc, item)
	if err != nil {
		return err
	}
	for _, f := range fields {
		if f.action == EncryptAndSign && (f.typ != ddbser.TypeBinary || len(f.value) < 2+suite.TagSize) {
			return fmt.Errorf("%w: encrypted attribute %q is not a binary of at least %d bytes", ErrMalformed, f.name, 2+suite.TagSize)
		}
		if f.action == EncryptAndSign && e.cfg.RefuseUndeclared {
			if a, ok := e.configured(f.name); ok && a != EncryptAndSign {
				return fmt.Errorf("%w: attribute %q is encrypted, but configured %v: written back, it would be stored in plaintext", ErrMalformed, f.name, a)
			}
		}
	}

	sc.pairs = e.reproducedContext(sc.pairs[:0], sc, h.Version, fields)
	ec, err := mergeContext(sc.context[:0], h.Context, sc.pairs)
	if err != nil {
		return err
	}
	sc.context = ec
	var verifier *ecdsa.PublicKey
	pub, hasPub := ec.Get(suite.PublicKeyContextKey)
	switch {
	case h.Suite.Signed() && !hasPub:
		return fmt.Errorf("%w: signed record without a verification key", ErrMalformed)
	case !h.Suite.Signed() && hasPub:
		return fmt.Errorf("%w: unsigned record with a verification key", ErrMalformed)
	case hasPub:
		if verifier, err = suite.DecodePublicKey(pub); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	footer := &sc.footer
	if err := parseFooter(footer, foot, h.Suite.Signed()); err != nil {
		return err
	}
	if len(footer.Tags) != len(h.EDKs) {
		return fmt.Errorf("%w: %d recipient tags for %d encrypted data keys", ErrMalformed, len(footer.Tags), len(h.EDKs))
	}

	sc.aad = ec.AppendAAD(sc.aad[:0])
	m := &sc.dec
	m.Suite, m.Context, m.AAD = h.Suite, ec, sc.aad
	// The signature needs no key: checked first, it refuses a tampered
	// record of a signed suite before the keyring is asked (for a KMS
	// keyring, before a KMS request). Only the recipient tags need the
	// data key.
	hash, record := canonicalHash(sc.record, head, m.AAD, fields)
	sc.record = record
	if verifier != nil && !suite.Verify(verifier, hash[:], footer.Signature) {
		return fmt.Errorf("%w: the signature does not verify", ErrAuthentication)
	}
	defer func() { clear(m.DataKey) }()
	if err := kr.OnDecrypt(ctx, m, h.EDKs); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if len(m.DataKey) != suite.KeySize || len(m.SigningKey) == 0 {
		return fmt.Errorf("keyring returned a data key of %d bytes and a signing key of %d", len(m.DataKey), len(m.SigningKey))
	}
	keys := &sc.keys
	if err := keys.Derive(m.DataKey, h.MessageID[:]); err != nil {
		return err
	}
	commitment := keys.Commitment(head[:len(head)-suite.CommitmentSize])
	if subtle.ConstantTimeCompare(commitment[:], h.Commitment[:]) != 1 {
		return fmt.Errorf("%w: header commitment mismatch", ErrAuthentication)
	}
	if err := verifyRecipientTag(footer, hash, m.SigningKey); err != nil {
		return err
	}

	// Every value is decrypted before the item changes.
	plain := sc.values[:0]
	offset := 0
	for i := range fields {
		f := &fields[i]
		if f.action != EncryptAndSign {
			continue
		}
		if sc.plain, err = openField(sc.plain[:0], keys, offset, f); err != nil {
			return err
		}
		offset++
		av, err := ddbser.Decode(ddbser.TypeID(binary.BigEndian.Uint16(f.value)), sc.plain)
		if err != nil {
			return fmt.Errorf("%w: attribute %q: %w", ErrMalformed, f.name, err)
		}
		plain = append(plain, av)
	}
	sc.values = plain
	if sc.known {
		// Every other attribute is configured: no other has a reserved name.
		delete(item, HeaderAttr)
		delete(item, FooterAttr)
	} else {
		for name := range item {
			if strings.HasPrefix(name, ReservedPrefix) {
				delete(item, name)
			}
		}
	}
	for i := range fields {
		if f := &fields[i]; f.action == EncryptAndSign {
			item[f.name], plain = plain[0], plain[1:]
		}
	}
	return nil
}

// ResolveActions returns the crypto actions an item in DB-ESDK's format
// was written with, from its header's legend and the configuration's
// signature scope (resolve-auth-actions.md): DoNothing for the attributes
// outside the scope, the header and footer included. It checks the form of
// the header and that the signed attributes match the legend, nothing
// cryptographic.
func (e *Encryptor) ResolveActions(item map[string]types.AttributeValue) (map[string]Action, error) {
	sc := getScratch()
	defer sc.release()
	_, _, _, fields, err := e.readItem(sc, item)
	if err != nil {
		return nil, err
	}
	actions := make(map[string]Action, len(item))
	for name := range item {
		actions[name] = DoNothing
	}
	for _, f := range fields {
		actions[f.name] = f.action
	}
	return actions, nil
}

// readItem returns a stored item's header and footer attributes, its parsed
// header, and its attributes in the signature scope in canonical path
// order with the actions the header's legend gives them, serialized in sc.
func (e *Encryptor) readItem(sc *scratch, item map[string]types.AttributeValue) (head, foot []byte, h *Header, fields []field, err error) {
	h = &sc.header
	for _, name := range []string{HeaderAttr, FooterAttr} {
		b, ok := item[name].(*types.AttributeValueMemberB)
		if !ok {
			return nil, nil, nil, nil, fmt.Errorf("%w: attribute %s is absent or not binary", ErrMalformed, name)
		}
		if name == HeaderAttr {
			head = b.Value
		} else {
			foot = b.Value
		}
	}
	if err := e.checkKeys(item, ErrMalformed); err != nil {
		return nil, nil, nil, nil, err
	}
	if err = parseHeader(h, head); err != nil {
		return nil, nil, nil, nil, err
	}
	err = e.serializeFields(sc, item, ErrMalformed, 2, func(name string) (Action, error) {
		if e.isUnsigned(name) {
			return DoNothing, nil
		}
		return SignOnly, nil // until the legend says
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	fields = sc.fields
	if len(fields) != len(h.Legend) {
		return nil, nil, nil, nil, fmt.Errorf("%w: the item has %d signed attributes, its header %d", ErrMalformed, len(fields), len(h.Legend))
	}
	for i := range fields {
		fields[i].action = actionOfLegend(h.Legend[i])
	}
	return head, foot, h, fields, nil
}
