package keystore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dynacrypt/dynacrypt"
)

// kmsKey is the KMS key that wraps the key store's material, as configured
// (key ID, key ARN, alias name or alias ARN), and its key ID once known: at
// once for a key ID or key ARN, from KMS's answers for an alias.
type kmsKey struct {
	id    string
	keyID atomic.Pointer[string]
}

func newKMSKey(id string) *kmsKey {
	k := &kmsKey{id: id}
	if keyID, ok := configuredKeyID(id); ok {
		k.keyID.Store(&keyID)
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
	if _, fixed := configuredKeyID(k.id); !fixed {
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
	keyID, ok := keyIDOfARN(arn)
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
	recordKeyID, _ := keyIDOfARN(r.kmsARN) // parseRecord checked it
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
	reported, ok := keyIDOfARN(aws.ToString(out.KeyId))
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

// kmsError describes a failed KMS call. KMS's verdict that a ciphertext is
// not valid under the key and context named (InvalidCiphertextException,
// IncorrectKeyException) wraps dynacrypt.ErrIntegrity and the exception;
// anything else (throttling, access denied, a disabled key, the network)
// says nothing about the record and wraps only the cause. This is the
// classification of dynacrypt.KMSCipher.
func kmsError(call, keyID string, err error) error {
	var invalid *kmstypes.InvalidCiphertextException
	var incorrect *kmstypes.IncorrectKeyException
	if errors.As(err, &invalid) || errors.As(err, &incorrect) {
		return fmt.Errorf("%w: KMS %s under %s: %w", dynacrypt.ErrIntegrity, call, keyID, err)
	}
	return fmt.Errorf("KMS %s under %s: %w", call, keyID, err)
}

// keyIDOfARN returns the key ID of a KMS key ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID). Only the key ID is
// compared, not the region or account, so that the replica of a
// multi-region key (the same "mrk-" key ID) reads what another region wrote.
func keyIDOfARN(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, ":") // partition, service, region, account, resource
	if len(parts) != 5 || parts[1] != "kms" {
		return "", false
	}
	id, ok := strings.CutPrefix(parts[4], "key/")
	return id, ok && isKeyID(id)
}

// configuredKeyID returns the key ID a configured identifier names without
// asking KMS: a key ARN or a key ID. Anything else, an alias above all, only
// KMS can resolve.
func configuredKeyID(id string) (string, bool) {
	if strings.HasPrefix(id, "arn:") {
		return keyIDOfARN(id)
	}
	return id, isKeyID(id)
}

// isKeyID reports whether s is a KMS key ID as KMS writes it: a lowercase
// UUID, or "mrk-" and 32 lowercase hex digits for a multi-region key.
func isKeyID(s string) bool {
	if hex, ok := strings.CutPrefix(s, "mrk-"); ok {
		return validVersion(hex) // 32 lowercase hex digits
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
