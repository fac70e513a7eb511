package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// errUndeclaredCiphertext is why a walk refuses an item with an encrypted
// attribute its Store or Items does not declare.
var errUndeclaredCiphertext = errors.New("is encrypted, but not declared encrypted (an encrypt tag dropped, or an attribute left out of WithEncryptedAttributes): rewriting the item would keep its ciphertext and lose the root key it opens with")

// checkDeclared refuses a stored item with a binary attribute that is not
// declared encrypted but opens as an encrypted attribute under the item's
// keys. A signature covers ciphertexts as it does any value, so such an
// item verifies; rewritten, it would keep the ciphertext under a new root
// key and salt, and the value would be gone for good. Each candidate is
// tried by opening the item with a codec that declares it encrypted: a
// cached root key, one key derivation and one verification per candidate,
// and no candidate at all in most items.
func (r *rewriter) checkDeclared(ctx context.Context, raw map[string]types.AttributeValue) error {
	if r.codec.isLegacy(raw) {
		return nil // legacy items have their own format, checked by the manifest
	}
	for name, v := range raw {
		if _, binary := v.(*types.AttributeValueMemberB); !binary || !r.candidate(name) {
			continue
		}
		err := r.probe(name).open(ctx, maps.Clone(raw), false)
		switch {
		case err == nil:
			return fmt.Errorf("attribute %q %w", name, errUndeclaredCiphertext)
		case !errors.Is(err, ErrIntegrity):
			return fmt.Errorf("checking whether attribute %q is encrypted: %w", name, err)
		}
	}
	return nil
}

// candidate reports whether an attribute could be an undeclared encrypted
// one: not the header, a key, or declared encrypted or unsigned.
func (r *rewriter) candidate(name string) bool {
	_, encrypted := r.codec.encrypted[name]
	return name != r.codec.headerAttr && !encrypted && !r.codec.unsigned[name] && !slices.Contains(r.codec.keyAttrs, name)
}

// probe returns a copy of the codec that also declares name encrypted.
func (r *rewriter) probe(name string) *codec {
	if c, ok := r.probes.Load(name); ok {
		return c.(*codec)
	}
	c := *r.codec
	c.encrypted = maps.Clone(r.codec.encrypted)
	c.encrypted[name] = itemcrypt.NewField(name)
	actual, _ := r.probes.LoadOrStore(name, &c)
	return actual.(*codec)
}
