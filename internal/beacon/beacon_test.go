package beacon

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestValue(t *testing.T) {
	key, err := Key(bytes.Repeat([]byte{7}, KeySize), "users", "email", "")
	if err != nil {
		t.Fatal(err)
	}
	ana := &types.AttributeValueMemberS{Value: "ana@example.com"}
	value := func(key []byte, bits int, v types.AttributeValue) string {
		b, err := New(key, bits)
		if err != nil {
			t.Fatal(err)
		}
		s, err := b.Value(v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, bits := range []int{1, 4, 5, 8, 16, 63} {
		if v := value(key, bits, ana); len(v) != (bits+3)/4 {
			t.Errorf("%d bits: %q", bits, v)
		}
	}
	a := value(key, 16, ana)
	b := value(key, 16, Normalize(&types.AttributeValueMemberS{Value: "  Ana@Example.COM "}, true, true))
	c := value(key, 16, Normalize(&types.AttributeValueMemberS{Value: "Ana@Example.com"}, false, true))
	if a != b || a == c {
		t.Errorf("normalised %q and %q should match, unnormalised %q should not", a, b, c)
	}
	other, _ := Key(bytes.Repeat([]byte{7}, KeySize), "users", "phone", "")
	if d := value(other, 16, ana); d == a {
		t.Error("two beacons of one value under different names match")
	}
	acme, _ := Key(bytes.Repeat([]byte{7}, KeySize), "users", "email", "acme")
	globex, _ := Key(bytes.Repeat([]byte{7}, KeySize), "users", "email", "globex")
	if value(acme, 63, ana) == value(globex, 63, ana) || bytes.Equal(acme, key) {
		t.Error("one value has the same beacon under two tenants, or a tenant's key is the table's")
	}
	// The tenant's info, by hand: the table's, then lp(tenant).
	info := "dynacrypt beacon v1\x00\x05users\x00\x05email\x00\x04acme"
	if byHand, _ := hkdf.Key(sha256.New, bytes.Repeat([]byte{7}, KeySize), nil, info, 32); !bytes.Equal(byHand, acme) {
		t.Error("a tenant's beacon key differs from its definition")
	}
	if _, err := New(key, 64); err == nil {
		t.Error("a 64-bit beacon was accepted")
	}
	// The definition, by hand: HMAC, first 8 bytes, low 16 bits, 4 hex digits.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("\x01\x0fana@example.com"))
	want := fmt.Sprintf("%04x", binary.BigEndian.Uint64(m.Sum(nil))&0xffff)
	if a != want {
		t.Errorf("beacon %q, by hand %q", a, want)
	}
}
