package dynacrypt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// KMSClient is the part of *kms.Client that KMSCipher uses.
type KMSClient interface {
	Encrypt(ctx context.Context, params *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// The first byte of a KMSCipher ciphertext says what its key reference is a
// hash of.
const (
	// kmsFormatConfigured: the key identifier as configured. Written before
	// format 2, and still read; it strands items when the spelling changes.
	kmsFormatConfigured = 1
	// kmsFormatKeyID: the key ID KMS reports. Written now.
	kmsFormatKeyID = 2
)

// keyRefSize is the length of the key reference stored with each ciphertext.
const keyRefSize = 4

// keyRef is the first keyRefSize bytes of SHA-256 of a key ID (format 2) or
// of a configured key identifier (format 1).
type keyRef [keyRefSize]byte

func refOf(s string) keyRef {
	sum := sha256.Sum256([]byte(s))
	return keyRef(sum[:keyRefSize])
}

// KMSCipher is a Cipher backed by AWS KMS. Encrypt calls KMS Encrypt under
// the current key; Decrypt calls KMS Decrypt naming a configured key, as AWS
// advises, so that a ciphertext under a key this cipher does not list is
// never decrypted. Both pass the encryption context, which KMS binds to the
// ciphertext and records in CloudTrail.
//
// Each key may be configured by key ID, key ARN, alias name or alias ARN,
// and the spelling may change between runs: ciphertexts record the key, not
// the spelling. A key ID or key ARN names its key at once. An alias, or any
// other spelling, is resolved from KMS's answers: Encrypt's for the current
// key, and that of the first Decrypt that succeeds naming it. Only the key ID
// counts, not the region or account of an ARN, so the replica of a
// multi-region key (same "mrk-" key ID) reads what another region wrote.
//
// Ciphertext (format 2): the byte 2; a 4-byte reference to the key, the
// first bytes of SHA-256 of its key ID as KMS reports it (the part after
// "key/" of the key ARN); then the KMS ciphertext blob. Decrypt names the
// configured keys known to have that key ID. If there are none and some
// configured keys are not resolved yet, it tries those in order, current key
// first, moving on when KMS rejects the ciphertext. If every configured key
// is resolved and none matches, it fails with ErrIntegrity without calling
// KMS.
//
// Ciphertexts written before format 2 (the byte 1, the first 4 bytes of
// SHA-256 of the key identifier as configured, then the blob) still
// decrypt, with the key configured under the spelling that wrote them
// (current or previous). They never count as under the current key (see
// UnderCurrentKey), so Store.Reencrypt rewrites them in format 2.
//
// Until KMS has answered for an alias, the cipher cannot tell which key the
// alias names: WrappingKey and UnderCurrentKey, which make no KMS call,
// answer false for a ciphertext under it, so a re-encryption walk started
// with a fresh cipher configured by alias may rewrite a few items that were
// current already.
//
// An alias stays resolved to the key KMS last reported for it. When the
// alias is moved to another key, a cipher learns the new key from its next
// Encrypt; until then a cipher that only decrypts refuses ciphertexts under
// the new key. List the old key by key ARN in WithPreviousKeys to keep what
// it wrapped readable.
//
// Prefer key ARNs for previous keys in any case. Until an alias is
// resolved, a ciphertext under a key not resolved yet is tried under each
// unresolved key in turn, and a Store's unwrap limit counts each of those
// KMS requests (a rejection under the wrong key cannot be told from one of
// a forgery): many cold reads at once in a process just started may then
// be refused with ErrUnwrapLimited, and use the limit up, until one has
// resolved the alias.
type KMSCipher struct {
	client KMSClient
	keys   []kmsKey // keys[0] encrypts; all may decrypt
}

// kmsKey is one configured key.
type kmsKey struct {
	id            string // as configured
	configuredRef keyRef // SHA-256(id): the reference of format 1
	// fixed is set when id is a key ID or key ARN: ref was set at
	// construction and KMS's answers cannot change it.
	fixed bool
	// ref is the format-2 reference of the key id names, nil until known.
	// It is shared by the copies WithPreviousKeys makes, which name the
	// same keys through the same client.
	ref *atomic.Pointer[keyRef]
}

func newKMSKey(id string) kmsKey {
	k := kmsKey{id: id, configuredRef: refOf(id), ref: new(atomic.Pointer[keyRef])}
	if keyID, ok := kmsid.Configured(id); ok {
		r := refOf(keyID)
		k.ref.Store(&r)
		k.fixed = true
	}
	return k
}

// resolved returns the key's format-2 reference, if known.
func (k *kmsKey) resolved() (keyRef, bool) {
	if r := k.ref.Load(); r != nil {
		return *r, true
	}
	return keyRef{}, false
}

// learn records the key ID KMS reported for a call naming k. An alias names
// one key at a time, so the latest answer wins.
func (k *kmsKey) learn(keyID string) {
	if !k.fixed {
		r := refOf(keyID)
		k.ref.Store(&r)
	}
}

// reportedKeyID returns the key ID in the KeyId of a KMS answer: the key
// ARN, whose last segment after "key/" is the key ID.
func reportedKeyID(keyARN *string) (string, bool) {
	s := aws.ToString(keyARN)
	if i := strings.LastIndex(s, ":key/"); strings.HasPrefix(s, "arn:") && i >= 0 && i+len(":key/") < len(s) {
		return s[i+len(":key/"):], true
	}
	return s, kmsid.IsKeyID(s)
}

// NewKMSCipher returns a KMSCipher that encrypts and decrypts under keyID
// (a key ID, key ARN, alias name or alias ARN). It makes no KMS call: a
// missing client or key ID makes every Encrypt and Decrypt fail, and New
// refuses such a cipher.
func NewKMSCipher(client KMSClient, keyID string) *KMSCipher {
	return &KMSCipher{client: client, keys: []kmsKey{newKMSKey(keyID)}}
}

// WithPreviousKeys returns a copy of c that also decrypts ciphertexts wrapped
// under the given older keys, while encrypting under c's key only. This is
// how a key rotation starts: new root keys go to the new key, items written
// before stay readable until re-encrypted. Each key may be given under any
// spelling, except for ciphertexts written before format 2, which need the
// spelling that wrote them.
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
	case c.client == nil || isNilPointer(c.client):
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

// KeyID returns the key this cipher encrypts under, as configured.
func (c *KMSCipher) KeyID() string { return c.keys[0].id }

// WrappingKey returns the identifier, as configured, of the key that wrapped
// ciphertext, and whether this cipher knows that key. It makes no KMS call,
// so it also returns false for a key configured by an alias this cipher has
// not resolved yet.
func (c *KMSCipher) WrappingKey(ciphertext []byte) (string, bool) {
	k := c.keyFor(ciphertext)
	if k == nil {
		k = c.formatOneKey(ciphertext)
	}
	if k == nil {
		return "", false
	}
	return k.id, true
}

// keyFor returns the first configured key known to be the one a format-2
// ciphertext names, or nil: for a format-1 ciphertext, a key this cipher
// does not list, or an alias not resolved yet. It makes no KMS call.
// UnderCurrentKey compares it with &c.keys[0], so that only a format-2
// ciphertext under the current key counts as current.
func (c *KMSCipher) keyFor(ciphertext []byte) *kmsKey {
	if len(ciphertext) <= 1+keyRefSize || ciphertext[0] != kmsFormatKeyID {
		return nil
	}
	want := keyRef(ciphertext[1 : 1+keyRefSize])
	for i := range c.keys {
		if ref, ok := c.keys[i].resolved(); ok && ref == want {
			return &c.keys[i]
		}
	}
	return nil
}

// UnderCurrentKey reports whether ciphertext was made under the key c
// encrypts with, as opposed to a previous key or an unknown one. It makes no
// KMS call, so it is false for a format-1 ciphertext (which the walk then
// upgrades) and for a key configured by an alias this cipher has not
// resolved yet (see KMSCipher).
func (c *KMSCipher) UnderCurrentKey(ciphertext []byte) bool {
	return c.keyFor(ciphertext) == &c.keys[0]
}

// formatOneKey returns the configured key, spelled as when it wrote a
// format-1 ciphertext, or nil.
func (c *KMSCipher) formatOneKey(ciphertext []byte) *kmsKey {
	if len(ciphertext) <= 1+keyRefSize || ciphertext[0] != kmsFormatConfigured {
		return nil
	}
	for i := range c.keys {
		if c.keys[i].configuredRef == keyRef(ciphertext[1:1+keyRefSize]) {
			return &c.keys[i]
		}
	}
	return nil
}

// Encrypt calls KMS Encrypt under the current key and returns a format-2
// ciphertext naming the key KMS used.
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
	keyID, ok := reportedKeyID(out.KeyId)
	if !ok {
		return nil, fmt.Errorf("KMS Encrypt under %s answered KeyId %q, not a key ARN", key.id, aws.ToString(out.KeyId))
	}
	key.learn(keyID)
	ref := refOf(keyID)
	ct := make([]byte, 0, 1+keyRefSize+len(out.CiphertextBlob))
	ct = append(ct, kmsFormatKeyID)
	ct = append(ct, ref[:]...)
	return append(ct, out.CiphertextBlob...), nil
}

// Decrypt calls KMS Decrypt naming a configured key that may have wrapped
// ciphertext (see KMSCipher for which). A ciphertext under a key this
// cipher does not accept, altered, or bound to another context gives an
// error wrapping ErrIntegrity (and KMS's exception, when KMS rejected it).
// Other KMS failures, such as throttling, are not ErrIntegrity.
func (c *KMSCipher) Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if len(ciphertext) <= 1+keyRefSize {
		return nil, localRefusal{fmt.Errorf("%w: KMS ciphertext of %d bytes is too short", ErrIntegrity, len(ciphertext))}
	}
	if len(ciphertext) > 1+keyRefSize+kmsid.MaxBlob {
		// KMS would refuse it with a ValidationException, which is not
		// its verdict on a ciphertext: refuse it here as what it is.
		return nil, localRefusal{fmt.Errorf("%w: KMS ciphertext of %d bytes is longer than any KMS makes", ErrIntegrity, len(ciphertext))}
	}
	blob := ciphertext[1+keyRefSize:]
	switch ciphertext[0] {
	case kmsFormatConfigured:
		if key := c.formatOneKey(ciphertext); key != nil {
			return c.unwrap(ctx, key, blob, encryptionContext, nil)
		}
	case kmsFormatKeyID:
		return c.decryptKeyID(ctx, keyRef(ciphertext[1:1+keyRefSize]), blob, encryptionContext)
	default:
		return nil, localRefusal{fmt.Errorf("%w: KMS ciphertext of unknown format %d", ErrIntegrity, ciphertext[0])}
	}
	return nil, errUnlistedKey()
}

