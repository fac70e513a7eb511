package keywrap

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

var testContext = structure.Context{{Key: "aws-crypto-table-name", Value: "t"}, {Key: "k", Value: "v"}}

func encMaterials() *structure.EncryptionMaterials {
	return &structure.EncryptionMaterials{Suite: suite.SymSig, Context: testContext, AAD: testContext.AppendAAD(nil)}
}

func decMaterials(aad []byte) *structure.DecryptionMaterials {
	return &structure.DecryptionMaterials{Suite: suite.SymSig, Context: testContext, AAD: aad}
}

func TestIntermediateWrapping(t *testing.T) {
	dataKey, ikm := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	ct, signingKey, err := SealIntermediate(dataKey, ikm, []byte("provider"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != 48+len("provider") || len(signingKey) != 32 {
		t.Fatalf("ciphertext of %d bytes, signing key of %d", len(ct), len(signingKey))
	}
	if p, err := SplitIntermediate(ct); err != nil || string(p) != "provider" {
		t.Fatalf("provider part %q, %v", p, err)
	}
	dk, sk, err := OpenIntermediate(ct, ikm, []byte("aad"))
	if err != nil || !bytes.Equal(dk, dataKey) || !bytes.Equal(sk, signingKey) {
		t.Fatalf("opened %x %x, %v", dk, sk, err)
	}
	// The data key is sealed under a zero IV, its key derived from ikm.
	kek := deriveForTest(t, ikm, "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC")
	block, _ := aes.NewCipher(kek)
	gcm, _ := cipher.NewGCM(block)
	if want := gcm.Seal(nil, make([]byte, 12), dataKey, []byte("aad")); !bytes.Equal(ct[:48], want) {
		t.Error("sealed data key differs from AES-GCM under the derived key and a zero IV")
	}
	for name, bad := range map[string]func() ([]byte, []byte, error){
		"another intermediate key": func() ([]byte, []byte, error) {
			return OpenIntermediate(ct, bytes.Repeat([]byte{3}, 32), []byte("aad"))
		},
		"another context": func() ([]byte, []byte, error) { return OpenIntermediate(ct, ikm, []byte("aae")) },
		"truncated":       func() ([]byte, []byte, error) { return OpenIntermediate(ct[:47], ikm, []byte("aad")) },
	} {
		if _, _, err := bad(); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: got %v, want ErrUnwrap", name, err)
		}
	}
	if _, err := SplitIntermediate(ct[:47]); !errors.Is(err, ErrUnwrap) {
		t.Error("a short ciphertext must not split")
	}
}

func TestRawAES(t *testing.T) {
	for _, size := range []int{16, 24, 32} {
		k, err := NewRawAES("ns", "name", bytes.Repeat([]byte{9}, size))
		if err != nil {
			t.Fatal(err)
		}
		m := encMaterials()
		if err := k.OnEncrypt(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		edk := m.EDKs[0]
		info := edk.ProviderInfo
		if edk.ProviderID != "ns" || len(info) != 4+8+12 || string(info[:4]) != "name" ||
			binary.BigEndian.Uint32(info[4:]) != 128 || binary.BigEndian.Uint32(info[8:]) != 12 || len(edk.Ciphertext) != 96 {
			t.Fatalf("EDK %+v", edk)
		}
		d := decMaterials(m.AAD)
		if err := k.OnDecrypt(context.Background(), d, m.EDKs); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.DataKey, m.DataKey) || !bytes.Equal(d.SigningKey, m.SigningKeys[0]) {
			t.Fatal("unwrapped another data key or signing key")
		}
	}
	k, _ := NewRawAES("ns", "name", bytes.Repeat([]byte{9}, 32))
	m := encMaterials()
	m.DataKey = bytes.Repeat([]byte{5}, 32) // a keyring before it generated one
	if err := k.OnEncrypt(context.Background(), m); err != nil || !bytes.Equal(m.DataKey, bytes.Repeat([]byte{5}, 32)) {
		t.Fatalf("the existing data key must be wrapped: %v", err)
	}
	others := map[string]*RawAES{}
	others["another key"], _ = NewRawAES("ns", "name", bytes.Repeat([]byte{8}, 32))
	others["another name"], _ = NewRawAES("ns", "other", bytes.Repeat([]byte{9}, 32))
	others["another namespace"], _ = NewRawAES("ns2", "name", bytes.Repeat([]byte{9}, 32))
	others["a prefix of the name"], _ = NewRawAES("ns", "nam", bytes.Repeat([]byte{9}, 32))
	for name, o := range others {
		if err := o.OnDecrypt(context.Background(), decMaterials(m.AAD), m.EDKs); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: got %v, want ErrUnwrap", name, err)
		}
	}
	if err := k.OnDecrypt(context.Background(), decMaterials(append(bytes.Clone(m.AAD), 0)), m.EDKs); !errors.Is(err, ErrUnwrap) {
		t.Errorf("another encryption context: got %v, want ErrUnwrap", err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 15), make([]byte, 33)} {
		if _, err := NewRawAES("ns", "n", bad); err == nil {
			t.Errorf("a %d-byte key must be refused", len(bad))
		}
	}
	if _, err := NewRawAES("aws-kms", "n", make([]byte, 32)); err == nil {
		t.Error("the namespace aws-kms must be refused")
	}
}

