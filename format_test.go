package dynacrypt

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// vectorCodec and vectorItem are test vector 1 of FORMAT.md.
func vectorCodec() *codec {
	return &codec{
		logical:    "users",
		headerAttr: DefaultHeaderAttribute,
		keyAttrs:   []string{"id"},
		encrypted:  map[string]*itemcrypt.Field{"token": itemcrypt.NewField("token")},
		unsigned:   map[string]bool{},
	}
}

func vectorItem() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"id":       &types.AttributeValueMemberS{Value: "u1"},
		"username": &types.AttributeValueMemberS{Value: "ana"},
		"token":    &types.AttributeValueMemberS{Value: "s3cret"},
		"version":  &types.AttributeValueMemberN{Value: "1"},
	}
}

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// formatVectors reads the `name = hex` lines of FORMAT.md.
func formatVectors(t *testing.T) map[string][]byte {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, m := range regexp.MustCompile(`(?m)^(v2_[a-z_]+|[a-z_]+) += ([0-9a-f]+)$`).FindAllSubmatch(doc, -1) {
		b, err := hex.DecodeString(string(m[2]))
		if err != nil {
			t.Fatalf("FORMAT.md %s: %v", m[1], err)
		}
		out[string(m[1])] = b
	}
	return out
}

// TestFormatVectors checks the implementation against FORMAT.md byte for
// byte, and recomputes the vector from the steps FORMAT.md describes using
// only the standard library, so that code and document cannot drift apart.
func TestFormatVectors(t *testing.T) {
	v := formatVectors(t)
	for _, name := range []string{"root", "salt", "wrapped", "info", "okm", "nonce", "token", "header"} {
		if v[name] == nil {
			t.Fatalf("FORMAT.md has no %q vector", name)
		}
	}
	if !bytes.Equal(v["root"], seq(0x00, 32)) || !bytes.Equal(v["salt"], seq(0xa0, 16)) || string(v["wrapped"]) != "wrapped-root-key" {
		t.Fatal("FORMAT.md inputs differ from the test's")
	}

	// The implementation.
	item := vectorItem()
	if err := vectorCodec().sealWith(v["root"], v["wrapped"], v["salt"], item); err != nil {
		t.Fatal(err)
	}
	if got := item["token"].(*types.AttributeValueMemberB).Value; !bytes.Equal(got, v["token"]) {
		t.Errorf("token:\n got %x\nwant %x", got, v["token"])
	}
	if got := item[DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value; !bytes.Equal(got, v["header"]) {
		t.Errorf("header:\n got %x\nwant %x", got, v["header"])
	}

	// The document's steps, by hand.
	info := []byte("dynacrypt/v1 item keys\x00\x01" + "\x05users" + "\x01" + "\x02id" + "\x01\x02u1")
	if !bytes.Equal(info, v["info"]) {
		t.Errorf("info:\n got %x\nwant %x", info, v["info"])
	}
	okm, err := hkdf.Key(sha256.New, v["root"], v["salt"], string(info), 64)
	if err != nil || !bytes.Equal(okm, v["okm"]) {
		t.Fatalf("okm:\n got %x (%v)\nwant %x", okm, err, v["okm"])
	}
	nonceSum := sha256.Sum256([]byte("dynacrypt/v1 nonce\x00token"))
	if !bytes.Equal(nonceSum[:12], v["nonce"]) {
		t.Errorf("nonce:\n got %x\nwant %x", nonceSum[:12], v["nonce"])
	}
	block, _ := aes.NewCipher(okm[:32])
	gcm, _ := cipher.NewGCM(block)
	token := gcm.Seal(nil, nonceSum[:12], []byte("\x01\x06s3cret"), []byte("token"))
	if !bytes.Equal(token, v["token"]) {
		t.Errorf("token by hand:\n got %x\nwant %x", token, v["token"])
	}
	signed := append([]byte{1, 1}, v["salt"]...)
	signed = append(signed, 0, byte(len(v["wrapped"])))
	signed = append(signed, v["wrapped"]...)
	mac := hmac.New(sha256.New, okm[32:])
	mac.Write(signed)
	mac.Write([]byte("\x02id\x01\x02u1"))
	mac.Write(append([]byte("\x05token\x03"), append([]byte{byte(len(token))}, token...)...))
	mac.Write([]byte("\x08username\x01\x03ana"))
	mac.Write([]byte("\x07version\x02\x011"))
	if want := append(signed, mac.Sum(nil)...); !bytes.Equal(want, v["header"]) {
		t.Errorf("header by hand:\n got %x\nwant %x", want, v["header"])
	}
}

// TestFormatVectorsV2 is TestFormatVectors for vector 2 of FORMAT.md: the
// item of vector 1 in suite 2.
func TestFormatVectorsV2(t *testing.T) {
	v := formatVectors(t)
	for _, name := range []string{"v2_nonce", "v2_item_key", "v2_aad", "v2_token", "v2_header"} {
		if v[name] == nil {
			t.Fatalf("FORMAT.md has no %q vector", name)
		}
	}
	if !bytes.Equal(v["v2_nonce"], seq(0xb0, 12)) {
		t.Fatal("FORMAT.md inputs differ from the test's")
	}

	// The implementation.
	key, err := itemcrypt.NewItemKey(v["root"], "users")
	if err != nil {
		t.Fatal(err)
	}
	item := vectorItem()
	if err := vectorCodec().sealV2(key, v["wrapped"], v["v2_nonce"], item); err != nil {
		t.Fatal(err)
	}
	if got := item["token"].(*types.AttributeValueMemberB).Value; !bytes.Equal(got, v["v2_token"]) {
		t.Errorf("v2_token:\n got %x\nwant %x", got, v["v2_token"])
	}
	if got := item[DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value; !bytes.Equal(got, v["v2_header"]) {
		t.Errorf("v2_header:\n got %x\nwant %x", got, v["v2_header"])
	}

	// The document's steps, by hand.
	itemKey, err := hkdf.Key(sha256.New, v["root"], nil, "dynacrypt/v2 item key\x00\x02\x05users", 32)
	if err != nil || !bytes.Equal(itemKey, v["v2_item_key"]) {
		t.Fatalf("v2_item_key:\n got %x (%v)\nwant %x", itemKey, err, v["v2_item_key"])
	}
	signed := append([]byte{1, 2}, v["v2_nonce"]...)
	signed = append(signed, 0, byte(len(v["wrapped"])))
	signed = append(signed, v["wrapped"]...)
	plaintext := []byte("\x01\x06s3cret")
	aad := append(bytes.Clone(signed), "\x02id\x01\x02u1"+
		"\x05token\xff"+string(rune(len(plaintext)))+
		"\x08username\x01\x03ana"+
		"\x07version\x02\x011"...)
	if !bytes.Equal(aad, v["v2_aad"]) {
		t.Errorf("v2_aad:\n got %x\nwant %x", aad, v["v2_aad"])
	}
	block, _ := aes.NewCipher(itemKey)
	gcm, _ := cipher.NewGCM(block)
	sealed := gcm.Seal(nil, v["v2_nonce"], plaintext, aad)
	token, tag := sealed[:len(plaintext)], sealed[len(plaintext):]
	if !bytes.Equal(token, v["v2_token"]) {
		t.Errorf("v2_token by hand:\n got %x\nwant %x", token, v["v2_token"])
	}
	if want := append(signed, tag...); !bytes.Equal(want, v["v2_header"]) {
		t.Errorf("v2_header by hand:\n got %x\nwant %x", want, v["v2_header"])
	}
}

// fixedCipher unwraps any ciphertext to one root key, to open the vector.
type fixedCipher struct{ root []byte }

func (c fixedCipher) Encrypt(context.Context, []byte, map[string]string) ([]byte, error) {
	panic("not used")
}

func (c fixedCipher) Decrypt(context.Context, []byte, map[string]string) ([]byte, error) {
	return bytes.Clone(c.root), nil
}

func TestFormatVectorOpens(t *testing.T) {
	v := formatVectors(t)
	c := vectorCodec()
	cfg := defaultConfig()
	var err error
	if c.ring, err = newRing(fixedCipher{v["root"]}, "users", &cfg, nil); err != nil {
		t.Fatal(err)
	}
	item := map[string]types.AttributeValue{
		"id":                   &types.AttributeValueMemberS{Value: "u1"},
		"username":             &types.AttributeValueMemberS{Value: "ana"},
		"token":                &types.AttributeValueMemberB{Value: v["token"]},
		"version":              &types.AttributeValueMemberN{Value: "1"},
		DefaultHeaderAttribute: &types.AttributeValueMemberB{Value: v["header"]},
	}
	if err := c.open(context.Background(), item, false); err != nil {
		t.Fatal(err)
	}
	if s, ok := item["token"].(*types.AttributeValueMemberS); !ok || s.Value != "s3cret" {
		t.Fatalf("vector opened to %#v", item["token"])
	}
	item = map[string]types.AttributeValue{
		"id":                   &types.AttributeValueMemberS{Value: "u1"},
		"username":             &types.AttributeValueMemberS{Value: "ana"},
		"token":                &types.AttributeValueMemberB{Value: v["v2_token"]},
		"version":              &types.AttributeValueMemberN{Value: "1"},
		DefaultHeaderAttribute: &types.AttributeValueMemberB{Value: v["v2_header"]},
	}
	if err := c.open(context.Background(), item, false); err != nil {
		t.Fatal(err)
	}
	if s, ok := item["token"].(*types.AttributeValueMemberS); !ok || s.Value != "s3cret" {
		t.Fatalf("vector 2 opened to %#v", item["token"])
	}
}

// manifestItem is the legacy item of FORMAT.md's manifest vector.
func manifestItem() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"id":       &types.AttributeValueMemberS{Value: "u1"},
		"username": &types.AttributeValueMemberS{Value: "ana"},
		"token":    &types.AttributeValueMemberB{Value: []byte("legacy-kms-blob")},
	}
}

