package keystore

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// kmsKey is the KMS key that wraps the key store's material, as configured
// (key ID, key ARN, alias name or alias ARN), and its key ID once known: at
// once for a key ID or key ARN, from KMS's answers for an alias.
type kmsKey struct {
	id    string
	fixed bool // id is a key ID or key ARN: KMS's answers teach nothing
	keyID atomic.Pointer[string]
}

func newKMSKey(id string) *kmsKey {
	k := &kmsKey{id: id}
	if keyID, ok := kmsid.Configured(id); ok {
		k.keyID.Store(&keyID)
		k.fixed = true
	}
	return k
}

// resolved returns the key ID, if known.
func (k *kmsKey) resolved() (string, bool) {
	if p := k.keyID.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// learn records the key ID KMS reported for a call naming k (an alias).
func (k *kmsKey) learn(keyID string) {
	if !k.fixed {
		k.keyID.Store(&keyID)
	}
}

// wrapMaterial wraps material under the key store's KMS key and the
// record's encryption context, and fills in the record's enc and kms-arn.
func (ks *KeyStore) wrapMaterial(ctx context.Context, r *record, material []byte) error {
	out, err := ks.kms.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             &ks.key.id,
		Plaintext:         material,
		EncryptionContext: r.encryptionContext(ks.logical),
	})
	if err != nil {
		return kmsError("Encrypt", ks.key.id, err)
	}
	arn := aws.ToString(out.KeyId)
	keyID, ok := kmsid.OfARN(arn)
	if !ok {
		return fmt.Errorf("KMS Encrypt under %s answered KeyId %q, not a key ARN", ks.key.id, arn)
	}
	ks.key.learn(keyID)
	r.enc, r.kmsARN = out.CiphertextBlob, arn
	return nil
}

// unwrapMaterial returns the material of a checked record. It names the key
// store's KMS key and passes the record's encryption context, built from the
// record's own fields, so that an enc moved from another version, id or key
// store fails at KMS. A record whose kms-arn names another key than the key
// store's is refused before KMS when the key store's key ID is known, and
// after, from KMS's answer, when it is not (an alias not resolved yet).
func (ks *KeyStore) unwrapMaterial(ctx context.Context, r *record) ([]byte, error) {
	recordKeyID, _ := kmsid.OfARN(r.kmsARN) // parseRecord checked it
	if keyID, ok := ks.key.resolved(); ok && keyID != recordKeyID {
		return nil, invalidRecord(r.typ, "%s names KMS key %s, not the key store's key %s", attrKMSARN, recordKeyID, keyID)
	}
	out, err := ks.kms.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             &ks.key.id,
		CiphertextBlob:    r.enc,
		EncryptionContext: r.encryptionContext(ks.logical),
	})
	if err != nil {
		return nil, kmsError("Decrypt", ks.key.id, err)
	}
	reported, ok := kmsid.OfARN(aws.ToString(out.KeyId))
	if ok {
		ks.key.learn(reported) // KMS's word on which key the alias names
	}
	switch {
	case !ok:
		clear(out.Plaintext)
		return nil, fmt.Errorf("KMS Decrypt under %s answered KeyId %q, not a key ARN", ks.key.id, aws.ToString(out.KeyId))
	case reported != recordKeyID:
		clear(out.Plaintext)
		return nil, invalidRecord(r.typ, "%s names KMS key %s, but KMS used %s", attrKMSARN, recordKeyID, reported)
	case len(out.Plaintext) != KeySize:
		clear(out.Plaintext)
		return nil, integrity("%s record: KMS returned %d bytes of material, want %d", r.typ, len(out.Plaintext), KeySize)
	}
	return out.Plaintext, nil
}

// kmsError describes a failed KMS call as dynacrypt.KMSCipher does
// (kmsid.Error).
func kmsError(call, keyID string, err error) error {
	return kmsid.Error(call, keyID, err, dynacrypt.ErrIntegrity)
}
