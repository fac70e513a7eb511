package dbesdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/nilref"
)

// KeyStoreDB is the part of *dynamodb.Client a [KeyStore] uses.
type KeyStoreDB interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// KeyStoreKMSClient is the part of *kms.Client a [KeyStore] uses: Decrypt
// to read branch keys; GenerateDataKeyWithoutPlaintext and ReEncrypt to
// create and rotate them, as DB-ESDK's key store does.
type KeyStoreKMSClient interface {
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
	GenerateDataKeyWithoutPlaintext(ctx context.Context, params *kms.GenerateDataKeyWithoutPlaintextInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyWithoutPlaintextOutput, error)
	ReEncrypt(ctx context.Context, params *kms.ReEncryptInput, optFns ...func(*kms.Options)) (*kms.ReEncryptOutput, error)
}

// A KeyStore is a DB-ESDK branch key store (mpl/framework/branch-key-store.md):
// a DynamoDB table of branch keys, each version wrapped by AWS KMS, that
// DB-ESDK services in any language share. Its records are DB-ESDK's byte
// for byte, with the same KMS encryption context, so branch keys that
// DB-ESDK made serve a [HierarchicalKeyring] and branch keys that
// [KeyStore.Create] and [KeyStore.Rotate] make serve DB-ESDK.
//
// The table (partition key "branch-key-id", sort key "type", both strings)
// holds per branch key id:
//
//   - "branch:version:<uuid>": one record per version;
//   - "branch:ACTIVE": the active version again, its "version" attribute
//     naming it as "branch:version:<uuid>";
//   - "beacon:ACTIVE": the beacon key (this package does not read it:
//     DB-ESDK's beacons are not supported yet).
//
// Each record has the attributes enc (B, the KMS ciphertext of the key),
// kms-arn, create-time (ISO 8601, UTC, microseconds), hierarchy-version (N,
// 1) and the branch key's custom encryption context, each entry as an
// attribute "aws-crypto-ec:<key>". The KMS encryption context of enc is
// every other attribute of the record, as a string, and "tablename": the
// logical key store name. So a record moved to another id, version or key
// store, or altered in any attribute, no longer unwraps.
//
// A KeyStore makes no request until used; it caches nothing (the
// hierarchical keyring does). It is safe for concurrent use.
type KeyStore struct {
	records keytable.Table
	kms     KeyStoreKMSClient
	logical string
	arn     string
	now     func() time.Time
}

// NewKeyStore returns a KeyStore over the DynamoDB table through db, with
// the logical key store name that DB-ESDK's services use for it (bound into
// the KMS encryption context of every record: it must be the same
// everywhere, and never change, not even when the table is restored under
// another name), and the KMS key ARN its branch keys are wrapped under.
// The ARN must be a key ARN, as DB-ESDK requires: records name it in their
// kms-arn attribute, and records naming another key are refused.
func NewKeyStore(db KeyStoreDB, table, logicalName string, kmsClient KeyStoreKMSClient, kmsKeyARN string) (*KeyStore, error) {
	switch {
	case nilref.Is(db):
		return nil, errors.New("dbesdk: NewKeyStore: no DynamoDB client")
	case nilref.Is(kmsClient):
		return nil, errors.New("dbesdk: NewKeyStore: no KMS client")
	case table == "":
		return nil, errors.New("dbesdk: NewKeyStore: no table name")
	case logicalName == "":
		return nil, errors.New("dbesdk: NewKeyStore: no logical key store name")
	case !isKeyARN(kmsKeyARN):
		return nil, fmt.Errorf("dbesdk: NewKeyStore: %q is not a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID)", kmsKeyARN)
	}
	return &KeyStore{records: keytable.Table{DB: db, Name: table}, kms: kmsClient, logical: logicalName, arn: kmsKeyARN, now: time.Now}, nil
}

// CreateTable creates the key store's table, with on-demand billing, and
// waits until it is active, as DB-ESDK's CreateKeyStore does. It calls
// CreateTable and DescribeTable on the KeyStore's DB, which must have them
// (as *dynamodb.Client does).
func (ks *KeyStore) CreateTable(ctx context.Context) error {
	if err := ks.records.Create(ctx); err != nil {
		return fmt.Errorf("dbesdk: CreateTable: %w", err)
	}
	return nil
}
