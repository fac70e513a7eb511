package structure

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"maps"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// EncryptItem returns item encrypted in DB-ESDK's format
// (encrypt-item.md): its ENCRYPT_AND_SIGN attributes replaced by their
// ciphertexts (binary), the other attributes as they are, and the
// aws_dbe_head and aws_dbe_foot attributes added. It refuses items with
// attributes the configuration has no action for, without their key or
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attributes, or with attributes
// whose names start with "aws_dbe_". item is not modified.
func (e *Encryptor) EncryptItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(item)+2)
	maps.Copy(out, item)
	if err := e.EncryptInPlace(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// EncryptInPlace is EncryptItem on item itself: on success its
// ENCRYPT_AND_SIGN attributes are replaced and the header and footer
// added; on failure it is unchanged.
func (e *Encryptor) EncryptInPlace(ctx context.Context, item map[string]types.AttributeValue) error {
	if err := e.checkKeys(item, ErrInvalidItem); err != nil {
		return err
	}
	for _, name := range e.layout.inContext {
		if _, ok := item[name]; !ok {
			return fmt.Errorf("%w: attribute %q is SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT but absent", ErrInvalidItem, name)
		}
	}

	sc := getScratch()
	defer sc.release()
	err := e.serializeFields(sc, item, ErrInvalidItem, 0, func(name string) (Action, error) {
		if strings.HasPrefix(name, ReservedPrefix) {
			return 0, fmt.Errorf("%w: attribute name %q starts with the reserved prefix %q", ErrInvalidItem, name, ReservedPrefix)
		}
		if name == "" || len(name) > math.MaxUint16 || !utf8.ValidString(name) {
			return 0, fmt.Errorf("%w: attribute name is empty, longer than 65535 bytes or not valid UTF-8", ErrInvalidItem)
		}
		return e.action(name)
	})
	if err != nil {
		return err
	}
	fields := sc.fields

	// The header stores only what the reader cannot reproduce from the
	// item: the verification key, if any.
	m := &sc.enc
	m.Suite = e.cfg.Suite
	sc.pairs = e.reproducedContext(sc.pairs[:0], sc, e.version, fields)
	var stored Context
	var signer *ecdsa.PrivateKey
	if m.Suite.Signed() {
		if signer, err = suite.GenerateSigningKey(); err != nil {
			return err
		}
		pub, err := suite.EncodePublicKey(&signer.PublicKey)
		if err != nil {
			return err
		}
		stored = Context{{suite.PublicKeyContextKey, pub}}
		sc.pairs = append(sc.pairs, stored[0])
	}
	if m.Context, err = sortContext(sc.pairs); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidItem, err)
	}
	sc.aad = m.Context.AppendAAD(sc.aad[:0])
	m.AAD = sc.aad
	defer func() { clear(m.DataKey) }()
	if err := e.cfg.Keyring.OnEncrypt(ctx, m); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if len(m.DataKey) != suite.KeySize || len(m.EDKs) == 0 || len(m.SigningKeys) != len(m.EDKs) {
		return fmt.Errorf("keyring returned a data key of %d bytes, %d encrypted data keys and %d signing keys", len(m.DataKey), len(m.EDKs), len(m.SigningKeys))
	}

	h := &Header{Version: e.version, Suite: m.Suite, Context: stored, EDKs: m.EDKs}
	if _, err := rand.Read(h.MessageID[:]); err != nil {
		return err
	}
	legend := sc.legend[:0] // the context's legend, if any, is a string now
	for _, f := range fields {
		legend = append(legend, f.action.legend())
	}
	h.Legend, sc.legend = legend, legend
	// One allocation holds the new attributes' bytes: the header, the
	// encrypted values and the footer.
	size := h.size() + len(m.SigningKeys)*suite.RecipientTagSize
	if signer != nil {
		size += suite.SignatureSize
	}
	for _, f := range fields {
		if f.action == EncryptAndSign {
			size += 2 + len(f.value) + suite.TagSize
		}
	}
	out, err := h.AppendPartial(make([]byte, 0, size))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidItem, err)
	}
	keys := &sc.keys
	if err := keys.Derive(m.DataKey, h.MessageID[:]); err != nil {
		return err
	}
	commitment := keys.Commitment(out)
	out = append(out, commitment[:]...)
	head := out[:len(out):len(out)]

	encrypted := 0
	for i := range fields {
		f := &fields[i]
		if f.action != EncryptAndSign {
			continue
		}
		start := len(out)
		if out, err = sealField(out, keys, encrypted, f); err != nil {
			return err
		}
		encrypted++
		f.value = out[start:len(out):len(out)]
	}

	hash, record := canonicalHash(sc.record, head, m.AAD, fields)
	sc.record = record
	// The footer: a recipient tag per EDK, then the signature.
	start := len(out)
	for _, k := range m.SigningKeys {
		tag := suite.RecipientTag(k, hash)
		out = append(out, tag[:]...)
	}
	if signer != nil {
		sig, err := suite.Sign(signer, hash[:])
		if err != nil {
			return err
		}
		out = append(out, sig...)
	}
	foot := out[start:len(out):len(out)]
	// Nothing fails from here: the item changes. One allocation holds
	// every new attribute value.
	values := make([]types.AttributeValueMemberB, encrypted+2)
	values[0].Value, values[1].Value = head, foot
	item[HeaderAttr], item[FooterAttr] = &values[0], &values[1]
	n := 2
	for i := range fields {
		if f := &fields[i]; f.action == EncryptAndSign {
			values[n].Value = f.value
			item[f.name] = &values[n]
			n++
		}
	}
	return nil
}

// checkKeys returns an error wrapping kind unless item has the partition
// key and, if the table has one, the sort key.
func (e *Encryptor) checkKeys(item map[string]types.AttributeValue, kind error) error {
	for _, key := range []string{e.cfg.PartitionKey, e.cfg.SortKey} {
		if _, ok := item[key]; key != "" && !ok {
			return fmt.Errorf("%w: key attribute %q is absent", kind, key)
		}
	}
	return nil
}