func TestHierarchy(t *testing.T) {
	bk := BranchKey{ID: "tenant-1", Version: "e9ce18a3-edb5-4272-9f86-1cacb7997ff6", Key: bytes.Repeat([]byte{7}, 32)}
	kr := &StaticBranchKey{Key: bk}
	m := encMaterials()
	if err := kr.OnEncrypt(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	edk := m.EDKs[0]
	if edk.ProviderID != HierarchyProviderID || string(edk.ProviderInfo) != bk.ID || len(edk.Ciphertext) != 48+92 {
		t.Fatalf("EDK %+v", edk)
	}
	named, err := ParseHierarchyEDK(edk)
	if err != nil || named != (HierarchyEDK{BranchKeyID: bk.ID, Version: bk.Version}) {
		t.Fatalf("EDK names %+v, %v", named, err)
	}
	d := decMaterials(m.AAD)
	if err := kr.OnDecrypt(context.Background(), d, m.EDKs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.DataKey, m.DataKey) || !bytes.Equal(d.SigningKey, m.SigningKeys[0]) {
		t.Fatal("unwrapped another data key or signing key")
	}
	upper := bk
	upper.Version = strings.ToUpper(bk.Version)
	if err := UnwrapHierarchy(decMaterials(m.AAD), edk, &upper); err != nil {
		t.Errorf("versions compare as UUIDs: %v", err)
	}
	wrong := map[string]BranchKey{
		"another key":     {ID: bk.ID, Version: bk.Version, Key: bytes.Repeat([]byte{6}, 32)},
		"another version": {ID: bk.ID, Version: "00000000-0000-0000-0000-000000000000", Key: bk.Key},
		"another id":      {ID: "tenant-2", Version: bk.Version, Key: bk.Key},
	}
	for name, w := range wrong {
		if err := UnwrapHierarchy(decMaterials(m.AAD), edk, &w); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: got %v, want ErrUnwrap", name, err)
		}
	}
	if err := (&StaticBranchKey{Key: wrong["another id"]}).OnDecrypt(context.Background(), decMaterials(m.AAD), m.EDKs); !errors.Is(err, ErrUnwrap) {
		t.Errorf("a keyring of another branch key: got %v, want ErrUnwrap", err)
	}
	for _, v := range []string{"", "e9ce18a3edb542729f861cacb7997ff6", "e9ce18a3-edb5-4272-9f86-1cacb7997ffg"} {
		if err := WrapHierarchy(encMaterials(), &BranchKey{ID: "x", Version: v, Key: bk.Key}); err == nil {
			t.Errorf("version %q must be refused", v)
		}
	}
	if err := WrapHierarchy(encMaterials(), &BranchKey{ID: "x", Version: bk.Version, Key: bk.Key[:16]}); err == nil {
		t.Error("a 16-byte branch key must be refused")
	}
	tampered := edk
	tampered.Ciphertext = bytes.Clone(edk.Ciphertext)
	tampered.Ciphertext[48] ^= 1 // the salt
	if err := UnwrapHierarchy(decMaterials(m.AAD), tampered, &bk); !errors.Is(err, ErrUnwrap) {
		t.Errorf("tampered salt: got %v, want ErrUnwrap", err)
	}
}

// deriveForTest derives a 32-byte intermediate key with one HKDF call.
func deriveForTest(t *testing.T, ikm []byte, info string) []byte {
	t.Helper()
	k, err := hkdf.Key(sha512.New, ikm, nil, info, 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPreparedBranchKeyWrapsAsUnprepared checks that a branch key whose
// KDF states were computed once (Prepare, as a cached version is) wraps
// and unwraps exactly as one that computes them per item, both ways, and
// that Wipe clears the key and the states of its copies.
func TestPreparedBranchKeyWrapsAsUnprepared(t *testing.T) {
	plain := BranchKey{ID: "tenant-1", Version: "e9ce18a3-edb5-4272-9f86-1cacb7997ff6", Key: bytes.Repeat([]byte{7}, 32)}
	prepared := plain
	prepared.Key = bytes.Clone(plain.Key)
	if err := prepared.Prepare(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		from, to *BranchKey
	}{{"prepared to unprepared", &prepared, &plain}, {"unprepared to prepared", &plain, &prepared}} {
		m := encMaterials()
		if err := WrapHierarchy(m, c.from); err != nil {
			t.Fatal(err)
		}
		d := decMaterials(m.AAD)
		if err := UnwrapHierarchy(d, m.EDKs[0], c.to); err != nil || !bytes.Equal(d.DataKey, m.DataKey) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := (&BranchKey{Key: make([]byte, 16)}).Prepare(); err == nil {
		t.Error("a 16-byte branch key must be refused")
	}
	copied := prepared
	copied.Wipe()
	if !bytes.Equal(prepared.Key, make([]byte, 32)) {
		t.Error("Wipe of a copy left the key")
	}
}
