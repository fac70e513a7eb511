package dbesdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// The write conditions of DB-ESDK's CreateKey and VersionKey.
const (
	condAbsent    = "attribute_not_exists(#id)"
	condActiveWas = "attribute_exists(#id) AND enc = :old"
)

// Create makes a branch key as DB-ESDK's CreateKey does, and returns its
// id: branchKeyID, or a new version 4 UUID if it is empty. Its first
// version and its beacon key are 32 bytes each that KMS generates
// (GenerateDataKeyWithoutPlaintext) under the records' encryption contexts;
// the branch:ACTIVE record holds the version's key re-encrypted (KMS
// ReEncrypt) under its own. encryptionContext, which may be nil, is the
// branch key's custom encryption context: bound into every record of it,
// each entry as an attribute "aws-crypto-ec:<key>", and kept by rotations.
// (DB-ESDK's CreateKey asks for one whenever an id is given; this does
// not.)
//
// DB-ESDK writes the three records in one TransactWriteItems; Create writes
// them one by one, each on condition that it is absent, version first and
// branch:ACTIVE last, so that it needs no transactions and no reader ever
// sees a half-made branch key; on failure it removes what it wrote. An id
// that has a branch:ACTIVE record gives ErrBranchKeyExists before any KMS
// request.
func (ks *KeyStore) Create(ctx context.Context, branchKeyID string, encryptionContext map[string]string) (string, error) {
	id, err := ks.create(ctx, branchKeyID, encryptionContext)
	if err != nil {
		return "", ks.fail("creating", branchKeyID, "", err)
	}
	return id, nil
}

func (ks *KeyStore) create(ctx context.Context, id string, encryptionContext map[string]string) (string, error) {
	custom, err := customContext(encryptionContext)
	if err != nil {
		return "", err
	}
	if id == "" {
		if id, err = newUUID(); err != nil {
			return "", err
		}
	} else if err := checkID(id); err != nil {
		return "", err
	} else if item, err := ks.records.Get(ctx, id, typeActive); err != nil {
		return "", err
	} else if item != nil {
		return "", ErrBranchKeyExists
	}
	version, err := newUUID()
	if err != nil {
		return "", err
	}
	versionEC := ks.versionContext(id, version, ks.now(), custom)
	items, err := ks.newVersionItems(ctx, versionEC)
	if err != nil {
		return "", err
	}
	beaconEC := beaconContext(versionEC)
	beacon, err := ks.generate(ctx, beaconEC)
	if err != nil {
		return "", err
	}
	written := make([]string, 0, 3)
	for _, item := range []map[string]types.AttributeValue{items[0], recordItem(beaconEC, beacon), items[1]} {
		typ := item[attrType].(*types.AttributeValueMemberS).Value
		if err := ks.records.Put(ctx, item, condAbsent, nil); err != nil {
			if keytable.ConditionFailed(err) {
				err = fmt.Errorf("%w: %w", ErrBranchKeyExists, err)
			}
			return "", ks.undo(ctx, id, err, written)
		}
		written = append(written, typ)
	}
	return id, nil
}

// Rotate makes a new version of a branch key active, as DB-ESDK's
// VersionKey does, and returns it. It reads the branch:ACTIVE record,
// refuses it if it is not as DB-ESDK writes it (before any KMS request),
// authenticates it with KMS ReEncrypt under its own encryption context (so
// a rotation needs no kms:Decrypt), makes the new version's key with
// GenerateDataKeyWithoutPlaintext and ReEncrypt, keeping the branch key's
// custom encryption context, and writes the version's record, then the
// branch:ACTIVE record on condition that it still holds what was read.
// When a concurrent rotation replaced it first, Rotate removes its version
// and fails with ErrRotateConflict.
//
// The new version's create-time is the clock, or just after the replaced
// version's if that is later, so that versions are ordered as they were
// made: a hierarchical keyring refuses to wrap under an active version
// older than one it has read (a branch:ACTIVE record put back).
//
// Hierarchical keyrings, this package's and DB-ESDK's, go on wrapping
// under the version they cached until their cache TTL ends; items under
// either version read everywhere.
func (ks *KeyStore) Rotate(ctx context.Context, branchKeyID string) (string, error) {
	version, err := ks.rotate(ctx, branchKeyID)
	if err != nil {
		return "", ks.fail("rotating", branchKeyID, version, err)
	}
	return version, nil
}

