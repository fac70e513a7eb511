package itemcrypt

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/header"
)

// TestSealsWriteInPlace: both suites seal into dst's room, after what dst
// holds, without a copy; into a dst without room they give the same bytes
// in a new buffer.
func TestSealsWriteInPlace(t *testing.T) {
	keys := mustDerive(t, bytes.Repeat([]byte{1}, RootKeySize), bytes.Repeat([]byte{2}, 16), mustInfo(t, "users", "u1"))
	itemKey, err := NewItemKey(bytes.Repeat([]byte{1}, RootKeySize), "users")
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{3}, header.NonceSize)
	for name, seal := range map[string]func(dst []byte) []byte{
		"suite 1": func(dst []byte) []byte {
			out, err := keys.Seal(dst, NewField("notes"), &types.AttributeValueMemberS{Value: strings.Repeat("n", 3000)})
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
		"suite 2": func(dst []byte) []byte {
			item, names, encrypted := suite2Item()
			out, _, err := itemKey.Seal(dst, nil, nonce, []byte("hdr"), names, encrypted, item)
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
	} {
		roomy := append(make([]byte, 0, 8192), "head"...)
		inPlace := seal(roomy)
		if &inPlace[0] != &roomy[:1][0] {
			t.Errorf("%s: sealed into a new buffer though dst had room", name)
		}
		tight := seal([]byte("head"))
		if !bytes.HasPrefix(tight, []byte("head")) || !bytes.Equal(inPlace, tight) {
			t.Errorf("%s: sealed %x into dst with room and %x into dst without", name, inPlace, tight)
		}
	}
}

// TestOpensLeaveTheCiphertexts: opening decrypts into a buffer of its own,
// never into the item's ciphertexts, which may be shared (a DB that keeps
// the items it returns, a caller's map passed to UnmarshalItem).
func TestOpensLeaveTheCiphertexts(t *testing.T) {
	k, err := NewItemKey(bytes.Repeat([]byte{1}, RootKeySize), "users")
	if err != nil {
		t.Fatal(err)
	}
	item, names, encrypted := suite2Item()
	nonce := bytes.Repeat([]byte{3}, header.NonceSize)
	tag, err := seal2(k, nonce, nil, names, encrypted, item)
	if err != nil {
		t.Fatal(err)
	}
	sealed := maps.Clone(item)
	want := map[string][]byte{}
	for name := range encrypted {
		want[name] = bytes.Clone(sealed[name].(*types.AttributeValueMemberB).Value)
	}
	if ok, err := k.Open(tag, nonce, nil, names, encrypted, item); !ok || err != nil {
		t.Fatalf("Open: %v, %v", ok, err)
	}
	if ok := k.Authentic(tag, nonce, nil, names, encrypted, sealed); !ok {
		t.Fatal("Authentic: false")
	}
	for name := range encrypted {
		if got := sealed[name].(*types.AttributeValueMemberB).Value; !bytes.Equal(got, want[name]) {
			t.Errorf("%s: Open changed the item's ciphertext to %x", name, got)
		}
	}

	keys := mustDerive(t, bytes.Repeat([]byte{1}, RootKeySize), bytes.Repeat([]byte{2}, 16), mustInfo(t, "users", "u1"))
	f := NewField("token")
	ct, err := keys.Seal(nil, f, &types.AttributeValueMemberB{Value: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(ct)
	if v, err := keys.Open(f, ct); err != nil || !bytes.Equal(v.(*types.AttributeValueMemberB).Value, []byte("secret")) {
		t.Fatalf("suite 1 Open: %#v, %v", v, err)
	}
	if !bytes.Equal(ct, before) {
		t.Error("suite 1 Open changed the ciphertext")
	}
}
