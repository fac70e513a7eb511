package structure_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// counting counts a keyring's decrypt calls: refusals that need no key must
// not cost one (a KMS request, with a KMS keyring).
type counting struct {
	structure.Keyring
	decrypts int
}

func (c *counting) OnDecrypt(ctx context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	c.decrypts++
	return c.Keyring.OnDecrypt(ctx, m, edks)
}

const secret = "the secret plaintext"

// smallItem has a few attributes under each action, version 2.
func smallItem() (map[string]types.AttributeValue, map[string]structure.Action) {
	item := map[string]types.AttributeValue{
		"pk": s("user-1"), "sk": n("7"), "tenant": s("acme"),
		"card": s(secret), "notes": &types.AttributeValueMemberL{Value: []types.AttributeValue{s(secret), n("1")}},
		"ssn":  &types.AttributeValueMemberB{Value: []byte(secret)},
		"name": s("Ann"), "age": n("42"),
		"hits": n("3"),
	}
	c, e, so := structure.SignAndIncludeInEncryptionContext, structure.EncryptAndSign, structure.SignOnly
	return item, map[string]structure.Action{
		"pk": c, "sk": c, "tenant": c, "card": e, "notes": e, "ssn": e, "name": so, "age": so, "hits": structure.DoNothing,
	}
}

// sealed returns an encryptor with a counting keyring and an encrypted item.
func sealed(t *testing.T, id suite.ID) (*structure.Encryptor, *counting, map[string]types.AttributeValue) {
	t.Helper()
	item, actions := smallItem()
	kr := &counting{Keyring: rawAESKeyring(t, 1)}
	e := newEncryptor(t, actions, id, kr)
	enc, err := e.EncryptItem(context.Background(), item)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.DecryptItem(context.Background(), enc); err != nil {
		t.Fatal(err)
	}
	return e, kr, enc
}

func binaryOf(t testing.TB, item map[string]types.AttributeValue, name string) []byte {
	t.Helper()
	b, ok := item[name].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("%s is not binary", name)
	}
	return b.Value
}

// withBinary returns a copy of item whose attribute name is b.
func withBinary(item map[string]types.AttributeValue, name string, b []byte) map[string]types.AttributeValue {
	out := maps.Clone(item)
	out[name] = &types.AttributeValueMemberB{Value: b}
	return out
}

// refused checks decrypting item fails, without leaking the plaintext.
func refused(t *testing.T, e *structure.Encryptor, item map[string]types.AttributeValue, what string) error {
	t.Helper()
	_, err := e.DecryptItem(context.Background(), item)
	if err == nil {
		t.Fatalf("%s: decrypted, want a refusal", what)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("%s: the error quotes the plaintext: %v", what, err)
	}
	return err
}

// TestEveryTamperedByteRefused flips each bit... each byte of the header,
// the footer and every ciphertext, and truncates and extends them.
func TestEveryTamperedByteRefused(t *testing.T) {
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		t.Run(id.String(), func(t *testing.T) {
			e, _, enc := sealed(t, id)
			for _, name := range []string{structure.HeaderAttr, structure.FooterAttr, "card", "notes", "ssn"} {
				orig := binaryOf(t, enc, name)
				for i := range orig {
					for _, mask := range []byte{0x01, 0x80} {
						b := bytes.Clone(orig)
						b[i] ^= mask
						refused(t, e, withBinary(enc, name, b), fmt.Sprintf("%s byte %d ^ %#x", name, i, mask))
					}
				}
				refused(t, e, withBinary(enc, name, orig[:len(orig)-1]), name+" truncated")
				refused(t, e, withBinary(enc, name, append(bytes.Clone(orig), 0)), name+" extended")
				refused(t, e, withBinary(enc, name, nil), name+" emptied")
			}
		})
	}
}

