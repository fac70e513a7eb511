package suite

import (
	"bytes"
	"crypto/sha512"
	"testing"
)

// The costs of suite 0x6701 per record: a key pair and a signature to
// write, a key decompression and a verification to read.
func BenchmarkGenerateSigningKey(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateSigningKey(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	priv, _ := GenerateSigningKey()
	hash := sha512.Sum384([]byte("record"))
	for b.Loop() {
		if _, err := Sign(priv, hash[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	priv, _ := GenerateSigningKey()
	hash := sha512.Sum384([]byte("record"))
	sig, _ := Sign(priv, hash[:])
	for b.Loop() {
		if !Verify(&priv.PublicKey, hash[:], sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkDecodePublicKey(b *testing.B) {
	priv, _ := GenerateSigningKey()
	enc, _ := EncodePublicKey(&priv.PublicKey)
	for b.Loop() {
		if _, err := DecodePublicKey(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeriveRecordKeys is a record's HKDF-SHA-512 derivations, on
// each side of a round trip.
func BenchmarkDeriveRecordKeys(b *testing.B) {
	dataKey, msgID := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, MessageIDSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DeriveRecordKeys(dataKey, msgID); err != nil {
			b.Fatal(err)
		}
	}
}
