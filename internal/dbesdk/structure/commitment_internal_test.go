package structure

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// plainKeyring "wraps" the data key by storing it: enough to test what the
// decryptor checks once it has a data key and a signing key.
type plainKeyring struct{ signingKey []byte }

func (k plainKeyring) OnEncrypt(_ context.Context, m *EncryptionMaterials) error {
	if m.DataKey == nil {
		m.DataKey = make([]byte, suite.KeySize)
		rand.Read(m.DataKey)
	}
	m.AddEDK(EDK{ProviderID: "plain", Ciphertext: bytes.Clone(m.DataKey)}, k.signingKey)
	return nil
}

func (k plainKeyring) OnDecrypt(_ context.Context, m *DecryptionMaterials, edks []EDK) error {
	m.DataKey, m.SigningKey = bytes.Clone(edks[0].Ciphertext), k.signingKey
	return nil
}

// TestCommitmentBindsTheDataKey is the attack the header commitment stops:
// a recipient, who holds the symmetric signing key, swaps in another data
// key (here, one that happens to decrypt nothing) and re-tags the record;
// only the commitment, which binds the header to the data key, is left to
// refuse it.
func TestCommitmentBindsTheDataKey(t *testing.T) {
	kr := plainKeyring{signingKey: bytes.Repeat([]byte{7}, suite.KeySize)}
	e, err := New(Config{TableName: "t", PartitionKey: "pk", Suite: suite.SymSig, Keyring: kr,
		Actions: map[string]Action{"pk": SignOnly, "v": SignOnly}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := e.EncryptItem(context.Background(), map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "k"}, "v": &types.AttributeValueMemberS{Value: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(enc[HeaderAttr].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	h.EDKs[0].Ciphertext = bytes.Repeat([]byte{1}, suite.KeySize) // another data key
	head, err := h.Append(nil)                                    // the old commitment
	if err != nil {
		t.Fatal(err)
	}
	// The item's signed fields as the decryptor reads them, with the
	// forged header.
	forged := maps.Clone(enc)
	forged[HeaderAttr] = &types.AttributeValueMemberB{Value: head}
	sc := getScratch()
	defer sc.release()
	_, _, _, fields, err := e.readItem(sc, forged)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := mergeContext(nil, h.Context, e.reproducedContext(nil, sc, h.Version, fields))
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := canonicalHash(nil, head, ec.AppendAAD(nil), fields)
	forged[FooterAttr] = &types.AttributeValueMemberB{Value: tagOf(kr.signingKey, hash)}
	if _, err := e.DecryptItem(context.Background(), forged); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("got %v, want ErrAuthentication", err)
	}
}

func tagOf(signingKey []byte, hash [48]byte) []byte {
	tag := suite.RecipientTag(signingKey, hash)
	return tag[:]
}