// TestSignedAttributeChangesRefused swaps, removes, adds and alters signed
// attributes, and moves headers and ciphertexts between items.
func TestSignedAttributeChangesRefused(t *testing.T) {
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		t.Run(id.String(), func(t *testing.T) {
			e, kr, enc := sealed(t, id)
			item, _ := smallItem()
			item["card"] = s("another secret")
			other, err := e.EncryptItem(context.Background(), item) // same keys, another message
			if err != nil {
				t.Fatal(err)
			}
			tests := map[string]func(m map[string]types.AttributeValue){
				"encrypted attributes swapped": func(m map[string]types.AttributeValue) { m["card"], m["ssn"] = m["ssn"], m["card"] },
				"ciphertext from another item": func(m map[string]types.AttributeValue) { m["card"] = other["card"] },
				"header from another item":     func(m map[string]types.AttributeValue) { m[structure.HeaderAttr] = other[structure.HeaderAttr] },
				"footer from another item":     func(m map[string]types.AttributeValue) { m[structure.FooterAttr] = other[structure.FooterAttr] },
				"header and footer from another": func(m map[string]types.AttributeValue) {
					m[structure.HeaderAttr], m[structure.FooterAttr] = other[structure.HeaderAttr], other[structure.FooterAttr]
				},
				"signed attribute removed":      func(m map[string]types.AttributeValue) { delete(m, "name") },
				"encrypted attribute removed":   func(m map[string]types.AttributeValue) { delete(m, "card") },
				"last signed attribute removed": func(m map[string]types.AttributeValue) { delete(m, "tenant") }, // last in path order
				"signed attribute added":        func(m map[string]types.AttributeValue) { m["extra"] = s("x") },
				"signed value changed":          func(m map[string]types.AttributeValue) { m["age"] = n("43") },
				"signed value's type changed":   func(m map[string]types.AttributeValue) { m["age"] = s("42") },
				"signed attributes swapped":     func(m map[string]types.AttributeValue) { m["name"], m["age"] = m["age"], m["name"] },
				"context attribute changed":     func(m map[string]types.AttributeValue) { m["tenant"] = s("evil") },
				"sort key changed":              func(m map[string]types.AttributeValue) { m["sk"] = n("8") },
				"partition key changed":         func(m map[string]types.AttributeValue) { m["pk"] = s("user-2") },
				"ciphertext made a string":      func(m map[string]types.AttributeValue) { m["card"] = s(string(binaryOf(t, enc, "card"))) },
				"header made a string":          func(m map[string]types.AttributeValue) { m[structure.HeaderAttr] = s("x") },
				"header removed":                func(m map[string]types.AttributeValue) { delete(m, structure.HeaderAttr) },
				"footer removed":                func(m map[string]types.AttributeValue) { delete(m, structure.FooterAttr) },
			}
			for name, mutate := range tests {
				m := maps.Clone(enc)
				mutate(m)
				refused(t, e, m, name)
			}
			before := kr.decrypts
			for _, name := range []string{"signed attribute removed", "last signed attribute removed", "signed attribute added", "ciphertext made a string", "header made a string", "footer removed"} {
				m := maps.Clone(enc)
				tests[name](m)
				if err := refused(t, e, m, name); !errors.Is(err, structure.ErrMalformed) {
					t.Errorf("%s: got %v, want ErrMalformed", name, err)
				}
			}
			if kr.decrypts != before {
				t.Errorf("refusing malformed items asked the keyring %d times", kr.decrypts-before)
			}
		})
	}
}

