package keystore_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// countingDB counts the GetItem requests of a DynamoDB client, and can make
// Query return small pages, so that paging is exercised.
type countingDB struct {
	*dynamodb.Client
	gets      atomic.Int64
	lost      atomic.Int64 // PutItem requests whose condition failed
	pageLimit int32
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := c.Client.PutItem(ctx, in, opts...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		c.lost.Add(1)
	}
	return out, err
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, opts...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if c.pageLimit > 0 {
		in.Limit = aws.Int32(c.pageLimit)
	}
	return c.Client.Query(ctx, in, opts...)
}

// rig is a key store table on the test servers, with request counters.
type rig struct {
	t     testing.TB
	raw   *dynamodb.Client // uncounted, for tampering
	db    *countingDB
	table string
	kms   *kms.Client
	kmsN  *testrig.Counter
	ks    *keystore.KeyStore // logical name "test-keystore", key testrig.KeyA
}

const logicalName = "test-keystore"

func newRig(t testing.TB) *rig {
	t.Helper()
	raw := dynacrypttest.DynamoDB(t)
	client, counter := testrig.KMS(t)
	r := &rig{t: t, raw: raw, db: &countingDB{Client: raw}, kms: client, kmsN: counter}
	r.table = dynacrypttest.NewTable(t, raw, dynacrypttest.Table{
		PartitionKey: dynacrypttest.S("branch-key-id"),
		SortKey:      dynacrypttest.S("type"),
	})
	r.ks = r.keyStore(logicalName, client, testrig.KeyA)
	return r
}

// keyStore returns another KeyStore over the rig's table.
func (r *rig) keyStore(logical string, client dynacrypt.KMSClient, keyID string) *keystore.KeyStore {
	r.t.Helper()
	ks, err := keystore.New(r.db, r.table, logical, client, keyID)
	if err != nil {
		r.t.Fatal(err)
	}
	return ks
}

// counts returns the GetItem and KMS requests so far.
func (r *rig) counts() (gets, kmsRequests int64) { return r.db.gets.Load(), r.kmsN.Requests() }

// since returns the GetItem and KMS requests made since counts returned
// gets0 and kms0.
func (r *rig) since(gets0, kms0 int64) (int64, int64) {
	g, k := r.counts()
	return g - gets0, k - kms0
}

func (r *rig) create(id string) string {
	r.t.Helper()
	v, err := r.ks.Create(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

func (r *rig) rotate(id string) string {
	r.t.Helper()
	v, err := r.ks.Rotate(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

func recordKey(id, typ string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"branch-key-id": &types.AttributeValueMemberS{Value: id},
		"type":          &types.AttributeValueMemberS{Value: typ},
	}
}

// record reads a record as stored, or fails the test.
func (r *rig) record(id, typ string) map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &r.table, Key: recordKey(id, typ), ConsistentRead: aws.Bool(true)})
	if err != nil {
		r.t.Fatal(err)
	}
	if out.Item == nil {
		r.t.Fatalf("no %s record of %q", typ, id)
	}
	return out.Item
}

func (r *rig) remove(id, typ string) {
	r.t.Helper()
	if _, err := r.raw.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &r.table, Key: recordKey(id, typ)}); err != nil {
		r.t.Fatal(err)
	}
}

// materialCount returns how many records of id hold material (an enc
// attribute): none once the branch key is shredded.
func (r *rig) materialCount(id string) int {
	r.t.Helper()
	n := 0
	for _, item := range r.records(id) {
		if _, ok := item["enc"]; ok {
			n++
		}
	}
	return n
}

// recordCount returns how many records of id the table holds.
func (r *rig) recordCount(id string) int {
	r.t.Helper()
	return len(r.records(id))
}

// records returns the records of id as stored.
func (r *rig) records(id string) []map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.raw.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 &r.table,
		KeyConditionExpression:    aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#id": "branch-key-id"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out.Items
}

// isIntegrity reports whether err is a verdict of tampering.
func isIntegrity(err error) bool { return errors.Is(err, dynacrypt.ErrIntegrity) }

// putRaw writes an item into a data table as an attacker with write access
// would.
func (r *rig) putRaw(table string, item map[string]types.AttributeValue) {
	r.t.Helper()
	if _, err := r.raw.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		r.t.Fatal(err)
	}
}

// wrappedOf returns the branch key id and version that wrapped a stored
// account's root key.
func (r *rig) wrappedOf(table, tenant, id string) (string, string) {
	r.t.Helper()
	raw := r.rawAccount(table, tenant, id)
	h, err := header.Parse(raw[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	if err != nil {
		r.t.Fatal(err)
	}
	branch, version, ok := keystore.WrappedBy(h.Wrapped)
	if !ok {
		r.t.Fatalf("account %s/%s: root key not wrapped under a branch key", tenant, id)
	}
	return branch, version
}

// withWrappedRoot returns a copy of a stored item whose header carries
// wrapped in place of its wrapped root key (salt and signature kept).
func withWrappedRoot(t *testing.T, item map[string]types.AttributeValue, wrapped []byte) map[string]types.AttributeValue {
	t.Helper()
	h, err := header.Parse(item[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	b, err := header.AppendSigned(nil, h.Suite, h.Salt, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	out := clone(item)
	out[dynacrypt.DefaultHeaderAttribute] = &types.AttributeValueMemberB{Value: append(b, h.MAC...)}
	return out
}

// forgedWrappedRoot builds a wrapped root key in the key store's format
// (FORMAT.md §11) naming id and version, with random salt and sealed bytes.
func forgedWrappedRoot(id, version string) []byte {
	b := []byte{0x10}
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(version)))
	b = append(b, version...)
	junk := make([]byte, 16+32+16)
	rand.Read(junk)
	return append(b, junk...)
}

// randomVersion returns a version id no Create or Rotate made.
func randomVersion() string {
	v := make([]byte, 16)
	rand.Read(v)
	return hex.EncodeToString(v)
}

// forgeItem puts a copy of item under tenant and id with wrapped in its
// header.
func (r *rig) forgeItem(t *testing.T, table string, item map[string]types.AttributeValue, tenant, id string, wrapped []byte) {
	t.Helper()
	f := withWrappedRoot(t, item, wrapped)
	f["tenant"], f["id"] = s(tenant), s(id)
	r.putRaw(table, f)
}
