package dbesdk

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// branchKey is a version of a branch key, unwrapped. Its material is
// cleared once the branchKey is unreachable, so holders keep it alive
// while they use the material (runtime.KeepAlive).
type branchKey struct {
	keywrap.BranchKey
	created time.Time
}

func newBranchKey(id, version string, created time.Time, material []byte) *branchKey {
	k := &branchKey{BranchKey: keywrap.BranchKey{ID: id, Version: version, Key: bytes.Clone(material)}, created: created}
	runtime.AddCleanup(k, func(m []byte) { clear(m) }, k.Key)
	return k
}

// fail describes a failed key store operation on a branch key.
func (ks *KeyStore) fail(op, id, version string, err error) error {
	what := fmt.Sprintf("dbesdk: key store %s: %s branch key %q", ks.logical, op, id)
	if version != "" {
		what += " version " + version
	}
	return fmt.Errorf("%s: %w", what, err)
}

// activeBranchKey returns the active version of a branch key, as DB-ESDK's
// GetActiveBranchKey: one GetItem of the branch:ACTIVE record and one KMS
// Decrypt of its material, under the record's encryption context (which
// names the version and its creation time). A missing branch key gives
// ErrBranchKeyNotFound; a record refused, ErrInvalidRecord and no KMS
// request.
func (ks *KeyStore) activeBranchKey(ctx context.Context, id string) (*branchKey, error) {
	k, err := ks.readActive(ctx, id)
	if err != nil {
		return nil, ks.fail("reading the active version of", id, "", err)
	}
	return k, nil
}

func (ks *KeyStore) readActive(ctx context.Context, id string) (*branchKey, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	item, err := ks.records.Get(ctx, id, typeActive)
	if err != nil {
		return nil, err
	}
	if item == nil {
		return nil, ErrBranchKeyNotFound
	}
	r, err := ks.parseRecord(item, id, typeActive)
	if err != nil {
		return nil, err
	}
	return ks.unwrap(ctx, r)
}

// branchKeyVersion returns a version of a branch key, as DB-ESDK's
// GetBranchKeyVersion: one GetItem of its record and one KMS Decrypt. A
// version with no record gives ErrBranchKeyNotFound if the branch key has
// no branch:ACTIVE record either, and ErrInvalidRecord if it has one (a
// forged version, or a record deleted): telling the two apart costs a
// second GetItem, and never a KMS request.
func (ks *KeyStore) branchKeyVersion(ctx context.Context, id, version string) (*branchKey, error) {
	k, err := ks.readVersion(ctx, id, version)
	if err != nil {
		return nil, ks.fail("reading", id, version, err)
	}
	return k, nil
}

func (ks *KeyStore) readVersion(ctx context.Context, id, version string) (*branchKey, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if !isUUID(version) {
		return nil, fmt.Errorf("%w: version %q is not a UUID", dynacrypt.ErrIntegrity, version)
	}
	typ := versionType(version)
	item, err := ks.records.Get(ctx, id, typ)
	if err != nil {
		return nil, err
	}
	if item == nil {
		active, err := ks.records.Get(ctx, id, typeActive)
		switch {
		case err != nil:
			return nil, fmt.Errorf("version not found, and then: %w", err)
		case active == nil:
			return nil, ErrBranchKeyNotFound
		}
		return nil, invalidRecord(typ, "missing, while the branch key exists: a forged version, or a deleted record")
	}
	r, err := ks.parseRecord(item, id, typ)
	if err != nil {
		return nil, err
	}
	return ks.unwrap(ctx, r)
}

// unwrap decrypts the material of a checked branch key record with KMS,
// naming the key store's key and the record's encryption context.
func (ks *KeyStore) unwrap(ctx context.Context, r *record) (*branchKey, error) {
	out, err := ks.kms.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             &ks.arn,
		CiphertextBlob:    r.enc,
		EncryptionContext: r.ec,
	})
	if err != nil {
		return nil, kmsid.Error("Decrypt", ks.arn, err, dynacrypt.ErrIntegrity)
	}
	defer clear(out.Plaintext)
	switch answered := aws.ToString(out.KeyId); {
	case answered != ks.arn:
		return nil, fmt.Errorf("KMS Decrypt under %s answered KeyId %q", ks.arn, answered)
	case len(out.Plaintext) != suite.KeySize:
		return nil, fmt.Errorf("%w: %s record: KMS returned %d bytes of material, want %d", dynacrypt.ErrIntegrity, r.typ, len(out.Plaintext), suite.KeySize)
	}
	return newBranchKey(r.id, r.version, r.created, out.Plaintext), nil
}