func (ks *KeyStore) rotate(ctx context.Context, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	item, err := ks.records.Get(ctx, id, typeActive)
	if err != nil {
		return "", err
	}
	if item == nil {
		return "", ErrBranchKeyNotFound
	}
	active, err := ks.parseRecord(item, id, typeActive)
	if err != nil {
		return "", err
	}
	if _, err := ks.reEncrypt(ctx, active.enc, active.ec, active.ec); err != nil {
		return "", fmt.Errorf("authenticating the %s record: %w", typeActive, err)
	}
	version, err := newUUID()
	if err != nil {
		return "", err
	}
	created := ks.now()
	if !created.After(active.created) {
		created = active.created.Add(time.Microsecond)
	}
	versionEC := withEntries(active.ec, map[string]string{
		attrType:       versionType(version),
		attrCreateTime: created.UTC().Format(timeLayout),
	})
	delete(versionEC, attrVersion)
	items, err := ks.newVersionItems(ctx, versionEC)
	if err != nil {
		return "", err
	}
	if err := ks.records.Put(ctx, items[0], condAbsent, nil); err != nil {
		return "", err
	}
	old := map[string]types.AttributeValue{":old": &types.AttributeValueMemberB{Value: active.enc}}
	if err := ks.records.Put(ctx, items[1], condActiveWas, old); err != nil {
		if keytable.ConditionFailed(err) {
			err = fmt.Errorf("%w: %w", ErrRotateConflict, err)
		}
		return "", ks.undo(ctx, id, err, []string{versionType(version)})
	}
	return version, nil
}

// newVersionItems returns the records of a new version, given its
// encryption context: its version record, whose key KMS generates, and its
// branch:ACTIVE record, the same key re-encrypted under the active context.
func (ks *KeyStore) newVersionItems(ctx context.Context, versionEC map[string]string) ([2]map[string]types.AttributeValue, error) {
	enc, err := ks.generate(ctx, versionEC)
	if err != nil {
		return [2]map[string]types.AttributeValue{}, err
	}
	activeEC := activeContext(versionEC)
	activeEnc, err := ks.reEncrypt(ctx, enc, versionEC, activeEC)
	if err != nil {
		return [2]map[string]types.AttributeValue{}, err
	}
	return [2]map[string]types.AttributeValue{recordItem(versionEC, enc), recordItem(activeEC, activeEnc)}, nil
}

// generate has KMS make a 32-byte key under the key store's KMS key and an
// encryption context, and returns it wrapped only.
func (ks *KeyStore) generate(ctx context.Context, ec map[string]string) ([]byte, error) {
	out, err := ks.kms.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
		KeyId:             &ks.arn,
		NumberOfBytes:     aws.Int32(suite.KeySize),
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, kmsid.Error("GenerateDataKeyWithoutPlaintext", ks.arn, err, dynacrypt.ErrIntegrity)
	}
	if err := ks.checkAnswer("GenerateDataKeyWithoutPlaintext", out.KeyId, out.CiphertextBlob); err != nil {
		return nil, err
	}
	return out.CiphertextBlob, nil
}

// reEncrypt has KMS re-encrypt a key store ciphertext from one encryption
// context to another, under the key store's KMS key.
func (ks *KeyStore) reEncrypt(ctx context.Context, blob []byte, from, to map[string]string) ([]byte, error) {
	out, err := ks.kms.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob:               blob,
		SourceKeyId:                  &ks.arn,
		SourceEncryptionContext:      from,
		DestinationKeyId:             &ks.arn,
		DestinationEncryptionContext: to,
	})
	if err != nil {
		return nil, kmsid.Error("ReEncrypt", ks.arn, err, dynacrypt.ErrIntegrity)
	}
	if err := ks.checkAnswer("ReEncrypt", out.KeyId, out.CiphertextBlob); err != nil {
		return nil, err
	}
	return out.CiphertextBlob, nil
}

// checkAnswer refuses a KMS answer naming another key, or without a
// ciphertext KMS could decrypt.
func (ks *KeyStore) checkAnswer(call string, keyID *string, blob []byte) error {
	if aws.ToString(keyID) != ks.arn || len(blob) == 0 || len(blob) > kmsid.MaxBlob {
		return fmt.Errorf("KMS %s under %s answered KeyId %q and a ciphertext of %d bytes", call, ks.arn, aws.ToString(keyID), len(blob))
	}
	return nil
}

// undo removes the records of id written so far, and says so if it
// cannot.
func (ks *KeyStore) undo(ctx context.Context, id string, cause error, written []string) error {
	var errs []error
	for _, typ := range written {
		if err := ks.records.Remove(ctx, id, typ); err != nil {
			errs = append(errs, fmt.Errorf("removing the %s record it wrote: %w", typ, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (and %w)", cause, errors.Join(errs...))
	}
	return cause
}
