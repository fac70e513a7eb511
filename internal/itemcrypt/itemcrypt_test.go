package itemcrypt

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	mrand "math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func mustInfo(t *testing.T, table, id string) []byte {
	t.Helper()
	info, err := AppendInfo(nil, table, []KeyAttr{{Name: "id", Value: &types.AttributeValueMemberS{Value: id}}})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func mustDerive(t *testing.T, root, salt, info []byte) *Keys {
	t.Helper()
	k, err := Derive(root, salt, info)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Release)
	return k
}

func TestSealOpenBinding(t *testing.T) {
	root, salt := bytes.Repeat([]byte{1}, RootKeySize), bytes.Repeat([]byte{2}, 16)
	keys := mustDerive(t, root, salt, mustInfo(t, "users", "u1"))
	token := NewField("token")
	v := &types.AttributeValueMemberS{Value: "secret"}
	sealed, err := keys.Seal(nil, token, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 1+1+len("secret")+Overhead {
		t.Errorf("sealed %d bytes", len(sealed))
	}
	got, err := keys.Open(token, sealed)
	if err != nil || got.(*types.AttributeValueMemberS).Value != "secret" {
		t.Fatalf("Open: %#v, %v", got, err)
	}

	card := NewField("card")
	otherNonce := &Field{Name: "token", Nonce: card.Nonce, aad: []byte("token")}
	for name, open := range map[string]func() (types.AttributeValue, error){
		"other attribute name": func() (types.AttributeValue, error) { return keys.Open(card, sealed) },
		"other nonce only":     func() (types.AttributeValue, error) { return keys.Open(otherNonce, sealed) },
		"other item key": func() (types.AttributeValue, error) {
			return mustDerive(t, root, salt, mustInfo(t, "users", "u2")).Open(token, sealed)
		},
		"other table": func() (types.AttributeValue, error) {
			return mustDerive(t, root, salt, mustInfo(t, "users2", "u1")).Open(token, sealed)
		},
		"other salt": func() (types.AttributeValue, error) {
			return mustDerive(t, root, bytes.Repeat([]byte{3}, 16), mustInfo(t, "users", "u1")).Open(token, sealed)
		},
		"other root": func() (types.AttributeValue, error) {
			return mustDerive(t, bytes.Repeat([]byte{9}, RootKeySize), salt, mustInfo(t, "users", "u1")).Open(token, sealed)
		},
	} {
		if v, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open gave %#v, %v; want ErrOpen", name, v, err)
		}
	}
}

func TestNoncesDiffer(t *testing.T) {
	seen := map[[NonceSize]byte]string{}
	for _, name := range []string{"a", "b", "token", "Token", "token ", "card", ""} {
		n := NewField(name).Nonce
		if prev, dup := seen[n]; dup {
			t.Errorf("names %q and %q share a nonce", prev, name)
		}
		seen[n] = name
	}
}

func TestInfoIsUnambiguous(t *testing.T) {
	a, _ := AppendInfo(nil, "ab", []KeyAttr{{Name: "c", Value: &types.AttributeValueMemberS{Value: "d"}}})
	b, _ := AppendInfo(nil, "a", []KeyAttr{{Name: "bc", Value: &types.AttributeValueMemberS{Value: "d"}}})
	c, _ := AppendInfo(nil, "ab", []KeyAttr{{Name: "c", Value: &types.AttributeValueMemberN{Value: "1"}}})
	d, _ := AppendInfo(nil, "ab", []KeyAttr{{Name: "c", Value: &types.AttributeValueMemberS{Value: "1"}}})
	if bytes.Equal(a, b) || bytes.Equal(c, d) {
		t.Error("different tables, names or key types give the same info")
	}
}