// TestManifestVectors checks the legacy manifest vector of FORMAT.md, from
// the implementation and by hand.
func TestManifestVectors(t *testing.T) {
	v := formatVectors(t)
	if v["legacy_digest"] == nil || v["manifest"] == nil {
		t.Fatal("FORMAT.md has no legacy_digest or manifest vector")
	}
	d, err := legacyDigest(vectorCodec(), manifestItem())
	if err != nil || !bytes.Equal(d[:], v["legacy_digest"]) {
		t.Errorf("legacy_digest:\n got %x (%v)\nwant %x", d, err, v["legacy_digest"])
	}
	m, err := sealManifestWith("users", v["root"], v["wrapped"], v["salt"], [][digestSize]byte{d})
	if err != nil || !bytes.Equal(m, v["manifest"]) {
		t.Errorf("manifest:\n got %x (%v)\nwant %x", m, err, v["manifest"])
	}

	// By hand.
	item := []byte("\x0a\x03" + "\x02id\x01\x02u1" + "\x05token\x03\x0flegacy-kms-blob" + "\x08username\x01\x03ana")
	sum := sha256.Sum256(append([]byte("dynacrypt/v1 legacy item\x00\x05users"), item...))
	if !bytes.Equal(sum[:16], v["legacy_digest"]) {
		t.Errorf("legacy_digest by hand:\n got %x\nwant %x", sum[:16], v["legacy_digest"])
	}
	okm, err := hkdf.Key(sha256.New, v["root"], v["salt"], "dynacrypt/v1 legacy manifest keys\x00\x01\x05users", 64)
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{1, 1}, v["salt"]...)
	body = append(body, 0, byte(len(v["wrapped"])))
	body = append(body, v["wrapped"]...)
	body = append(body, 1)
	body = append(body, sum[:16]...)
	mac := hmac.New(sha256.New, okm[32:])
	mac.Write(body)
	if want := append(body, mac.Sum(nil)...); !bytes.Equal(want, v["manifest"]) {
		t.Errorf("manifest by hand:\n got %x\nwant %x", want, v["manifest"])
	}
}
