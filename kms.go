package dynacrypt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSClient is the part of *kms.Client that KMSCipher uses.
type KMSClient interface {
	Encrypt(ctx context.Context, params *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// kmsFormat is the first byte of every KMSCipher ciphertext.
const kmsFormat = 1

// keyRefSize is the length of the key reference stored with each ciphertext.
const keyRefSize = 4

// KMSCipher is a Cipher backed by AWS KMS. Encrypt calls KMS Encrypt under
// the current key; Decrypt calls KMS Decrypt naming the key that wrapped the
// ciphertext, as AWS advises, so a ciphertext under a key this cipher does
// not know is never decrypted. Both pass the encryption context, which KMS
// binds to the ciphertext and records in CloudTrail.
//
// Ciphertext: one format byte (1), a 4-byte reference to the key
// (the first bytes of SHA-256 of the key identifier as configured), then
// the KMS ciphertext blob. Configure each key the same way (key ID, ARN or
// alias) for as long as items wrapped under it exist.
type KMSCipher struct {
	client KMSClient
	keys   []kmsKey // keys[0] encrypts; all may decrypt
}

type kmsKey struct {
	id  string
	ref [keyRefSize]byte
}

func newKMSKey(id string) kmsKey {
	sum := sha256.Sum256([]byte(id))
	k := kmsKey{id: id}
	copy(k.ref[:], sum[:])
	return k
}

// NewKMSCipher returns a KMSCipher that encrypts and decrypts under keyID
// (a key ID, key ARN, alias name or alias ARN).
func NewKMSCipher(client KMSClient, keyID string) *KMSCipher {
	return &KMSCipher{client: client, keys: []kmsKey{newKMSKey(keyID)}}
}

// WithPreviousKeys returns a copy of c that also decrypts ciphertexts wrapped
// under the given older keys, while encrypting under c's key only. This is
// how a key rotation starts: new root keys go to the new key, items written
// before stay readable until re-encrypted.
func (c *KMSCipher) WithPreviousKeys(keyIDs ...string) *KMSCipher {
	out := &KMSCipher{client: c.client, keys: append([]kmsKey(nil), c.keys...)}
	for _, id := range keyIDs {
		out.keys = append(out.keys, newKMSKey(id))
	}
	return out
}

// check reports what makes c unusable, or nil: no KMS client (nil, or a
// nil pointer in the interface) or an empty key ID. Encrypt and Decrypt
// return its error instead of panicking; New uses it to refuse the cipher
// up front.
func (c *KMSCipher) check() error {
	switch {
	case c == nil || len(c.keys) == 0:
		return errors.New("KMSCipher not made by NewKMSCipher")
	case isNil(c.client):
		return errors.New("KMSCipher has no KMS client")
	case c.keys[0].id == "":
		return errors.New("KMSCipher has no KMS key ID")
	}
	for i, k := range c.keys[1:] {
		if k.id == "" {
			return fmt.Errorf("KMSCipher: previous key %d of %d has an empty ID", i+1, len(c.keys)-1)
		}
	}
	return nil
}

func isNil(client KMSClient) bool {
	if client == nil {
		return true
	}
	switch v := reflect.ValueOf(client); v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// KeyID returns the key this cipher encrypts under.
func (c *KMSCipher) KeyID() string { return c.keys[0].id }

// WrappingKey returns the identifier, as configured, of the key that wrapped
// ciphertext, and whether this cipher knows that key. It makes no KMS call.
func (c *KMSCipher) WrappingKey(ciphertext []byte) (string, bool) {
	k := c.keyFor(ciphertext)
	if k == nil {
		return "", false
	}
	return k.id, true
}

func (c *KMSCipher) keyFor(ciphertext []byte) *kmsKey {
	if len(ciphertext) <= 1+keyRefSize || ciphertext[0] != kmsFormat {
		return nil
	}
	for i := range c.keys {
		if [keyRefSize]byte(ciphertext[1:1+keyRefSize]) == c.keys[i].ref {
			return &c.keys[i]
		}
	}
	return nil
}

// Encrypt calls KMS Encrypt under the current key.
func (c *KMSCipher) Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	key := &c.keys[0]
	out, err := c.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             &key.id,
		Plaintext:         plaintext,
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, kmsError("Encrypt", key.id, err)
	}
	ct := make([]byte, 0, 1+keyRefSize+len(out.CiphertextBlob))
	ct = append(ct, kmsFormat)
	ct = append(ct, key.ref[:]...)
	return append(ct, out.CiphertextBlob...), nil
}

// Decrypt calls KMS Decrypt naming the key that wrapped ciphertext. A
// ciphertext under a key this cipher does not accept, or one that KMS
// rejects as invalid for that key and context, gives an error wrapping
// ErrIntegrity and the KMS exception.
func (c *KMSCipher) Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	key := c.keyFor(ciphertext)
	if key == nil {
		return nil, fmt.Errorf("%w: root key wrapped under a KMS key this cipher does not accept (see KMSCipher.WithPreviousKeys)", ErrIntegrity)
	}
	out, err := c.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             &key.id,
		CiphertextBlob:    ciphertext[1+keyRefSize:],
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, kmsError("Decrypt", key.id, err)
	}
	return out.Plaintext, nil
}

// kmsError describes a failed KMS call (call is "Encrypt" or "Decrypt";
// keyID is the key the call named, or "" when KMS took it from the blob).
// KMS's verdict that a ciphertext is not valid under that key and context,
// InvalidCiphertextException or IncorrectKeyException, gives an error
// wrapping ErrIntegrity and the exception. Anything else (throttling, access
// denied, a disabled or missing key, the network, a cancelled context) says
// nothing about the ciphertext: the error wraps the cause but not
// ErrIntegrity, so that a throttled unwrap never reads as tampering.
func kmsError(call, keyID string, err error) error {
	what := "KMS " + call
	if keyID != "" {
		what += " under " + keyID
	}
	if rejectedByKMS(err) {
		return fmt.Errorf("%w: %s: %w", ErrIntegrity, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rejectedByKMS reports whether err carries KMS's verdict that a ciphertext
// is not valid under the key and context a Decrypt named.
func rejectedByKMS(err error) bool {
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	return errors.As(err, &invalid) || errors.As(err, &incorrect)
}
