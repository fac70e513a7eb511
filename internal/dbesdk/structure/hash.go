package structure

import (
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

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
// order. Encrypted fields' values are their encrypted terminal values. aad
// is the context serialized for keyrings, which is the header's
// serialization but for the empty context. The record is assembled in buf,
// which is returned for reuse.
func canonicalHash(buf, header, aad []byte, fields []field) ([sha512.Size384]byte, []byte) {
	if len(aad) == 0 {
		aad = []byte{0, 0} // a count of zero
	}
	buf = append(buf[:0], header...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(aad)))
	buf = append(buf, aad...)
	for i := range fields {
		f := &fields[i]
		buf = append(buf, f.path...)
		if f.action == EncryptAndSign {
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(f.value)-2)) // the value starts with the plaintext's type ID
			buf = append(buf, encryptedMarker...)
		} else {
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(f.value)))
			buf = append(buf, plaintextMarker...)
			buf = binary.BigEndian.AppendUint16(buf, uint16(f.typ))
		}
		buf = append(buf, f.value...)
	}
	return sha512.Sum384(buf), buf
}

// verifyRecipientTag checks that some tag of the footer is the one of the
// decrypting recipient's signing key over the canonical hash. (The
// signature, if the suite signs, is checked before the keyring is asked.)
func verifyRecipientTag(f *Footer, canonicalHash [sha512.Size384]byte, signingKey []byte) error {
	want := suite.RecipientTag(signingKey, canonicalHash)
	found := 0
	for _, tag := range f.Tags {
		found |= subtle.ConstantTimeCompare(tag, want[:])
	}
	if found != 1 {
		return fmt.Errorf("%w: no recipient tag matches", ErrAuthentication)
	}
	return nil
}
