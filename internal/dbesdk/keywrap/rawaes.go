package keywrap

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// The raw AES keyring's wrapping: AES-GCM with a 12-byte IV and a 16-byte
// (128-bit) tag.
const (
	rawAESTagBits = 128
	rawAESIVSize  = 12
)

// RawAES is the raw AES keyring: it wraps data keys with a local AES key
// (raw-aes-keyring.md). It is safe for concurrent use.
type RawAES struct {
	namespace string
	name      []byte
	aead      cipher.AEAD
}

// NewRawAES returns a raw AES keyring with a key namespace (the EDKs'
// provider ID), a key name and a 16, 24 or 32-byte wrapping key, which it
// copies.
func NewRawAES(namespace, name string, key []byte) (*RawAES, error) {
	if namespace == "aws-kms" {
		return nil, errors.New("keywrap: the raw AES key namespace must not be \"aws-kms\"")
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("keywrap: raw AES wrapping key of %d bytes, want 16, 24 or 32", len(key))
	}
	block, err := aes.NewCipher(bytes.Clone(key))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &RawAES{namespace: namespace, name: []byte(name), aead: aead}, nil
}

// OnEncrypt generates the data key if m has none and adds an EDK that
// wraps it, through an intermediate key sealed under the wrapping key.
func (k *RawAES) OnEncrypt(_ context.Context, m *structure.EncryptionMaterials) error {
	if err := EnsureDataKey(m); err != nil {
		return err
	}
	ikm, err := newKey(suite.KeySize)
	if err != nil {
		return err
	}
	defer clear(ikm)
	// One allocation holds the EDK's bytes: the provider information (key
	// name, tag and IV lengths, IV), then the ciphertext (the data key
	// sealed under the intermediate key, then the intermediate key sealed
	// under the wrapping key).
	n := len(k.name) + 8 + rawAESIVSize
	info := make([]byte, n, n+sealedDataKeySize+suite.KeySize+rawAESTagBits/8)
	copy(info, k.name)
	binary.BigEndian.PutUint32(info[len(k.name):], rawAESTagBits)
	binary.BigEndian.PutUint32(info[len(k.name)+4:], rawAESIVSize)
	iv := info[len(k.name)+8:]
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	ciphertext, signingKey, err := appendSealedDataKey(info[n:], m.DataKey, ikm, m.AAD)
	if err != nil {
		return err
	}
	ciphertext = k.aead.Seal(ciphertext, iv, ikm, m.AAD)
	m.AddEDK(structure.EDK{ProviderID: k.namespace, ProviderInfo: info[:n:n], Ciphertext: ciphertext}, signingKey)
	return nil
}

// UnwrapsLocally reports true: a raw AES keyring has no key service to
// call.
func (k *RawAES) UnwrapsLocally(*structure.DecryptionMaterials, []structure.EDK) bool { return true }

// OnDecrypt unwraps the first EDK of this keyring's namespace and key name
// that opens.
func (k *RawAES) OnDecrypt(_ context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	var errs []error
	for _, edk := range edks {
		iv, ok := k.ivOf(edk)
		if !ok {
			continue
		}
		wrapped, err := SplitIntermediate(edk.Ciphertext)
		if err == nil {
			var ikm []byte
			if ikm, err = k.aead.Open(nil, iv, wrapped, m.AAD); err != nil {
				err = fmt.Errorf("%w: the intermediate key does not open", ErrUnwrap)
			} else {
				m.DataKey, m.SigningKey, err = OpenIntermediate(edk.Ciphertext, ikm, m.AAD)
				clear(ikm)
				if err == nil {
					return nil
				}
			}
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: no encrypted data key is for raw AES key %q in namespace %q", ErrUnwrap, k.name, k.namespace)
	}
	return errors.Join(errs...)
}

// ivOf returns the IV of an EDK this keyring wrapped, from its provider
// information, and false for any other EDK.
func (k *RawAES) ivOf(edk structure.EDK) ([]byte, bool) {
	info := edk.ProviderInfo
	n := len(k.name)
	if edk.ProviderID != k.namespace || len(info) != n+8+rawAESIVSize || !bytes.Equal(info[:n], k.name) ||
		binary.BigEndian.Uint32(info[n:]) != rawAESTagBits || binary.BigEndian.Uint32(info[n+4:]) != rawAESIVSize {
		return nil, false
	}
	return info[n+8:], true
}

// EnsureDataKey generates m's data key if no keyring has yet. Under
// intermediate key wrapping every keyring does so, the KMS keyring too: KMS
// generates its intermediate key, not the data key.
func EnsureDataKey(m *structure.EncryptionMaterials) error {
	if m.DataKey != nil {
		return nil
	}
	k, err := newKey(suite.KeySize)
	if err != nil {
		return err
	}
	m.DataKey = k
	return nil
}
