package dynacrypt

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// aesFormat is the first byte of every AESCipher ciphertext.
const aesFormat = 1

// AESCipher is a Cipher with a local 256-bit key: AES-256-GCM with a random
// nonce, the encryption context bound as associated data. It suits
// development, tests of the full format, and services that manage their own
// key. The key must come from a secret store, never from source code.
//
// Ciphertext: one format byte (1), a 12-byte nonce, then the GCM ciphertext
// and tag; 29 bytes more than the plaintext.
type AESCipher struct {
	aead cipher.AEAD
}

// NewAESCipher returns an AESCipher for a 32-byte key. The key is copied.
func NewAESCipher(key []byte) (*AESCipher, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("dynacrypt: AES key is %d bytes, want 32", len(key))
	}
	aead, err := itemcrypt.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	return &AESCipher{aead: aead}, nil
}

// check reports an AESCipher not made by NewAESCipher; New refuses it.
func (c *AESCipher) check() error {
	if c.aead == nil {
		return errors.New("AESCipher not made by NewAESCipher")
	}
	return nil
}

// Encrypt seals plaintext under a fresh random nonce.
func (c *AESCipher) Encrypt(_ context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	out := make([]byte, 1+c.aead.NonceSize(), 1+c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	out[0] = aesFormat
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return c.aead.Seal(out, out[1:], plaintext, appendContext(nil, encryptionContext)), nil
}

// errAESCiphertext is local: an AESCipher has no key service to call.
var errAESCiphertext error = localRefusal{fmt.Errorf("%w: AES ciphertext does not authenticate (wrong key, wrong encryption context, or altered)", ErrIntegrity)}

// Decrypt opens a ciphertext from Encrypt. A wrong key, a different
// encryption context or an altered ciphertext give an error wrapping
// ErrIntegrity.
func (c *AESCipher) Decrypt(_ context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	ns := c.aead.NonceSize()
	if len(ciphertext) < 1+ns+c.aead.Overhead() || ciphertext[0] != aesFormat {
		return nil, errAESCiphertext
	}
	plain, err := c.aead.Open(nil, ciphertext[1:1+ns], ciphertext[1+ns:], appendContext(nil, encryptionContext))
	if err != nil {
		return nil, errAESCiphertext
	}
	return plain, nil
}

// UnwrapsLocally reports true: an AESCipher has no key service to call.
func (c *AESCipher) UnwrapsLocally([]byte) bool { return true }
