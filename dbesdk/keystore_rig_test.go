package dbesdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// The local-kms keys of the tests, by key ARN (scripts/kms-seed.yaml).
var (
	keyA = testrig.KeyARN(testrig.KeyAID)
	keyB = testrig.KeyARN(testrig.KeyBID)
)

// countingDB counts the GetItem requests of a DynamoDB client.
type countingDB struct {
	*dynamodb.Client
	gets atomic.Int64
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, opts...)
}

// rig is a DB-ESDK key store table on the test servers, with request
// counters.
type rig struct {
	t     testing.TB
	raw   *dynamodb.Client // uncounted, for tampering
	db    *countingDB
	kms   *kms.Client
	kmsN  *testrig.Counter
	table string
	ks    *KeyStore // logical name "test-dbesdk-keystore", key keyA
}

const logicalName = "test-dbesdk-keystore"

func newRig(t testing.TB) *rig {
	t.Helper()
	raw := dynacrypttest.DynamoDB(t)
	client, counter := testrig.KMS(t)
	r := &rig{t: t, raw: raw, db: &countingDB{Client: raw}, kms: client, kmsN: counter}
	r.table = dynacrypttest.NewTable(t, raw, dynacrypttest.Table{
		PartitionKey: dynacrypttest.S("branch-key-id"),
		SortKey:      dynacrypttest.S("type"),
	})
	r.ks = r.keyStore(r.table, logicalName)
	return r
}

// keyStore returns a KeyStore over a table, with the rig's counters.
func (r *rig) keyStore(table, logical string) *KeyStore {
	r.t.Helper()
	ks, err := NewKeyStore(r.db, table, logical, r.kms, keyA)
	if err != nil {
		r.t.Fatal(err)
	}
	return ks
}

// counts returns the GetItem and KMS requests so far.
func (r *rig) counts() (gets, kmsRequests int64) { return r.db.gets.Load(), r.kmsN.Requests() }

// since returns the GetItem and KMS requests since counts returned gets0
// and kms0.
func (r *rig) since(gets0, kms0 int64) (int64, int64) {
	g, k := r.counts()
	return g - gets0, k - kms0
}

func (r *rig) create(id string, ec map[string]string) string {
	r.t.Helper()
	id, err := r.ks.Create(context.Background(), id, ec)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) rotate(id string) string {
	r.t.Helper()
	v, err := r.ks.Rotate(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// record reads a record as stored, or fails the test.
func (r *rig) record(id, typ string) map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &r.table, Key: keytable.Key(id, typ), ConsistentRead: aws.Bool(true)})
	if err != nil {
		r.t.Fatal(err)
	}
	if out.Item == nil {
		r.t.Fatalf("no %s record of %q", typ, id)
	}
	return out.Item
}

// putRecord writes a record as given, uncounted.
func (r *rig) putRecord(item map[string]types.AttributeValue) {
	r.t.Helper()
	if _, err := r.raw.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.table, Item: item}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) removeRecord(id, typ string) {
	r.t.Helper()
	if _, err := r.raw.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &r.table, Key: keytable.Key(id, typ)}); err != nil {
		r.t.Fatal(err)
	}
}

