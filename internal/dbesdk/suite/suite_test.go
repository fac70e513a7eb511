package suite

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/big"
	"testing"
)

func TestFlavors(t *testing.T) {
	for flavor, want := range map[byte]ID{0: SymSig, 1: ECDSASymSig} {
		id, err := FromFlavor(flavor)
		if err != nil || id != want || id.Flavor() != flavor {
			t.Errorf("flavor %d: %v, %v", flavor, id, err)
		}
	}
	if !ECDSASymSig.Signed() || SymSig.Signed() {
		t.Error("only 0x6701 signs")
	}
	if SymSig.String() != "6700" {
		t.Errorf("String() = %q", SymSig.String())
	}
	for _, bad := range []byte{2, 0xff} {
		if _, err := FromFlavor(bad); !errors.Is(err, ErrUnsupported) {
			t.Errorf("flavor %d: got %v, want ErrUnsupported", bad, err)
		}
	}
	if _, err := Parse(0x0578); !errors.Is(err, ErrUnsupported) {
		t.Error("an ESDK suite must be refused")
	}
}

// TestRecordKeysMatchTheirDefinitions recomputes the derivations the
// straightforward way: HKDF-SHA-512 calls, HMAC-SHA-512, AES-CTR.
func TestRecordKeysMatchTheirDefinitions(t *testing.T) {
	dataKey := bytes.Repeat([]byte{0x11}, KeySize)
	msgID := bytes.Repeat([]byte{0x22}, MessageIDSize)
	k, err := DeriveRecordKeys(dataKey, msgID)
	if err != nil {
		t.Fatal(err)
	}
	commit, _ := hkdf.Key(sha512.New, dataKey, nil, "AWS_DBE_COMMIT_KEY"+string(msgID), KeySize)
	if !bytes.Equal(k.CommitKey[:], commit) {
		t.Error("commit key")
	}
	mac := hmac.New(sha512.New, commit)
	mac.Write([]byte("partial header"))
	if c := k.Commitment([]byte("partial header")); !bytes.Equal(c[:], mac.Sum(nil)[:CommitmentSize]) {
		t.Error("commitment")
	}
	root, _ := hkdf.Key(sha512.New, dataKey, nil, "AWS_DBE_DERIVE_KEY"+string(msgID), KeySize)
	block, _ := aes.NewCipher(root)
	for _, offset := range []int{0, 1, 2, 1000, maxFields - 1} {
		iv := append([]byte("AwsDbeField\x2c"), binary.BigEndian.AppendUint32(nil, uint32(3*offset))...)
		stream := make([]byte, 44)
		cipher.NewCTR(block, iv).XORKeyStream(stream, stream)
		key, nonce, err := k.FieldKey(offset)
		if err != nil || !bytes.Equal(key[:], stream[:32]) || !bytes.Equal(nonce[:], stream[32:]) {
			t.Errorf("field key %d: %v", offset, err)
		}
	}
	for _, bad := range []int{-1, maxFields} {
		if _, _, err := k.FieldKey(bad); err == nil {
			t.Errorf("field offset %d must be refused", bad)
		}
	}
	if _, err := DeriveRecordKeys(dataKey[:16], msgID); err == nil {
		t.Error("a 16-byte data key must be refused")
	}
}

