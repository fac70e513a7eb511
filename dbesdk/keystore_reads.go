package dbesdk

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// branchKey is a version of a branch key, unwrapped and prepared for the
// many items a cached version wraps and unwraps. Its material is cleared
// once the branchKey is unreachable, so holders keep it alive while they
// use the material (runtime.KeepAlive).
type branchKey struct {
	keywrap.BranchKey
	created time.Time
}

// newBranchKey returns a branch key version of 32 bytes of material,
// which it copies.
func newBranchKey(id, version string, created time.Time, material []byte) *branchKey {
	k := &branchKey{BranchKey: keywrap.BranchKey{ID: id, Version: version, Key: bytes.Clone(material)}, created: created}
	if err := k.Prepare(); err != nil {
		panic("dbesdk: " + err.Error()) // unwrap checked the material's length
	}
	// The copy shares the material and the prepared states, not k.
	runtime.AddCleanup(k, func(bk keywrap.BranchKey) { bk.Wipe() }, k.BranchKey)
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

// A BranchKeyVersion is a version of a branch key, as [KeyStore.Versions]
// lists it.
type BranchKeyVersion struct {
	// Version is the version's UUID, as items' encrypted data keys and the
	// branch:version record name it.
	Version string
	// CreateTime is when the version was made.
	CreateTime time.Time
	// Active marks the version that branch:ACTIVE names: hierarchical
	// keyrings wrap new items under it, once their cache has read it.
	Active bool
}

// Versions lists the versions of a branch key, oldest first, from its
// records: one consistent Query (a page per 1 MB), no KMS request. So it
// authenticates nothing, but refuses, with ErrInvalidRecord, a record that
// is not as DB-ESDK writes it (see [KeyStore]) and a branch:ACTIVE record
// naming a version that has no record. A branch key without records gives
// ErrBranchKeyNotFound. The KeyStore's DB must have Query, as
// *dynamodb.Client does.
func (ks *KeyStore) Versions(ctx context.Context, branchKeyID string) ([]BranchKeyVersion, error) {
	vs, err := ks.versions(ctx, branchKeyID)
	if err != nil {
		return nil, ks.fail("listing the versions of", branchKeyID, "", err)
	}
	return vs, nil
}

func (ks *KeyStore) versions(ctx context.Context, id string) ([]BranchKeyVersion, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var (
		vs     []BranchKeyVersion
		active string
	)
	for page, err := range ks.records.Records(ctx, id) {
		if err != nil {
			return nil, err
		}
		for _, item := range page {
			typ, _ := item[attrType].(*types.AttributeValueMemberS)
			if typ == nil {
				return nil, invalidRecord("?", "attribute %s missing or of the wrong type", attrType)
			}
			r, err := ks.parseRecord(item, id, typ.Value)
			if err != nil {
				return nil, err
			}
			switch r.typ {
			case typeActive:
				active = r.version
			case typeBeacon:
			default:
				vs = append(vs, BranchKeyVersion{Version: r.version, CreateTime: r.created})
			}
		}
	}
	if vs == nil && active == "" {
		return nil, ErrBranchKeyNotFound
	}
	i := slices.IndexFunc(vs, func(v BranchKeyVersion) bool { return v.Version == active })
	if i < 0 {
		return nil, invalidRecord(typeActive, "missing, or naming version %q, which has no record", active)
	}
	vs[i].Active = true
	slices.SortFunc(vs, func(a, b BranchKeyVersion) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return vs, nil
}