// TestUnsignedAttributesPassThrough checks what DB-ESDK leaves unsigned may
// change, and reserved attributes are dropped on decrypt.
func TestUnsignedAttributesPassThrough(t *testing.T) {
	e, _, enc := sealed(t, suite.SymSig)
	m := maps.Clone(enc)
	m["hits"] = n("4")
	m["aws_dbe_b_tenant"] = &types.AttributeValueMemberB{Value: []byte{1}}
	dec, err := e.DecryptItem(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if dec["hits"].(*types.AttributeValueMemberN).Value != "4" {
		t.Error("the unsigned attribute did not pass through")
	}
	for name := range dec {
		if strings.HasPrefix(name, structure.ReservedPrefix) {
			t.Errorf("decrypted item keeps %s", name)
		}
	}
}

// TestWrongKeysOrTableRefused decrypts under another key, table name or
// signature scope.
func TestWrongKeysOrTableRefused(t *testing.T) {
	_, _, enc := sealed(t, suite.ECDSASymSig)
	_, actions := smallItem()
	refused(t, newEncryptor(t, actions, suite.ECDSASymSig, rawAESKeyring(t, 9)), enc, "another wrapping key")

	other, err := structure.New(structure.Config{TableName: "other", PartitionKey: "pk", SortKey: "sk",
		Actions: actions, UnsignedAttributes: []string{"hits"}, Keyring: rawAESKeyring(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	refused(t, other, enc, "another table name")

	actions["age"] = structure.DoNothing
	refused(t, newEncryptor(t, actions, suite.ECDSASymSig, rawAESKeyring(t, 1)), enc, "a signed attribute made unsigned")
}

// TestHeaderContextMustAgreeWithItem rebuilds headers an attacker who
// knows the data key could write, to check what the commitment does not
// cover is still refused: an encryption context entry that conflicts with
// the item, and a suite downgrade.
func TestHeaderContextMustAgreeWithItem(t *testing.T) {
	e, kr, enc := sealed(t, suite.SymSig)
	h, err := structure.ParseHeader(binaryOf(t, enc, structure.HeaderAttr))
	if err != nil {
		t.Fatal(err)
	}
	h.Context = structure.Context{{Key: "aws-crypto-attr.tenant", Value: "evil"}}
	head, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	before := kr.decrypts
	if err := refused(t, e, withBinary(enc, structure.HeaderAttr, head), "conflicting context"); !errors.Is(err, structure.ErrMalformed) {
		t.Errorf("got %v, want ErrMalformed", err)
	}
	if kr.decrypts != before {
		t.Error("a conflicting context asked the keyring")
	}
	h.Context = nil
	h.Suite = suite.ECDSASymSig // signed, but no verification key
	if head, err = h.Append(nil); err != nil {
		t.Fatal(err)
	}
	if err := refused(t, e, withBinary(enc, structure.HeaderAttr, head), "suite upgrade without a key"); !errors.Is(err, structure.ErrMalformed) {
		t.Errorf("got %v, want ErrMalformed", err)
	}
}

// TestSignedRecordTamperingCostsNoUnwrap: in a signed suite, every byte of
// the header, of the signature and of every ciphertext is covered by the
// ECDSA signature, which needs no key: a record tampered there is refused
// before the keyring is asked (for a KMS keyring, before a KMS request).
// Only the recipient tags need the data key.
func TestSignedRecordTamperingCostsNoUnwrap(t *testing.T) {
	e, kr, enc := sealed(t, suite.ECDSASymSig)
	foot := binaryOf(t, enc, structure.FooterAttr)
	tags := len(foot) - suite.SignatureSize
	before := kr.decrypts
	for _, name := range []string{structure.HeaderAttr, structure.FooterAttr, "card", "notes", "ssn"} {
		orig := binaryOf(t, enc, name)
		for i := range orig {
			if name == structure.FooterAttr && i < tags {
				continue // a recipient tag
			}
			b := bytes.Clone(orig)
			b[i] ^= 0x01
			refused(t, e, withBinary(enc, name, b), fmt.Sprintf("%s byte %d", name, i))
		}
	}
	if n := kr.decrypts - before; n != 0 {
		t.Errorf("refusing tampered signed records asked the keyring %d times, want 0", n)
	}
	b := bytes.Clone(foot)
	b[0] ^= 0x01
	if err := refused(t, e, withBinary(enc, structure.FooterAttr, b), "recipient tag"); !errors.Is(err, structure.ErrAuthentication) {
		t.Errorf("recipient tag altered: %v, want ErrAuthentication", err)
	}
}