func errUnlistedKey() error {
	return localRefusal{fmt.Errorf("%w: root key wrapped under a KMS key this cipher does not accept (see KMSCipher.WithPreviousKeys)", ErrIntegrity)}
}

// decryptKeyID decrypts a format-2 blob whose key reference is ref. It
// tries the configured keys known to have that key ID, then those not
// resolved yet, current key first, and moves on only when KMS rejects the
// ciphertext: any other failure (throttling, a disabled key...) ends the
// search with that error. With no candidate it makes no KMS call.
func (c *KMSCipher) decryptKeyID(ctx context.Context, ref keyRef, blob []byte, encryptionContext map[string]string) ([]byte, error) {
	tried := make([]bool, len(c.keys))
	var names []string
	var rejection error
	requests := 0
	for pass := range 2 {
		for i := range c.keys {
			k := &c.keys[i]
			r, known := k.resolved()
			// The second pass takes the unresolved keys, and any that
			// another goroutine resolved to ref since the first.
			if tried[i] || known && r != ref || !known && pass == 0 {
				continue
			}
			tried[i] = true
			// A Store's unwrap limit counts KMS requests: each after the
			// first needs a place of its own.
			if requests > 0 {
				if err := keyring.AnotherRequest(ctx); err != nil {
					return nil, fmt.Errorf("%w (KMS rejected it under %s)", err, strings.Join(names, ", "))
				}
			}
			requests++
			plaintext, err := c.unwrap(ctx, k, blob, encryptionContext, &ref)
			if err == nil {
				return plaintext, nil
			}
			if !kmsid.Rejected(err) {
				return nil, err
			}
			names, rejection = append(names, k.id), err
		}
	}
	switch len(names) {
	case 0:
		return nil, errUnlistedKey()
	case 1:
		return nil, rejection
	}
	return nil, fmt.Errorf("no configured KMS key decrypts it (tried %s): %w", strings.Join(names, ", "), rejection)
}

