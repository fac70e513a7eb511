package dbesdk

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

func rawAES(t testing.TB) *Keyring {
	t.Helper()
	kr, err := RawAESKeyring("ns", "recovery", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestMultiKeyringWrapsUnderEach: an item a multi-keyring writes holds one
// EDK per keyring, and each keyring alone reads it; reading tries the
// keyrings in order, so one that needs no request first costs none.
func TestMultiKeyringWrapsUnderEach(t *testing.T) {
	client, kmsN := testrig.KMS(t)
	kmsA, aes := newKMSKeyring(t, client, keyA), rawAES(t)
	multi, err := MultiKeyring(kmsA, aes)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	item, err := encryptor(t, multi, suite.SymSig, testActions).EncryptItem(ctx, variedItem(4, ""))
	if err != nil {
		t.Fatal(err)
	}
	if edks := headerEDKs(t, item); len(edks) != 2 || edks[0].ProviderID != KMSProviderID || edks[1].ProviderID != "ns" {
		t.Fatalf("EDKs %+v, want the KMS keyring's then the raw AES keyring's", edks)
	}
	aesFirst, err := MultiKeyring(aes, kmsA)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		kr       *Keyring
		requests int64
	}{{"KMS keyring", kmsA, 1}, {"raw AES keyring", aes, 0}, {"the multi-keyring", multi, 1}, {"raw AES first", aesFirst, 0}} {
		k0 := kmsN.Requests()
		dec, err := encryptor(t, c.kr, suite.SymSig, testActions).DecryptItem(ctx, item)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sameItem(t, c.name, dec, variedItem(4, ""))
		if n := kmsN.Requests() - k0; n != c.requests {
			t.Errorf("%s: %d KMS requests, want %d", c.name, n, c.requests)
		}
	}
	if multi.unwrapsLocally(nil, headerEDKs(t, item)) || !aes.unwrapsLocally(nil, headerEDKs(t, item)) {
		t.Error("unwrapsLocally: a multi-keyring with a KMS keyring whose key the item names must not; a raw AES keyring must")
	}
}

// TestMultiKeyringRefusalCost: a multi-keyring's refusal is local only when
// no keyring of it made a request, whichever keyrings refused before or
// after the one that did.
func TestMultiKeyringRefusalCost(t *testing.T) {
	client, kmsN := testrig.KMS(t)
	multi, err := MultiKeyring(newKMSKeyring(t, client, keyB), newKMSKeyring(t, client, keyA), rawAES(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other, err := RawAESKeyring("ns", "another", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	underOther, err := encryptor(t, other, suite.SymSig, testActions).EncryptItem(ctx, variedItem(5, ""))
	if err != nil {
		t.Fatal(err)
	}
	forgedA := withEDKs(t, underOther, func(edks []structure.EDK) {
		edks[0] = structure.EDK{ProviderID: KMSProviderID, ProviderInfo: []byte(keyA), Ciphertext: randomBytes(48 + 200)}
	})
	e := encryptor(t, multi, suite.SymSig, testActions)
	for _, c := range []struct {
		name     string
		item     map[string]types.AttributeValue
		requests int64
	}{{"an item of another key", underOther, 0}, {"an EDK naming our key that KMS refuses", forgedA, 1}} {
		k0 := kmsN.Requests()
		_, err := e.DecryptItem(ctx, c.item)
		local := c.requests == 0
		if isLocal(err) != local {
			t.Errorf("%s: %v, want local %t", c.name, err, local)
		}
		if n := kmsN.Requests() - k0; n != c.requests {
			t.Errorf("%s: %d KMS requests, want %d", c.name, n, c.requests)
		}
		if multi.unwrapsLocally(nil, headerEDKs(t, c.item)) != local {
			t.Errorf("%s: unwrapsLocally is %t", c.name, !local)
		}
	}
}

// TestMultiKeyringOracle: DB-ESDK reads what our multi-keyring of a branch
// key and a KMS key writes with either keyring alone.
func TestMultiKeyringOracle(t *testing.T) {
	o := testrig.NewOracle(t)
	r := newRig(t)
	id := r.create("", nil)
	client, _ := testrig.KMS(t)
	multi, err := MultiKeyring(r.hierarchical(id), newKMSKeyring(t, client, keyB))
	if err != nil {
		t.Fatal(err)
	}
	items := encryptAll(t, encryptor(t, multi, suite.SymSig, testActions), 20, "")
	for _, keyring := range []map[string]any{testrig.OracleHierarchy(r.table, logicalName, keyA, id), testrig.OracleKMS(keyB)} {
		back := o.DecryptAll(t, testConfig(suite.ECDSASymSig, testActions, keyring), items)
		for i := range back {
			sameItem(t, "decrypted by DB-ESDK", back[i], variedItem(i, ""))
		}
	}
}
