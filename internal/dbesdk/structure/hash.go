package structure

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// Canonical field markers (footer.md, "Canonical Field").
const (
	encryptedMarker = "ENCRYPTED"
	plaintextMarker = "PLAINTEXT"
)

// canonicalHash returns the SHA-384 of the canonical record (footer.md,
// "Canonical Record"): the full header, the length and serialization of the
// record's encryption context, and each signed field in canonical path
// order. Encrypted fields' values are their encrypted terminal values.
func canonicalHash(header []byte, ec Context, fields []field) [sha512.Size384]byte {
	h := sha512.New384()
	h.Write(header)
	var scratch [256]byte
	aad := appendContext(scratch[:0], ec)
	writeUint64(h, uint64(len(aad)))
	h.Write(aad)
	for i := range fields {
		f := &fields[i]
		h.Write(f.path)
		if f.action == EncryptAndSign {
			writeUint64(h, uint64(len(f.value)-2)) // the value starts with the plaintext's type ID
			h.Write([]byte(encryptedMarker))
		} else {
			writeUint64(h, uint64(len(f.value)))
			h.Write([]byte(plaintextMarker))
			var t [2]byte
			binary.BigEndian.PutUint16(t[:], uint16(f.typ))
			h.Write(t[:])
		}
		h.Write(f.value)
	}
	var sum [sha512.Size384]byte
	h.Sum(sum[:0])
	return sum
}

func writeUint64(h hash.Hash, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

// recipientTag returns the HMAC-SHA-384 of the canonical hash under a
// recipient's symmetric signing key.
func recipientTag(signingKey, canonicalHash []byte) []byte {
	mac := hmac.New(sha512.New384, signingKey)
	mac.Write(canonicalHash)
	return mac.Sum(make([]byte, 0, suite.RecipientTag))
}

// verifyFooter checks the footer against the canonical hash: some tag must
// be the one of the decrypting recipient's signing key, and the signature,
// if the suite signs, must verify under the record's verification key.
func verifyFooter(f *Footer, canonicalHash, signingKey []byte, verifier *ecdsa.PublicKey) error {
	want := recipientTag(signingKey, canonicalHash)
	found := 0
	for _, tag := range f.Tags {
		found |= subtle.ConstantTimeCompare(tag, want)
	}
	if found != 1 {
		return fmt.Errorf("%w: no recipient tag matches", ErrAuthentication)
	}
	if verifier != nil && !suite.Verify(verifier, canonicalHash, f.Signature) {
		return fmt.Errorf("%w: the signature does not verify", ErrAuthentication)
	}
	return nil
}
