package structure

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// fieldAEAD returns the AES-256-GCM of the encrypted field at offset and its
// nonce (encrypt-path-structure.md, "Calculate Cipherkey and Nonce").
// The nonce is in keys' buffer: valid until keys derive another field key.
func fieldAEAD(keys *suite.RecordKeys, offset int) (cipher.AEAD, []byte, error) {
	stream, err := keys.FieldStream(offset)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(stream[:suite.KeySize])
	clear(stream[:suite.KeySize]) // the schedule holds it now; the nonce is no secret
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return aead, stream[suite.KeySize:], nil
}

// sealField appends the encrypted terminal value of a field to dst: the
// plaintext's type ID, then the AES-GCM ciphertext and tag of its value,
// with the canonical path as associated data (encrypt-path-structure.md,
// "Terminal Data Encryption").
func sealField(dst []byte, keys *suite.RecordKeys, offset int, f *field) ([]byte, error) {
	aead, nonce, err := fieldAEAD(keys, offset)
	if err != nil {
		return nil, err
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(f.typ))
	return aead.Seal(dst, nonce, f.value, f.path), nil
}

// openField returns the plaintext value of an encrypted terminal value, with
// the type ID its first two bytes name, appended to dst.
func openField(dst []byte, keys *suite.RecordKeys, offset int, f *field) ([]byte, error) {
	aead, nonce, err := fieldAEAD(keys, offset)
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(dst, nonce, f.value[2:], f.path)
	if err != nil {
		return nil, fmt.Errorf("%w: attribute %q does not decrypt", ErrAuthentication, f.name)
	}
	return out, nil
}
