package dynacrypt

import (
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// checkDeclared refuses a verified item of suite 1 (names: its signed
// attributes, in order) with a binary attribute that is not
// declared encrypted but opens as an encrypted attribute under the item's
// keys: an encrypt tag dropped, or an attribute left out of
// WithEncryptedAttributes. A signature covers ciphertexts as it does any
// value, so such an item verifies. Opened, the attribute's value would be
// its ciphertext, passed off as plaintext; rewritten by a walk, the item
// would keep the ciphertext under a new root key and salt, and the value
// would be gone for good. The codec's open calls it, once the signature
// holds, when checkUndeclared is set: for Items (Open and Reencrypt) and
// for a Store's walk. Each candidate costs one AES-GCM open with keys
// already derived; an item without binary attributes other than its
// declared ones costs nothing. The error wraps ErrIntegrity, names the
// attribute and holds no value.
func (c *codec) checkDeclared(keys *itemcrypt.Keys, names []string, item map[string]types.AttributeValue) error {
	for _, name := range c.undeclaredCandidates(names, item) {
		if keys.Authentic(c.probe(name), item[name].(*types.AttributeValueMemberB).Value) {
			return undeclared(name)
		}
	}
	return nil
}

// undeclaredCandidates returns the binary attributes among names (the
// item's signed ones, in order) that could be undeclared encrypted ones.
func (c *codec) undeclaredCandidates(names []string, item map[string]types.AttributeValue) []string {
	var candidates []string
	for _, name := range names {
		if _, binary := item[name].(*types.AttributeValueMemberB); binary && c.candidate(name) {
			candidates = append(candidates, name)
		}
	}
	return candidates
}

func undeclared(name string) error {
	return integrity("attribute %q is encrypted, but not declared encrypted (an encrypt tag dropped, or an attribute left out of WithEncryptedAttributes): "+
		"its value would be its ciphertext, and a rewrite would lose the root key it opens with", name)
}

// maxUndeclaredProbes bounds the candidates diagnoseUndeclared tries, so
// that a forged item with many binary attributes costs little.
const maxUndeclaredProbes = 8

// diagnoseUndeclared is checkDeclared for an item of suite 2, whose tag
// did not match. The associated data tells encrypted attributes from
// others, so an undeclared encrypted attribute makes the tag fail as any
// alteration does and no ciphertext can pass for plaintext; this only
// finds the cause, to name it. It tries each binary candidate as if it were
// declared encrypted, then all of them together, one AES-GCM open each, and
// returns the error naming the first that the tag matches with, or nil.
func (c *codec) diagnoseUndeclared(key *itemcrypt.ItemKey, h header.Header, signed []byte, names []string, item map[string]types.AttributeValue) error {
	for _, try := range undeclaredTries(c.undeclaredCandidates(names, item)) {
		encrypted := maps.Clone(c.encrypted)
		for _, name := range try {
			encrypted[name] = nil
		}
		if key.Authentic(h.MAC, h.Salt, signed, names, encrypted, item) {
			return undeclared(try[0])
		}
	}
	return nil
}

// candidate reports whether an attribute could be an undeclared encrypted
// one: not the header, a key, or declared encrypted or unsigned.
func (c *codec) candidate(name string) bool {
	_, encrypted := c.encrypted[name]
	return name != c.headerAttr && !encrypted && !c.unsigned[name] && !slices.Contains(c.keyAttrs, name)
}

// probe returns the Field of an attribute checkDeclared tries, made once.
func (c *codec) probe(name string) *itemcrypt.Field {
	if f, ok := c.probes.Load(name); ok {
		return f.(*itemcrypt.Field)
	}
	f, _ := c.probes.LoadOrStore(name, itemcrypt.NewField(name))
	return f.(*itemcrypt.Field)
}

// undeclaredTries returns the sets of candidates diagnoseUndeclared tries
// as encrypted: each alone, then all together; none if there are more than
// maxUndeclaredProbes.
func undeclaredTries(candidates []string) [][]string {
	if len(candidates) == 0 || len(candidates) > maxUndeclaredProbes {
		return nil
	}
	tries := make([][]string, 0, len(candidates)+1)
	for _, name := range candidates {
		tries = append(tries, []string{name})
	}
	if len(candidates) > 1 {
		tries = append(tries, candidates)
	}
	return tries
}
