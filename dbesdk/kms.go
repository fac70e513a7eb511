package dbesdk

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
	"github.com/dynacrypt/dynacrypt/internal/nilref"
)

// KMSProviderID is the provider ID of the encrypted data keys of the AWS
// KMS keyring.
const KMSProviderID = "aws-kms"

// KMSClient is the part of *kms.Client that [KMSKeyring] uses.
type KMSClient interface {
	GenerateDataKey(ctx context.Context, params *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMSKeyring returns a keyring over one AWS KMS key, as DB-ESDK's AWS KMS
// keyring (mpl/framework/aws-kms/aws-kms-keyring.md): items it wraps and
// those DB-ESDK's keyring wraps under the same key read both ways.
//
// keyARN must be a key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID), the
// spelling DB-ESDK writes into each item and compares on decrypt: an alias
// or a bare key ID would never match an item. Decrypt names this key only,
// never a key an item names alone, so an item under another key is refused
// without a request.
//
// It costs one KMS request per item written (GenerateDataKey, for the
// item's intermediate key) and one per item read (Decrypt), as in DB-ESDK,
// with the item's encryption context: use it where items are few, or each
// must be bound to a KMS request (AWS CloudTrail logs each). For many
// items, the [HierarchicalKeyring] calls KMS about once per branch key
// version and cache TTL instead. The client needs kms:GenerateDataKey and
// kms:Decrypt on the key.
func KMSKeyring(client KMSClient, keyARN string) (*Keyring, error) {
	switch {
	case nilref.Is(client):
		return nil, errors.New("dbesdk: KMSKeyring: no KMS client")
	case !isKeyARN(keyARN):
		return nil, fmt.Errorf("dbesdk: KMSKeyring: %q is not a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID): DB-ESDK names the key of each item by its key ARN", keyARN)
	}
	return &Keyring{k: &kmsKeyring{client: client, arn: keyARN}, kind: "AWS KMS keyring " + keyARN}, nil
}

// kmsKeyring is the AWS KMS keyring under the intermediate key wrapping of
// DB-ESDK's suites: KMS generates and unwraps each EDK's intermediate key;
// the data key is sealed under a key derived from it.
type kmsKeyring struct {
	client KMSClient
	arn    string
}

// isKeyARN reports whether s is a KMS key ARN, the only key identifier an
// EDK of this keyring carries.
func isKeyARN(s string) bool {
	_, ok := kmsid.OfARN(s)
	return ok
}

// OnEncrypt asks KMS GenerateDataKey for an intermediate key under the
// item's encryption context, generates the data key if no keyring has, and
// adds an EDK: provider ID "aws-kms", provider information the key ARN KMS
// answered, ciphertext the sealed data key and KMS's ciphertext blob.
func (k *kmsKeyring) OnEncrypt(ctx context.Context, m *structure.EncryptionMaterials) error {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             &k.arn,
		NumberOfBytes:     aws.Int32(suite.KeySize),
		EncryptionContext: contextMap(m.Context),
	})
	if err != nil {
		return kmsid.Error("GenerateDataKey", k.arn, err, dynacrypt.ErrIntegrity)
	}
	defer clear(out.Plaintext)
	switch answered := aws.ToString(out.KeyId); {
	case answered != k.arn:
		return fmt.Errorf("KMS GenerateDataKey under %s answered KeyId %q", k.arn, answered)
	case len(out.Plaintext) != suite.KeySize:
		return fmt.Errorf("KMS GenerateDataKey under %s returned %d bytes, want %d", k.arn, len(out.Plaintext), suite.KeySize)
	case len(out.CiphertextBlob) == 0 || len(out.CiphertextBlob) > kmsid.MaxBlob:
		return fmt.Errorf("KMS GenerateDataKey under %s returned a ciphertext blob of %d bytes", k.arn, len(out.CiphertextBlob))
	}
	if err := keywrap.EnsureDataKey(m); err != nil {
		return err
	}
	ciphertext, signingKey, err := keywrap.SealIntermediate(m.DataKey, out.Plaintext, out.CiphertextBlob, m.AAD)
	if err != nil {
		return err
	}
	m.AddEDK(structure.EDK{ProviderID: KMSProviderID, ProviderInfo: []byte(k.arn), Ciphertext: ciphertext}, signingKey)
	return nil
}

