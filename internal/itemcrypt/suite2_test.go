package itemcrypt

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
)

func suite2Item() (map[string]types.AttributeValue, []string, map[string]*Field) {
	item := map[string]types.AttributeValue{
		"id":    &types.AttributeValueMemberS{Value: "u1"},
		"name":  &types.AttributeValueMemberS{Value: "ana"},
		"pin":   &types.AttributeValueMemberN{Value: "1234"},
		"notes": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: true}}},
		"token": &types.AttributeValueMemberB{Value: []byte("secret")},
	}
	names := []string{"id", "name", "notes", "pin", "token"}
	encrypted := map[string]*Field{"pin": nil, "notes": nil, "token": nil}
	return item, names, encrypted
}

// seal2 seals item in place as the codec does: each encrypted attribute
// gets its ciphertext, and the tag is returned.
func seal2(k *ItemKey, nonce, hdr []byte, names []string, encrypted map[string]*Field, item map[string]types.AttributeValue) ([]byte, error) {
	sealed, lens, err := k.Seal(nil, nil, nonce, hdr, names, encrypted, item)
	if err != nil {
		return nil, err
	}
	i := 0
	for _, name := range names {
		if _, ok := encrypted[name]; ok {
			item[name] = &types.AttributeValueMemberB{Value: sealed[:lens[i]]}
			sealed = sealed[lens[i]:]
			i++
		}
	}
	if len(sealed) != header.TagSize {
		return nil, fmt.Errorf("%d bytes after the ciphertexts, want the %d-byte tag", len(sealed), header.TagSize)
	}
	return sealed, nil
}

func TestSuite2RoundTrip(t *testing.T) {
	root := make([]byte, RootKeySize)
	rand.Read(root)
	k, err := NewItemKey(root, "users")
	if err != nil {
		t.Fatal(err)
	}
	item, names, encrypted := suite2Item()
	want := maps.Clone(item)
	nonce, hdr := make([]byte, header.NonceSize), []byte("header prefix")
	rand.Read(nonce)
	tag, err := seal2(k, nonce, hdr, names, encrypted, item)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(item["token"].(*types.AttributeValueMemberB).Value, []byte("secret")) {
		t.Fatal("token stored in clear")
	}
	sealed := maps.Clone(item)

	other, _ := NewItemKey(root, "accounts")
	otherRoot := bytes.Clone(root)
	otherRoot[0] ^= 1
	otherKey, _ := NewItemKey(otherRoot, "users")
	otherNonce := bytes.Clone(nonce)
	otherNonce[0] ^= 1
	for name, refuse := range map[string]func() bool{
		"another table's key": func() bool { return other.Authentic(tag, nonce, hdr, names, encrypted, sealed) },
		"another root key":    func() bool { return otherKey.Authentic(tag, nonce, hdr, names, encrypted, sealed) },
		"another nonce":       func() bool { return k.Authentic(tag, otherNonce, hdr, names, encrypted, sealed) },
		"another header":      func() bool { return k.Authentic(tag, nonce, []byte("header prefiX"), names, encrypted, sealed) },
		"token not encrypted": func() bool {
			return k.Authentic(tag, nonce, hdr, names, map[string]*Field{"pin": nil, "notes": nil}, sealed)
		},
		"name encrypted too": func() bool {
			return k.Authentic(tag, nonce, hdr, names, map[string]*Field{"pin": nil, "notes": nil, "token": nil, "name": nil}, sealed)
		},
		"short tag": func() bool { return k.Authentic(tag[:15], nonce, hdr, names, encrypted, sealed) },
	} {
		if refuse() {
			t.Errorf("%s: authentic", name)
		}
	}
	if ok, err := k.Open(tag, nonce, hdr, names, encrypted, item); !ok || err != nil {
		t.Fatalf("Open: %v, %v", ok, err)
	}
	for name, v := range want {
		a, _ := canonical.Append(nil, v)
		b, _ := canonical.Append(nil, item[name])
		if !bytes.Equal(a, b) {
			t.Errorf("%s opened to %#v, want %#v", name, item[name], v)
		}
	}
}

// TestSuite2Concurrent seals and opens with one ItemKey from many
// goroutines, as readers and writers sharing a cached root key do (run
// with -race).
func TestSuite2Concurrent(t *testing.T) {
	k, err := NewItemKey(make([]byte, RootKeySize), "users")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				item, names, encrypted := suite2Item()
				item["pin"] = &types.AttributeValueMemberN{Value: fmt.Sprint(g*1000 + i)}
				nonce := make([]byte, header.NonceSize)
				rand.Read(nonce)
				tag, err := seal2(k, nonce, nil, names, encrypted, item)
				if err != nil {
					errs <- err
					return
				}
				if ok, err := k.Open(tag, nonce, nil, names, encrypted, item); !ok || err != nil {
					errs <- fmt.Errorf("open: %v, %v", ok, err)
					return
				}
				if n := item["pin"].(*types.AttributeValueMemberN).Value; n != fmt.Sprint(g*1000+i) {
					errs <- fmt.Errorf("pin %s, want %d", n, g*1000+i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
