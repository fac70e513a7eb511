package dbesdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

func newKMSKeyring(t testing.TB, client KMSClient, arn string) *Keyring {
	t.Helper()
	kr, err := KMSKeyring(client, arn)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestKMSKeyringRoundTrip: items wrapped under a KMS key read back, each
// write and each read costing one KMS request, and the EDK is DB-ESDK's:
// provider "aws-kms", provider information the key ARN.
func TestKMSKeyringRoundTrip(t *testing.T) {
	client, kmsN := testrig.KMS(t)
	kr := newKMSKeyring(t, client, keyA)
	ctx := context.Background()
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			e := encryptor(t, kr, s.id, testActions)
			for i := range 10 {
				item := variedItem(i, "")
				k0 := kmsN.Requests()
				enc, err := e.EncryptItem(ctx, item)
				if err != nil {
					t.Fatal(err)
				}
				edks := headerEDKs(t, enc)
				if len(edks) != 1 || edks[0].ProviderID != "aws-kms" || string(edks[0].ProviderInfo) != keyA {
					t.Fatalf("EDKs %+v, want one of provider aws-kms naming %s", edks, keyA)
				}
				dec, err := e.DecryptItem(ctx, enc)
				if err != nil {
					t.Fatal(err)
				}
				sameItem(t, "decrypted", dec, item)
				if n := kmsN.Requests() - k0; n != 2 {
					t.Errorf("a write and a read made %d KMS requests, want 2", n)
				}
			}
		})
	}
}

// TestKMSKeyringNeedsKeyARN: a key ARN is the only spelling DB-ESDK's EDKs
// carry, so any other is refused at once.
func TestKMSKeyringNeedsKeyARN(t *testing.T) {
	client, _ := testrig.KMS(t)
	for _, id := range []string{"", testrig.KeyA, testrig.KeyAID, testrig.AliasARN(testrig.KeyA), "arn:aws:s3:us-east-1:111122223333:key/" + testrig.KeyAID} {
		if _, err := KMSKeyring(client, id); err == nil {
			t.Errorf("KMSKeyring(%q) accepted", id)
		}
	}
	if _, err := KMSKeyring(nil, keyA); err == nil {
		t.Error("KMSKeyring without a client accepted")
	}
}

// TestKMSKeyringNamesOnlyItsKey: items wrapped under another KMS key, or
// whose EDK names something else than a key ARN, are refused before any KMS
// request (Local), so that forged items cannot have a reader call KMS on a
// key they name.
func TestKMSKeyringNamesOnlyItsKey(t *testing.T) {
	client, kmsN := testrig.KMS(t)
	ctx := context.Background()
	underB, err := encryptor(t, newKMSKeyring(t, client, keyB), suite.SymSig, testActions).EncryptItem(ctx, variedItem(1, ""))
	if err != nil {
		t.Fatal(err)
	}
	kr := newKMSKeyring(t, client, keyA)
	e := encryptor(t, kr, suite.SymSig, testActions)
	notARN := withEDKs(t, underB, func(edks []structure.EDK) {
		edks[0].ProviderInfo = []byte(testrig.KeyA)
	})
	for name, item := range map[string]map[string]types.AttributeValue{"another key": underB, "an alias": notARN} {
		k0 := kmsN.Requests()
		_, err := e.DecryptItem(ctx, item)
		if !isIntegrity(err) || !isLocal(err) {
			t.Errorf("%s: %v, want a local integrity error", name, err)
		}
		if n := kmsN.Requests() - k0; n != 0 {
			t.Errorf("%s: %d KMS requests, want 0", name, n)
		}
		if !kr.unwrapsLocally(nil, headerEDKs(t, item)) {
			t.Errorf("%s: unwrapsLocally is false", name)
		}
	}
}

// TestKMSKeyringForgedCiphertext: an EDK naming the keyring's key with a
// ciphertext KMS did not make costs one KMS request, which the error
// reports (not Local), and is refused as tampering; one too long for KMS to
// have made costs none.
func TestKMSKeyringForgedCiphertext(t *testing.T) {
	client, kmsN := testrig.KMS(t)
	ctx := context.Background()
	e := encryptor(t, newKMSKeyring(t, client, keyA), suite.SymSig, testActions)
	item, err := e.EncryptItem(ctx, variedItem(2, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		blob     int // bytes of KMS ciphertext
		requests int64
	}{{"forged", 200, 1}, {"longer than KMS makes", 6145, 0}} {
		forged := withEDKs(t, item, func(edks []structure.EDK) {
			edks[0].Ciphertext = append(edks[0].Ciphertext[:48:48], randomBytes(c.blob)...)
		})
		k0 := kmsN.Requests()
		_, err := e.DecryptItem(ctx, forged)
		if !isIntegrity(err) || isLocal(err) != (c.requests == 0) {
			t.Errorf("%s: %v, want an integrity error, local %t", c.name, err, c.requests == 0)
		}
		if n := kmsN.Requests() - k0; n != c.requests {
			t.Errorf("%s: %d KMS requests, want %d", c.name, n, c.requests)
		}
		var invalid *kmstypes.InvalidCiphertextException
		if c.requests == 1 && !errors.As(err, &invalid) {
			t.Errorf("%s: %v, want KMS's InvalidCiphertextException", c.name, err)
		}
	}
}

// TestKMSKeyringSealedDataKeyTampered: the data key is sealed under a key
// derived from the intermediate key KMS unwraps, so an EDK whose sealed data
// key is altered does not open, though KMS unwraps its intermediate key.
func TestKMSKeyringSealedDataKeyTampered(t *testing.T) {
	client, kmsN := testrig.KMS(t)
	ctx := context.Background()
	e := encryptor(t, newKMSKeyring(t, client, keyA), suite.SymSig, testActions)
	item, err := e.EncryptItem(ctx, variedItem(3, ""))
	if err != nil {
		t.Fatal(err)
	}
	tampered := withEDKs(t, item, func(edks []structure.EDK) { edks[0].Ciphertext[5] ^= 1 })
	k0 := kmsN.Requests()
	_, err = e.DecryptItem(ctx, tampered)
	if !isIntegrity(err) || !errors.Is(err, keywrap.ErrUnwrap) || isLocal(err) {
		t.Errorf("tampered sealed data key: %v, want ErrIntegrity and ErrUnwrap, after a request", err)
	}
	if n := kmsN.Requests() - k0; n != 1 {
		t.Errorf("%d KMS requests, want 1", n)
	}
}

// withEDKs returns a copy of an encrypted item whose header's EDKs edit
// changed (copies of them). The header's commitment no longer matches, but
// the keyring is asked first: what a forger can do.
func withEDKs(t testing.TB, item map[string]types.AttributeValue, edit func([]structure.EDK)) map[string]types.AttributeValue {
	t.Helper()
	h, err := structure.ParseHeader(item[structure.HeaderAttr].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	edks := make([]structure.EDK, len(h.EDKs))
	for i, edk := range h.EDKs {
		edks[i] = structure.EDK{ProviderID: edk.ProviderID, ProviderInfo: bytes.Clone(edk.ProviderInfo), Ciphertext: bytes.Clone(edk.Ciphertext)}
	}
	edit(edks)
	h.EDKs = edks
	head, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = v
	}
	out[structure.HeaderAttr] = &types.AttributeValueMemberB{Value: head}
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