func TestSignCoversEveryNamedAttribute(t *testing.T) {
	keys := mustDerive(t, bytes.Repeat([]byte{1}, RootKeySize), bytes.Repeat([]byte{2}, 16), mustInfo(t, "t", "k"))
	item := func(b types.AttributeValue) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"a": &types.AttributeValueMemberS{Value: "x"}, "b": b}
	}
	one := &types.AttributeValueMemberN{Value: "1"}
	base, err := keys.Sign(nil, []byte("hdr"), []string{"a", "b"}, item(one))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		header string
		names  []string
		item   map[string]types.AttributeValue
	}{
		"header": {"hdR", []string{"a", "b"}, item(one)},
		"fewer":  {"hdr", []string{"a"}, item(one)},
		"value":  {"hdr", []string{"a", "b"}, item(&types.AttributeValueMemberN{Value: "2"})},
		"type":   {"hdr", []string{"a", "b"}, item(&types.AttributeValueMemberS{Value: "1"})},
	} {
		mac, err := keys.Sign(nil, []byte(tc.header), tc.names, tc.item)
		if err != nil || bytes.Equal(mac, base) {
			t.Errorf("%s changed but the signature did not (%v)", name, err)
		}
	}
	if again, _ := keys.Sign(nil, []byte("hdr"), []string{"a", "b"}, item(&types.AttributeValueMemberN{Value: "1.0"})); !bytes.Equal(again, base) {
		t.Error("an equal number in another form changed the signature")
	}
	if _, err := Derive([]byte("short"), nil, nil); err == nil {
		t.Error("Derive accepted a short root key")
	}
}

// TestHMACMatchesStandardLibrary checks the HMAC and HKDF composed by hand
// in hmac.go against crypto/hmac and crypto/hkdf on random inputs, with the
// state reused from one key to the next as Keys reuse it.
func TestHMACMatchesStandardLibrary(t *testing.T) {
	h := newHMAC()
	rnd := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i := 0; i < 2000; i++ {
		key, msg := rnd(mrand.IntN(65)), rnd(mrand.IntN(300))
		h.reset(key)
		h.write(msg[:len(msg)/2])
		h.write(msg[len(msg)/2:])
		got := h.sum(nil)
		std := hmac.New(sha256.New, key)
		std.Write(msg)
		if want := std.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("HMAC of %d bytes under a %d-byte key:\n got %x\nwant %x", len(msg), len(key), got, want)
		}

		secret, salt, info := rnd(1+mrand.IntN(64)), rnd(mrand.IntN(65)), rnd(mrand.IntN(200))
		okm := make([]byte, 1+mrand.IntN(100))
		h.hkdf(okm, secret, salt, info)
		want, err := hkdf.Key(sha256.New, secret, salt, string(info), len(okm))
		if err != nil || !bytes.Equal(okm, want) {
			t.Fatalf("HKDF of %d bytes (secret %d, salt %d, info %d):\n got %x\nwant %x (%v)",
				len(okm), len(secret), len(salt), len(info), okm, want, err)
		}
	}
}

// TestProbeTagAsSpecified: ProbeTag is FORMAT.md §7's HMAC-SHA-256 under
// the HKDF of the root key with the probe label, table and suite, written
// out here with the standard library; another root, table or probe gives
// another tag.
func TestProbeTagAsSpecified(t *testing.T) {
	root, other := make([]byte, RootKeySize), make([]byte, RootKeySize)
	rand.Read(root)
	rand.Read(other)
	info := append([]byte("dynacrypt/v1 lookup probe\x00\x01"), 5) // lp(table): uvarint length
	info = append(info, "users"...)
	key, err := hkdf.Key(sha256.New, root, nil, string(info), 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("probe"))
	tag := func(root []byte, table, probe string) []byte {
		t.Helper()
		b, err := ProbeTag(root, table, []byte(probe))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got := tag(root, "users", "probe")
	if !bytes.Equal(got, mac.Sum(nil)) {
		t.Fatalf("ProbeTag %x, want %x", got, mac.Sum(nil))
	}
	for name, b := range map[string][]byte{
		"another root": tag(other, "users", "probe"), "another table": tag(root, "user", "probe"), "another probe": tag(root, "users", "probf"),
	} {
		if bytes.Equal(b, got) {
			t.Errorf("%s gives the same tag", name)
		}
	}
}