// OnDecrypt unwraps the first EDK of this keyring's key that KMS Decrypt
// opens, naming the key and the item's encryption context. EDKs of other
// keys are skipped without a request; an EDK of provider "aws-kms" whose
// provider information is not a key ARN fails the item, as in DB-ESDK.
func (k *kmsKeyring) OnDecrypt(ctx context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	var errs []error
	requested := false
	for _, edk := range edks {
		if edk.ProviderID != KMSProviderID {
			continue
		}
		named := string(edk.ProviderInfo)
		if !utf8.ValidString(named) || !isKeyARN(named) {
			return refuse(fmt.Errorf("%w: an encrypted data key of provider %q names no KMS key ARN", dynacrypt.ErrIntegrity, KMSProviderID), !requested)
		}
		if named != k.arn {
			continue
		}
		err := k.unwrap(ctx, m, edk)
		if err == nil {
			return nil
		}
		var r *refusal
		if !errors.As(err, &r) {
			requested = true
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return refuse(fmt.Errorf("%w: no encrypted data key is for KMS key %s", dynacrypt.ErrIntegrity, k.arn), true)
	}
	return refuse(errors.Join(errs...), !requested)
}

// unwrap unwraps one EDK of this keyring's key. An EDK refused before the
// request gives a *refusal.
func (k *kmsKeyring) unwrap(ctx context.Context, m *structure.DecryptionMaterials, edk structure.EDK) error {
	blob, err := keywrap.SplitIntermediate(edk.Ciphertext)
	if err != nil {
		return refuse(fmt.Errorf("%w: %w", dynacrypt.ErrIntegrity, err), true)
	}
	if len(blob) == 0 || len(blob) > kmsid.MaxBlob {
		// KMS would refuse it with a ValidationException, which is not its
		// verdict on a ciphertext: refuse it here as what it is.
		return refuse(fmt.Errorf("%w: KMS ciphertext blob of %d bytes", dynacrypt.ErrIntegrity, len(blob)), true)
	}
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             &k.arn,
		CiphertextBlob:    blob,
		EncryptionContext: contextMap(m.Context),
	})
	if err != nil {
		return kmsid.Error("Decrypt", k.arn, err, dynacrypt.ErrIntegrity)
	}
	defer clear(out.Plaintext)
	switch answered := aws.ToString(out.KeyId); {
	case answered != k.arn:
		return fmt.Errorf("KMS Decrypt under %s answered KeyId %q", k.arn, answered)
	case len(out.Plaintext) != suite.KeySize:
		return fmt.Errorf("%w: KMS Decrypt under %s returned %d bytes, want %d", dynacrypt.ErrIntegrity, k.arn, len(out.Plaintext), suite.KeySize)
	}
	if m.DataKey, m.SigningKey, err = keywrap.OpenIntermediate(edk.Ciphertext, out.Plaintext, m.AAD); err != nil {
		return fmt.Errorf("%w: %w", dynacrypt.ErrIntegrity, err)
	}
	return nil
}

// UnwrapsLocally reports whether OnDecrypt of edks will make no KMS
// request (structure.LocalKeyring): no EDK is for this keyring's key, or
// those that are will be refused as malformed.
func (k *kmsKeyring) UnwrapsLocally(_ *structure.DecryptionMaterials, edks []structure.EDK) bool {
	for _, edk := range edks {
		if edk.ProviderID != KMSProviderID {
			continue
		}
		named := string(edk.ProviderInfo)
		if !isKeyARN(named) {
			return true // refused before any request
		}
		if named != k.arn {
			continue
		}
		if blob, err := keywrap.SplitIntermediate(edk.Ciphertext); err == nil && len(blob) > 0 && len(blob) <= kmsid.MaxBlob {
			return false
		}
	}
	return true
}

// contextMap returns an encryption context as KMS takes it.
func contextMap(c structure.Context) map[string]string {
	m := make(map[string]string, len(c))
	for _, p := range c {
		m[p.Key] = p.Value
	}
	return m
}