// TestSignaturesAreFixedLength checks every signature is 103 bytes and
// verifies, over enough signatures that the length fix (s replaced by n-s)
// has certainly run; both halves of s then occur, as DB-ESDK's Java
// runtime writes them too.
func TestSignaturesAreFixedLength(t *testing.T) {
	priv, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	hash := sha512.Sum384([]byte("record"))
	other := sha512.Sum384([]byte("another record"))
	highS := false
	for range 64 {
		sig, err := Sign(priv, hash[:])
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != SignatureSize {
			t.Fatalf("signature of %d bytes", len(sig))
		}
		if !Verify(&priv.PublicKey, hash[:], sig) || Verify(&priv.PublicKey, other[:], sig) {
			t.Fatal("signature verifies the wrong way")
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err != nil {
			t.Fatal(err)
		}
		if rs.S.Cmp(new(big.Int).Rsh(priv.Params().N, 1)) > 0 {
			highS = true
		}
	}
	if !highS {
		t.Error("in 64 signatures none had a high s")
	}
	another, _ := GenerateSigningKey()
	sig, _ := Sign(another, hash[:])
	if Verify(&priv.PublicKey, hash[:], sig) {
		t.Error("another key's signature verifies")
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	priv, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodePublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(enc)
	if len(raw) != 49 || (raw[0] != 2 && raw[0] != 3) {
		t.Fatalf("not a compressed P-384 point: %x", raw)
	}
	pub, err := DecodePublicKey(enc)
	if err != nil || !pub.Equal(&priv.PublicKey) {
		t.Fatalf("decoded %v, %v", pub, err)
	}
	ecdhPub, err := priv.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	uncompressed := ecdhPub.Bytes()
	notOnCurve := bytes.Clone(raw)
	for ; ; notOnCurve[48]++ {
		if x, _ := elliptic.UnmarshalCompressed(elliptic.P384(), notOnCurve); x == nil {
			break
		}
	}
	bad := map[string]string{
		"not base64":     "!!!",
		"uncompressed":   base64.StdEncoding.EncodeToString(uncompressed),
		"prefix 4":       base64.StdEncoding.EncodeToString(append([]byte{4}, raw[1:]...)),
		"short":          base64.StdEncoding.EncodeToString(raw[:48]),
		"not on P-384":   base64.StdEncoding.EncodeToString(notOnCurve),
		"unpadded":       base64.RawStdEncoding.EncodeToString(raw),
		"P-256 key size": base64.StdEncoding.EncodeToString(raw[:33]),
	}
	for name, s := range bad {
		if _, err := DecodePublicKey(s); !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("%s: got %v, want ErrBadPublicKey", name, err)
		}
	}
}

// TestHMACMatchesStandardLibrary checks the pooled HMAC and HKDF against
// crypto/hmac and crypto/hkdf on random keys and messages.
func TestHMACMatchesStandardLibrary(t *testing.T) {
	for i := range 200 {
		key, msg := make([]byte, i%129), make([]byte, i*7%300)
		rand.Read(key)
		rand.Read(msg)
		h := hmacSHA512.Get().(*hmacState)
		h.reset(key)
		h.write(msg)
		got := bytes.Clone(h.sum())
		h.release(&hmacSHA512)
		std := hmac.New(sha512.New, key)
		std.Write(msg)
		if !bytes.Equal(got, std.Sum(nil)) {
			t.Fatalf("HMAC-SHA-512 differs for a %d-byte key", len(key))
		}
		var hash [48]byte
		copy(hash[:], msg)
		tag := RecipientTag(key, hash)
		std = hmac.New(sha512.New384, key)
		std.Write(hash[:])
		if !bytes.Equal(tag[:], std.Sum(nil)) {
			t.Fatalf("HMAC-SHA-384 differs for a %d-byte key", len(key))
		}
		seal, sign := IntermediateKeys(key)
		wantSeal, _ := hkdf.Key(sha512.New, key, nil, "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC", KeySize)
		wantSign, _ := hkdf.Key(sha512.New, key, nil, "AWS_MPL_INTERMEDIATE_KEYWRAP_MAC", KeySize)
		if !bytes.Equal(seal[:], wantSeal) || !bytes.Equal(sign[:], wantSign) {
			t.Fatalf("intermediate keys differ for a %d-byte key", len(key))
		}
	}
}

// TestKeyedHMACMatchesStandardLibrary checks HMAC-SHA-256 under a key
// whose states are kept against crypto/hmac, for keys up to a block long
// and messages shorter and longer than its buffer, each key used twice,
// and that Clear wipes the states.
func TestKeyedHMACMatchesStandardLibrary(t *testing.T) {
	for i := range 100 {
		key := make([]byte, i%65)
		rand.Read(key)
		k := NewKeyedHMAC(key)
		for _, n := range []int{i % 70, i * 3} {
			msg := make([]byte, n)
			rand.Read(msg)
			std := hmac.New(sha256.New, key)
			std.Write(msg)
			if got := k.Sum(msg); !bytes.Equal(got[:], std.Sum(nil)) {
				t.Fatalf("HMAC-SHA-256 differs for a %d-byte key and a %d-byte message", len(key), n)
			}
		}
		k.Clear()
		if !bytes.Equal(k.inner, make([]byte, len(k.inner))) || !bytes.Equal(k.outer, make([]byte, len(k.outer))) {
			t.Fatal("Clear left the keyed states")
		}
	}
}
