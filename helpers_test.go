package dynacrypt_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// User is the item shape of the original article, versioned.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// cipherCase is a Cipher under test, made fresh per test.
type cipherCase struct {
	name string
	make func(t *testing.T) dynacrypt.Cipher
}

func newAES(t testing.TB) *dynacrypt.AESCipher {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c, err := dynacrypt.NewAESCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKMS(t testing.TB) (*dynacrypt.KMSCipher, *testrig.Counter) {
	client, counter := testrig.KMS(t)
	return dynacrypt.NewKMSCipher(client, testrig.KeyA), counter
}

var allCiphers = []cipherCase{
	{"fake", func(t *testing.T) dynacrypt.Cipher { return dynacrypttest.NewCipher() }},
	{"aes", func(t *testing.T) dynacrypt.Cipher { return newAES(t) }},
	{"kms", func(t *testing.T) dynacrypt.Cipher { c, _ := newKMS(t); return c }},
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

func rawGet(t testing.TB, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	t.Helper()
	return testrig.RawGet(t, db, table, id)
}

func rawPut(t testing.TB, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	testrig.RawPut(t, db, table, item)
}

// cloneItem copies an item deeply enough to alter its top-level attributes
// and binary values.
func cloneItem(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		if b, ok := v.(*types.AttributeValueMemberB); ok {
			v = &types.AttributeValueMemberB{Value: append([]byte(nil), b.Value...)}
		}
		out[k] = v
	}
	return out
}

// batchOf returns n Users and their keys, with IDs prefix-00, prefix-01...
func batchOf(prefix string, n int) ([]*User, []User) {
	items, keys := make([]*User, n), make([]User, n)
	for i := range items {
		items[i] = &User{ID: fmt.Sprintf("%s-%02d", prefix, i), Token: "secret-" + prefix}
		keys[i] = User{ID: items[i].ID}
	}
	return items, keys
}

// stored reports, for each key, whether s holds an item with it, read
// consistently.
func stored[T any](t testing.TB, s *dynacrypt.Store[T], keys []T) []bool {
	t.Helper()
	got, err := s.BatchGet(context.Background(), keys, dynacrypt.ConsistentRead())
	if err != nil {
		t.Fatal(err)
	}
	present := make([]bool, len(got))
	for i, g := range got {
		present[i] = g != nil
	}
	return present
}
