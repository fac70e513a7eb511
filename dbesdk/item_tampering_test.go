package dbesdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// tamperStore returns a Store that writes DB-ESDK items in suite s with a
// keyring that stands for a key service, the keyring, and a sealed item
// and another of the same key.
func tamperStore(t *testing.T, s dbesdk.Suite) (*dynacrypt.Store[Profile], *remoteKeyring, map[string]types.AttributeValue, map[string]types.AttributeValue) {
	t.Helper()
	remote, kr := newRemote(t, newKey(t))
	store := mustNew[Profile](t, unusedDB{}, "profiles", dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithUnsignedAttributes("hits"), dynacrypt.WithUnwrapLimit(1000, 1), dbesdk.Format(kr, dbesdk.WithSuite(s)))
	g := newGen(7)
	p := newProfile(g, 1)
	p.Email = secret
	item, err := store.MarshalItem(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	other, err := store.MarshalItem(context.Background(), newProfile(g, 1))
	if err != nil {
		t.Fatal(err)
	}
	return store, remote, item, other
}

const secret = "the-secret@example.com"

// unusedDB is a DB for Stores whose tests make no request.
type unusedDB struct{ dynacrypt.DB }

// refusedRead reads item through the Store and fails the test unless it
// is refused with ErrIntegrity, without the plaintext in the error; it
// returns the unwraps the read cost.
func refusedRead(t *testing.T, store *dynacrypt.Store[Profile], remote *remoteKeyring, item map[string]types.AttributeValue, what string) int64 {
	t.Helper()
	before := remote.unwraps.Load()
	_, err := store.UnmarshalItem(context.Background(), item)
	switch {
	case err == nil:
		t.Fatalf("%s: read, want a refusal", what)
	case !errors.Is(err, dynacrypt.ErrIntegrity):
		t.Fatalf("%s: %v, want ErrIntegrity", what, err)
	case strings.Contains(err.Error(), secret):
		t.Fatalf("%s: the error quotes the plaintext: %v", what, err)
	}
	return remote.unwraps.Load() - before
}

// withB returns a copy of item with attribute name the binary b.
func withB(item map[string]types.AttributeValue, name string, b []byte) map[string]types.AttributeValue {
	out := maps.Clone(item)
	out[name] = &types.AttributeValueMemberB{Value: b}
	return out
}

// TestTamperedDBESDKItemsRefused: a Store refuses DB-ESDK items altered in
// storage (signed attributes swapped, removed, added or changed, headers
// and footers from another item, headers of both formats), each with
// ErrIntegrity, and does so before asking the keyring (before a KMS
// request, for a KMS keyring) for everything it can check without the data
// key: the item's form in both suites, and in the signed suite every byte
// of the header, of the signature and of the ciphertexts too.
func TestTamperedDBESDKItemsRefused(t *testing.T) {
	for _, s := range []dbesdk.Suite{dbesdk.SuiteSymSig, dbesdk.SuiteECDSASymSig} {
		t.Run(suiteName(s), func(t *testing.T) {
			store, remote, item, other := tamperStore(t, s)
			if _, err := store.UnmarshalItem(context.Background(), item); err != nil {
				t.Fatal(err)
			}
			structural := map[string]func(m map[string]types.AttributeValue){
				"signed attribute removed":    func(m map[string]types.AttributeValue) { delete(m, "name") },
				"encrypted attribute removed": func(m map[string]types.AttributeValue) { delete(m, "email") },
				"signed attribute added":      func(m map[string]types.AttributeValue) { m["extra"] = &types.AttributeValueMemberS{Value: "x"} },
				"header removed":              func(m map[string]types.AttributeValue) { delete(m, "aws_dbe_head") },
				"footer removed":              func(m map[string]types.AttributeValue) { delete(m, "aws_dbe_foot") },
				"header made a string":        func(m map[string]types.AttributeValue) { m["aws_dbe_head"] = &types.AttributeValueMemberS{Value: "x"} },
				"ciphertext made a string":    func(m map[string]types.AttributeValue) { m["email"] = &types.AttributeValueMemberS{Value: "x"} },
				"a dynacrypt header added":    func(m map[string]types.AttributeValue) { m["_dynacrypt"] = m["aws_dbe_head"] },
				"footer truncated": func(m map[string]types.AttributeValue) {
					f := m["aws_dbe_foot"].(*types.AttributeValueMemberB).Value
					m["aws_dbe_foot"] = &types.AttributeValueMemberB{Value: f[:len(f)-1]}
				},
			}
			for name, mutate := range structural {
				m := maps.Clone(item)
				mutate(m)
				if n := refusedRead(t, store, remote, m, name); n != 0 {
					t.Errorf("%s: refused after %d unwraps, want none", name, n)
				}
			}
			crypto := map[string]func(m map[string]types.AttributeValue){
				"encrypted attributes swapped": func(m map[string]types.AttributeValue) { m["email"], m["blob"] = m["blob"], m["email"] },
				"signed attributes swapped":    func(m map[string]types.AttributeValue) { m["name"], m["age"] = m["age"], m["name"] },
				"signed value changed":         func(m map[string]types.AttributeValue) { m["age"] = &types.AttributeValueMemberN{Value: "200"} },
				"ciphertext from another item": func(m map[string]types.AttributeValue) { m["email"] = other["email"] },
				"header from another item":     func(m map[string]types.AttributeValue) { m["aws_dbe_head"] = other["aws_dbe_head"] },
				"footer from another item":     func(m map[string]types.AttributeValue) { m["aws_dbe_foot"] = other["aws_dbe_foot"] },
				"header and footer from another item": func(m map[string]types.AttributeValue) {
					m["aws_dbe_head"], m["aws_dbe_foot"] = other["aws_dbe_head"], other["aws_dbe_foot"]
				},
			}
			unwraps := int64(0)
			for name, mutate := range crypto {
				m := maps.Clone(item)
				mutate(m)
				unwraps += refusedRead(t, store, remote, m, name)
			}
			// Every byte of the header, the footer and each ciphertext
			// (under -short every 7th: internal/dbesdk/structure's tests
			// flip every bit of them, without a Store).
			step := 1
			if testing.Short() {
				step = 7
			}
			tags := int64(0)
			foot := item["aws_dbe_foot"].(*types.AttributeValueMemberB).Value
			for _, name := range []string{"aws_dbe_head", "aws_dbe_foot", "email", "score", "tags", "blob", "address"} {
				orig := item[name].(*types.AttributeValueMemberB).Value
				for i := 0; i < len(orig); i += step {
					b := bytes.Clone(orig)
					b[i] ^= 0x01
					n := refusedRead(t, store, remote, withB(item, name, b), fmt.Sprintf("%s byte %d", name, i))
					if name == "aws_dbe_foot" && i < len(foot)-signatureSize(s) {
						tags += n // a recipient tag: only the data key tells
						continue
					}
					unwraps += n
				}
			}
			if s == dbesdk.SuiteECDSASymSig && unwraps != 0 {
				t.Errorf("refusing tampered items of the signed suite took %d unwraps, want none but the recipient tags'", unwraps)
			}
			t.Logf("suite %s: %d unwraps for the tampered items the signature does not cover, %d for recipient tags", suiteName(s), unwraps, tags)
		})
	}
}

// signatureSize is the length of a suite's footer signature.
func signatureSize(s dbesdk.Suite) int {
	if s == dbesdk.SuiteECDSASymSig {
		return 103
	}
	return 0
}
