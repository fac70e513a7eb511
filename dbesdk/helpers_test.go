package dbesdk_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// User is the item of most tests: a key, a signed field, an encrypted
// one and a version.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// newKey returns a random AES-256 key.
func newKey(t testing.TB) []byte {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// rawAES returns a raw AES keyring over key, in namespace "ns" named "k".
func rawAES(t testing.TB, key []byte) *dbesdk.Keyring {
	t.Helper()
	kr, err := dbesdk.RawAESKeyring("ns", "k", key)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// usersTable makes a table keyed by a string "id".
func usersTable(t testing.TB) (*dynamodb.Client, string) {
	db := testrig.DynamoDB(t)
	return db, dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
}

func mustNew[T any](t testing.TB, db dynacrypt.DB, table string, opts ...dynacrypt.Option) *dynacrypt.Store[T] {
	t.Helper()
	s, err := dynacrypt.New[T](db, table, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawGet reads the stored item with key id, as stored.
func rawGet(t testing.TB, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      &table,
		Key:            map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		t.Fatalf("raw item %q not found in %s", id, table)
	}
	return out.Item
}

func rawPut(t testing.TB, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
}
