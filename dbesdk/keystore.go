package dbesdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/nilref"
	"github.com/dynacrypt/dynacrypt/internal/tables"
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
	db      KeyStoreDB
	kms     KeyStoreKMSClient
	table   string
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
	return &KeyStore{db: db, kms: kmsClient, table: table, logical: logicalName, arn: kmsKeyARN, now: time.Now}, nil
}

// keyStoreSpec is the key store table's layout.
var keyStoreSpec = tables.Spec{
	PartitionKey: tables.Attr{Name: attrID, Type: types.ScalarAttributeTypeS},
	SortKey:      tables.Attr{Name: attrType, Type: types.ScalarAttributeTypeS},
}

// CreateTable creates the key store's table, with on-demand billing, and
// waits until it is active, as DB-ESDK's CreateKeyStore does. It calls
// CreateTable and DescribeTable on the KeyStore's DB, which must have them
// (as *dynamodb.Client does).
func (ks *KeyStore) CreateTable(ctx context.Context) error {
	admin, ok := ks.db.(tables.Admin)
	if !ok {
		return fmt.Errorf("dbesdk: CreateTable: the KeyStore's DB (%T) has no CreateTable and DescribeTable methods", ks.db)
	}
	if err := tables.Create(ctx, admin, ks.table, keyStoreSpec); err != nil {
		return fmt.Errorf("dbesdk: CreateTable %s: %w", ks.table, err)
	}
	return nil
}

// keyOf returns the table key of a record.
func keyOf(id, typ string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrID:   &types.AttributeValueMemberS{Value: id},
		attrType: &types.AttributeValueMemberS{Value: typ},
	}
}

// get reads a record, consistently: a version just made elsewhere must not
// read as missing, since missing is remembered. It returns nil, nil if
// there is none.
func (ks *KeyStore) get(ctx context.Context, id, typ string) (map[string]types.AttributeValue, error) {
	out, err := ks.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &ks.table,
		Key:            keyOf(id, typ),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s record of %q from %s: %w", typ, id, ks.table, err)
	}
	return out.Item, nil
}

// put writes a record on a condition.
func (ks *KeyStore) put(ctx context.Context, item map[string]types.AttributeValue, condition string, values map[string]types.AttributeValue) error {
	_, err := ks.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &ks.table,
		Item:                      item,
		ConditionExpression:       &condition,
		ExpressionAttributeNames:  map[string]string{"#id": attrID},
		ExpressionAttributeValues: values,
	})
	return err
}

// remove deletes a record this call wrote, when what it was for failed. It
// runs even if ctx has ended, so as to leave no half-made branch key.
func (ks *KeyStore) remove(ctx context.Context, id, typ string) error {
	ctx, cancel := keyring.Detach(ctx)
	defer cancel()
	_, err := ks.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &ks.table, Key: keyOf(id, typ)})
	return err
}

// conditionFailed reports whether err is a failed write condition.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
