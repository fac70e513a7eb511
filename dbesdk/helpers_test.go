package dbesdk_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
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

// Profile has fields of many types under every action: a Store[Profile]
// writes them as DB-ESDK's configuration profileActions says.
type Profile struct {
	ID      string            `dynamodbav:"id"`
	Name    string            `dynamodbav:"name"`
	Email   string            `dynamodbav:"email" encrypt:"kms"`
	Age     int64             `dynamodbav:"age"`
	Score   float64           `dynamodbav:"score" encrypt:"kms"`
	Active  bool              `dynamodbav:"active"`
	Tags    []string          `dynamodbav:"tags,stringset" encrypt:"kms"`
	Lucky   []int             `dynamodbav:"lucky,numberset"`
	Blob    []byte            `dynamodbav:"blob" encrypt:"kms"`
	Address Address           `dynamodbav:"address" encrypt:"kms"`
	Meta    map[string]string `dynamodbav:"meta"`
	Hits    int64             `dynamodbav:"hits"` // unsigned
	Version int64             `dynamodbav:"version"`
}

// Address is a nested map.
type Address struct {
	Street string   `dynamodbav:"street"`
	Zip    int      `dynamodbav:"zip"`
	Lines  []string `dynamodbav:"lines"`
}

// profileActions is DB-ESDK's configuration of Profile items.
func profileActions() map[string]string {
	return map[string]string{
		"id": "SIGN_ONLY", "name": "SIGN_ONLY", "age": "SIGN_ONLY", "active": "SIGN_ONLY", "lucky": "SIGN_ONLY",
		"meta": "SIGN_ONLY", "version": "SIGN_ONLY", "hits": "DO_NOTHING",
		"email": "ENCRYPT_AND_SIGN", "score": "ENCRYPT_AND_SIGN", "tags": "ENCRYPT_AND_SIGN", "blob": "ENCRYPT_AND_SIGN",
		"address": "ENCRYPT_AND_SIGN",
	}
}

// newProfile returns a Profile of generated values.
func newProfile(g *gen, i int) *Profile {
	return &Profile{
		ID: fmt.Sprintf("profile-%03d", i), Name: g.str(), Email: g.str() + "@example.com",
		Age: int64(g.r.IntN(120)), Score: g.r.Float64() * 100, Active: g.r.IntN(2) == 0,
		Tags: []string{"a" + g.str(), "b" + g.str()}, Lucky: []int{g.r.IntN(10), 10 + g.r.IntN(10)},
		Blob:    append([]byte{1}, g.bytes()...),
		Address: Address{Street: g.str(), Zip: g.r.IntN(99999), Lines: []string{g.str(), g.str()}},
		Meta:    map[string]string{g.str(): g.str()}, Hits: int64(g.r.IntN(50)),
	}
}

func marshalProfile(p *Profile) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(p)
}

// profileOf unmarshals a decrypted item.
func profileOf(t testing.TB, item map[string]types.AttributeValue) Profile {
	t.Helper()
	var p Profile
	if err := attributevalue.UnmarshalMap(item, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// remoteKeyring stands for a keyring that calls a key service (KMS) for
// every unwrap: a raw AES keyring that does not say it is local, and
// counts its unwraps. With fail set, OnDecrypt fails with it instead.
type remoteKeyring struct {
	structure.Keyring
	unwraps atomic.Int64
	fail    error
}

func (k *remoteKeyring) OnDecrypt(ctx context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	k.unwraps.Add(1)
	if k.fail != nil {
		return k.fail
	}
	return k.Keyring.OnDecrypt(ctx, m, edks)
}

// newRemote returns a remoteKeyring over key and the Keyring that wraps it.
func newRemote(t testing.TB, key []byte) (*remoteKeyring, *dbesdk.Keyring) {
	t.Helper()
	raw, err := keywrap.NewRawAES("ns", "k", key)
	if err != nil {
		t.Fatal(err)
	}
	r := &remoteKeyring{Keyring: raw}
	return r, dbesdk.KeyringOf(r)
}

// newAESCipher returns dynacrypt's AES Cipher over a random key.
func newAESCipher(t testing.TB) *dynacrypt.AESCipher {
	t.Helper()
	c, err := dynacrypt.NewAESCipher(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// unmarshal is attributevalue.UnmarshalMap.
func unmarshal(item map[string]types.AttributeValue, v any) error {
	return attributevalue.UnmarshalMap(item, v)
}
