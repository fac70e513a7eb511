package keystore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"testing"

	"github.com/dynacrypt/dynacrypt"
)

// formatVectors reads the `keystore_name = hex` lines of FORMAT.md §11.
func formatVectors(t *testing.T) map[string][]byte {
	doc, err := os.ReadFile("../FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, m := range regexp.MustCompile(`(?m)^keystore_([a-z_]+) += ([0-9a-f]+)$`).FindAllSubmatch(doc, -1) {
		b, err := hex.DecodeString(string(m[2]))
		if err != nil {
			t.Fatalf("FORMAT.md keystore_%s: %v", m[1], err)
		}
		out[string(m[1])] = b
	}
	return out
}

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// TestFormatVector recomputes the vector of FORMAT.md §11 by hand, with the
// standard library and the steps the document gives, and checks both the
// document and the implementation against it, so that neither drifts.
func TestFormatVector(t *testing.T) {
	v := formatVectors(t)
	for _, name := range []string{"branch_key", "salt", "info", "kek", "wrapped"} {
		if v[name] == nil {
			t.Fatalf("FORMAT.md has no keystore_%s vector", name)
		}
	}
	branchKey, salt, root := seq(0x40, 32), seq(0xb0, 16), seq(0x00, 32)
	if !bytes.Equal(v["branch_key"], branchKey) || !bytes.Equal(v["salt"], salt) {
		t.Fatal("FORMAT.md inputs differ from the test's")
	}
	const id, version = "acme", "000102030405060708090a0b0c0d0e0f"
	ec := map[string]string{"dynacrypt-table": "users"}

	// By hand.
	lp := func(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }
	var info []byte
	info = append(info, "dynacrypt keystore wrap v1"...)
	info = append(info, lp(id)...)
	info = append(info, lp(version)...)
	info = append(info, 0x00, 0x01) // one pair
	info = append(info, lp("dynacrypt-table")...)
	info = append(info, lp("users")...)
	kek, err := hkdf.Key(sha256.New, branchKey, salt, string(info), 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = append(want, 0x10)
	want = append(want, lp(id)...)
	want = append(want, lp(version)...)
	want = append(want, salt...)
	want = gcm.Seal(want, make([]byte, 12), root, info)
	for name, got := range map[string][]byte{"info": info, "kek": kek, "wrapped": want} {
		if !bytes.Equal(v[name], got) {
			t.Errorf("FORMAT.md keystore_%s differs from the steps it gives:\n doc  %x\n hand %x", name, v[name], got)
		}
	}
	if len(want) != 105 || len(want) != WrappedSize(id) {
		t.Errorf("wrapped root is %d bytes, WrappedSize says %d, FORMAT.md 105", len(want), WrappedSize(id))
	}

	// The implementation.
	gotInfo, err := appendInfo(nil, id, version, ec)
	if err != nil || !bytes.Equal(gotInfo, info) {
		t.Errorf("appendInfo: %x, %v", gotInfo, err)
	}
	got, err := wrap(branchKey, id, version, salt, root, ec)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("wrap:\n got  %x\n want %x (%v)", got, want, err)
	}
	w, err := parseWrapped(got)
	if err != nil || w.id != id || w.version != version || !bytes.Equal(w.salt, salt) {
		t.Fatalf("parseWrapped: %+v, %v", w, err)
	}
	opened, err := unwrap(branchKey, w, ec)
	if err != nil || !bytes.Equal(opened, root) {
		t.Fatalf("unwrap: %x, %v", opened, err)
	}
}

// TestContextCanonical: the encryption context is bound in one order
// whatever the map's, with the number of pairs, so that no two contexts
// share an info.
func TestContextCanonical(t *testing.T) {
	a, _ := appendInfo(nil, "id", "v", map[string]string{"b": "2", "a": "1", "c": ""})
	b, _ := appendInfo(nil, "id", "v", map[string]string{"c": "", "a": "1", "b": "2"})
	if !bytes.Equal(a, b) {
		t.Error("context order changes the info")
	}
	distinct := map[string]bool{}
	for _, ec := range []map[string]string{
		nil,
		{"": ""},
		{"a": ""},
		{"": "a"},
		{"a": "b"},
		{"ab": ""},
		{"a": "", "b": ""},
	} {
		info, err := appendInfo(nil, "id", "v", ec)
		if err != nil {
			t.Fatal(err)
		}
		if distinct[string(info)] {
			t.Errorf("context %v shares its info with another", ec)
		}
		distinct[string(info)] = true
	}
}

// TestParseWrappedRefuses: every malformed or foreign wrapped root is
// refused as an integrity failure, by parsing alone.
func TestParseWrappedRefuses(t *testing.T) {
	good, err := wrap(seq(0x40, 32), "acme", "000102030405060708090a0b0c0d0e0f", seq(0xb0, 16), seq(0, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":            nil,
		"AESCipher format": edit(func(b []byte) []byte { b[0] = 0x01; return b }),
		"KMSCipher format": edit(func(b []byte) []byte { b[0] = 0x02; return b }),
		"truncated":        good[:len(good)-1],
		"extended":         append(bytes.Clone(good), 0),
		"id length":        edit(func(b []byte) []byte { b[2]++; return b }),
		"huge id length":   edit(func(b []byte) []byte { b[1] = 0xff; return b }),
		"empty id":         append([]byte{0x10, 0, 0}, good[7:]...),
		"upper-case hex":   edit(func(b []byte) []byte { b[9] = 'A'; return b }),
		"short version":    append([]byte{0x10, 0, 4, 'a', 'c', 'm', 'e', 0, 31}, good[10:]...),
		"invalid UTF-8 id": edit(func(b []byte) []byte { b[3] = 0xff; return b }),
	}
	for name, b := range cases {
		if _, err := parseWrapped(b); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
		if _, _, ok := WrappedBy(b); ok {
			t.Errorf("%s: WrappedBy accepts it", name)
		}
	}
	if id, version, ok := WrappedBy(good); !ok || id != "acme" || version != "000102030405060708090a0b0c0d0e0f" {
		t.Errorf("WrappedBy: %q %q %v", id, version, ok)
	}
}