// hierarchical returns a hierarchical keyring over the rig's key store.
func (r *rig) hierarchical(id string, opts ...HierarchicalOption) *Keyring {
	r.t.Helper()
	kr, err := HierarchicalKeyring(r.ks, id, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	return kr
}

// The test table's layout: partition key pk, sort key sk, an encrypted
// attribute, a signed one, an unsigned one.
var testActions = map[string]structure.Action{
	"pk": structure.SignOnly, "sk": structure.SignOnly,
	"secret": structure.EncryptAndSign, "nested": structure.EncryptAndSign, "name": structure.SignOnly,
	"hits": structure.DoNothing,
}

// tenantActions adds a tenant attribute to the encryption context (format
// version 2), which makes the key attributes join it.
var tenantActions = map[string]structure.Action{
	"pk": structure.SignAndIncludeInEncryptionContext, "sk": structure.SignAndIncludeInEncryptionContext,
	"tenant": structure.SignAndIncludeInEncryptionContext,
	"secret": structure.EncryptAndSign, "nested": structure.EncryptAndSign, "name": structure.SignOnly,
	"hits": structure.DoNothing,
}

// encryptor returns an item encryptor of the test table's layout.
//
// Tests of a keyring's refusals use suite 0x6700: under 0x6701 a record
// whose header was tampered with fails its ECDSA signature first, before
// the keyring is asked.
func encryptor(t testing.TB, kr *Keyring, s suite.ID, actions map[string]structure.Action) *structure.Encryptor {
	t.Helper()
	e, err := structure.New(structure.Config{
		TableName: "T", PartitionKey: "pk", SortKey: "sk", Actions: actions,
		UnsignedAttributes: []string{"hits"}, Suite: s, Keyring: kr.k,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testConfig returns the oracle's configuration of the test table's layout
// (see encryptor) with a keyring.
func testConfig(s suite.ID, actions map[string]structure.Action, keyring map[string]any) testrig.OracleConfig {
	names := make(map[string]string, len(actions))
	for name, a := range actions {
		names[name] = a.String()
	}
	return testrig.OracleConfig{
		LogicalTableName: "T", PartitionKeyName: "pk", SortKeyName: "sk",
		AttributeActionsOnEncrypt: names, AllowedUnsignedAttributes: []string{"hits"},
		AlgorithmSuiteID: fmt.Sprintf("%04x", uint16(s)), Keyring: keyring,
	}
}

// The suites, by the names DB-ESDK's configuration gives them.
var suites = []struct {
	name string
	id   suite.ID
}{{"6700", suite.SymSig}, {"6701", suite.ECDSASymSig}}

// variedItem returns test item i: every DynamoDB type in turn, in the
// encrypted and signed attributes, nested in maps and lists.
func variedItem(i int, tenant string) map[string]types.AttributeValue {
	values := []types.AttributeValue{
		&types.AttributeValueMemberS{Value: fmt.Sprintf("secret %d ünïcødé 🗝", i)},
		&types.AttributeValueMemberN{Value: fmt.Sprintf("%d.25", i-100)},
		&types.AttributeValueMemberB{Value: []byte{byte(i), 0, 0xff, byte(i >> 8)}},
		&types.AttributeValueMemberBOOL{Value: i%2 == 0},
		&types.AttributeValueMemberNULL{Value: true},
		&types.AttributeValueMemberSS{Value: []string{"b", fmt.Sprint(i), "a"}},
		&types.AttributeValueMemberNS{Value: []string{"3", fmt.Sprint(i + 10), "-1"}},
		&types.AttributeValueMemberBS{Value: [][]byte{{2}, {byte(i), 1}}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: fmt.Sprint(i)}}},
	}
	item := map[string]types.AttributeValue{
		"pk":     &types.AttributeValueMemberS{Value: fmt.Sprintf("item-%d", i)},
		"sk":     &types.AttributeValueMemberN{Value: fmt.Sprint(i)},
		"secret": values[i%len(values)],
		"nested": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{values[(i+3)%len(values)], values[(i+7)%len(values)]}},
			"map":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"v": values[(i+5)%len(values)]}},
		}},
		"name": values[(i+1)%len(values)],
		"hits": &types.AttributeValueMemberN{Value: fmt.Sprint(i * 7)},
	}
	if tenant != "" {
		item["tenant"] = &types.AttributeValueMemberS{Value: tenant}
	}
	return item
}

// sameItem fails the test unless two items hold the same attributes, as
// DB-ESDK serializes them (numbers normalised, sets in canonical order).
func sameItem(t testing.TB, what string, got, want map[string]types.AttributeValue) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("%s: attributes %v, want %v", what, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, w := range want {
		a, _, errA := ddbser.AppendValue(nil, got[name])
		b, _, errB := ddbser.AppendValue(nil, w)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s: attribute %q is %#v, want %#v (%v, %v)", what, name, got[name], w, errA, errB)
		}
	}
}

// isLocal reports whether err says it made no key service request.
func isLocal(err error) bool {
	var l interface{ Local() bool }
	return errors.As(err, &l) && l.Local()
}

// isIntegrity reports whether err is a verdict of tampering.
func isIntegrity(err error) bool { return errors.Is(err, dynacrypt.ErrIntegrity) }

// headerEDKs returns the encrypted data keys of an encrypted item.
func headerEDKs(t testing.TB, item map[string]types.AttributeValue) []structure.EDK {
	t.Helper()
	h, err := structure.ParseHeader(item[structure.HeaderAttr].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	return h.EDKs
}