// unwrap calls KMS Decrypt naming key and learns from the answer which key
// an alias names. For format 2 (want set), KMS must report the key the
// ciphertext's reference names: a reference altered to point at another
// key is refused even if KMS decrypted the blob.
func (c *KMSCipher) unwrap(ctx context.Context, key *kmsKey, blob []byte, encryptionContext map[string]string, want *keyRef) ([]byte, error) {
	out, err := c.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             &key.id,
		CiphertextBlob:    blob,
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, kmsError("Decrypt", key.id, err)
	}
	keyID, ok := reportedKeyID(out.KeyId)
	if ok {
		key.learn(keyID)
	}
	switch {
	case want == nil:
	case !ok:
		clear(out.Plaintext)
		return nil, fmt.Errorf("KMS Decrypt under %s answered KeyId %q, not a key ARN", key.id, aws.ToString(out.KeyId))
	case refOf(keyID) != *want:
		clear(out.Plaintext)
		return nil, fmt.Errorf("%w: KMS Decrypt under %s used key %s, not the key the ciphertext names", ErrIntegrity, key.id, aws.ToString(out.KeyId))
	}
	return out.Plaintext, nil
}

// kmsError describes a failed KMS call (kmsid.Error): KMS's verdict on a
// ciphertext wraps ErrIntegrity, anything else only its cause.
func kmsError(call, keyID string, err error) error {
	return kmsid.Error(call, keyID, err, ErrIntegrity)
}
