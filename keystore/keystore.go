package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/nilref"
)

// DB is the part of *dynamodb.Client a KeyStore uses.
type DB interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, params *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// TableAdmin is the part of *dynamodb.Client that [KeyStore.CreateTable]
// uses besides DB. It calls it on the KeyStore's DB, which must implement
// it (as *dynamodb.Client does).
type TableAdmin interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// A KeyStore keeps branch keys in a DynamoDB table, each version wrapped by
// KMS. It makes, rotates and deletes them, and unwraps them for a [Cipher]
// (and for beacons). It caches nothing: every read is a GetItem and a KMS
// Decrypt, which the Cipher's cache makes rare. A KeyStore is safe for
// concurrent use, and any number of processes may share its table.
//
// Only Create and Rotate call KMS Encrypt; reading needs KMS Decrypt only.
type KeyStore struct {
	db      DB
	records keytable.Table // ks.db, ks.table
	table   string
	logical string
	kms     dynacrypt.KMSClient
	key     *kmsKey
	now     func() time.Time
}

// New returns a KeyStore over the table (see [KeyStore.CreateTable] for its
// layout) whose material is wrapped under the KMS key kmsKeyID (a key ID,
// key ARN, alias name or alias ARN) through kmsClient.
//
// logicalName is bound into the KMS encryption context of every branch key
// (ContextKeyStore): set it when the key store is created and never change
// it, not even when the table is restored under another name, or no branch
// key will unwrap. Two key stores of different logical names cannot read
// each other's material.
//
// New makes no request.
func New(db DB, table, logicalName string, kmsClient dynacrypt.KMSClient, kmsKeyID string) (*KeyStore, error) {
	switch {
	case nilref.Is(db):
		return nil, errors.New("keystore: no DynamoDB client")
	case nilref.Is(kmsClient):
		return nil, errors.New("keystore: no KMS client")
	case table == "":
		return nil, errors.New("keystore: no table name")
	case logicalName == "":
		return nil, errors.New("keystore: no logical name")
	case kmsKeyID == "":
		return nil, errors.New("keystore: no KMS key ID")
	}
	return &KeyStore{db: db, records: keytable.Table{DB: db, Name: table}, table: table, logical: logicalName, kms: kmsClient, key: newKMSKey(kmsKeyID), now: time.Now}, nil
}

// Table returns the name of the key store's table.
func (ks *KeyStore) Table() string { return ks.table }

// LogicalName returns the key store's logical name.
func (ks *KeyStore) LogicalName() string { return ks.logical }

// KMSKeyID returns the KMS key the key store wraps material under, as
// configured.
func (ks *KeyStore) KMSKeyID() string { return ks.key.id }

// CreateTable creates the key store's table, with on-demand billing, and
// waits until it is active: partition key "branch-key-id" (S), sort key
// "type" (S). It is for first set-up and tests; production tables are
// usually made by infrastructure code, with point-in-time recovery and
// deletion protection.
func (ks *KeyStore) CreateTable(ctx context.Context) error {
	if err := ks.records.Create(ctx); err != nil {
		return fmt.Errorf("keystore: CreateTable: %w", err)
	}
	return nil
}
