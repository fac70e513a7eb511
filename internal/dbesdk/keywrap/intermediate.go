package keywrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// sealedDataKeySize is the data key sealed under the intermediate
// key-encryption key: its ciphertext and GCM tag.
const sealedDataKeySize = suite.KeySize + suite.TagSize

// ErrUnwrap is returned (wrapped) when an encrypted data key does not
// unwrap: a wrong key, a tampered EDK or encryption context.
var ErrUnwrap = errors.New("encrypted data key does not unwrap")

// intermediateKeys returns the AES-256-GCM that seals the data key under
// an intermediate key, and the recipient's symmetric signing key.
func intermediateKeys(ikm []byte) (cipher.AEAD, []byte, error) {
	sealKey, signingKey := suite.IntermediateKeys(ikm)
	block, err := aes.NewCipher(sealKey[:])
	clear(sealKey[:])
	if err != nil {
		return nil, nil, err
	}
	kek, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return kek, signingKey[:], nil
}

// SealIntermediate returns an intermediate-wrapped EDK ciphertext: dataKey
// sealed under the key derived from the intermediate key ikm, followed by
// providerWrapped, ikm as the keyring wrapped it. It also returns the
// recipient's symmetric signing key. aad is the serialized encryption
// context.
func SealIntermediate(dataKey, ikm, providerWrapped, aad []byte) (ciphertext, signingKey []byte, err error) {
	ciphertext, signingKey, err = appendSealedDataKey(make([]byte, 0, sealedDataKeySize+len(providerWrapped)), dataKey, ikm, aad)
	if err != nil {
		return nil, nil, err
	}
	return append(ciphertext, providerWrapped...), signingKey, nil
}

// appendSealedDataKey appends to dst the first part of an
// intermediate-wrapped EDK ciphertext, dataKey sealed under the key derived
// from ikm, and returns the recipient's symmetric signing key: the
// keyring appends ikm as it wraps it.
func appendSealedDataKey(dst, dataKey, ikm, aad []byte) (ciphertext, signingKey []byte, err error) {
	if len(dataKey) != suite.KeySize || len(ikm) != suite.KeySize {
		return nil, nil, fmt.Errorf("keywrap: data key of %d bytes or intermediate key of %d", len(dataKey), len(ikm))
	}
	kek, signingKey, err := intermediateKeys(ikm)
	if err != nil {
		return nil, nil, err
	}
	return kek.Seal(dst, zeroIV[:], dataKey, aad), signingKey, nil
}

// zeroIV is the IV of the data key sealed under an intermediate key, which
// seals nothing else.
var zeroIV [suite.NonceSize]byte

// SplitIntermediate returns the part of an intermediate-wrapped EDK
// ciphertext that the keyring wrapped (the intermediate key).
func SplitIntermediate(ciphertext []byte) (providerWrapped []byte, err error) {
	if len(ciphertext) < sealedDataKeySize {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes is too short", ErrUnwrap, len(ciphertext))
	}
	return ciphertext[sealedDataKeySize:], nil
}

// OpenIntermediate returns the data key sealed in an intermediate-wrapped
// EDK ciphertext, given the intermediate key the keyring unwrapped, and the
// recipient's symmetric signing key.
func OpenIntermediate(ciphertext, ikm, aad []byte) (dataKey, signingKey []byte, err error) {
	if len(ciphertext) < sealedDataKeySize || len(ikm) != suite.KeySize {
		return nil, nil, fmt.Errorf("%w: ciphertext of %d bytes or intermediate key of %d", ErrUnwrap, len(ciphertext), len(ikm))
	}
	kek, signingKey, err := intermediateKeys(ikm)
	if err != nil {
		return nil, nil, err
	}
	dataKey, err = kek.Open(nil, zeroIV[:], ciphertext[:sealedDataKeySize], aad)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the data key does not open", ErrUnwrap)
	}
	return dataKey, signingKey, nil
}

// newKey returns n random bytes.
func newKey(n int) ([]byte, error) {
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}
