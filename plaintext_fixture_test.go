package dynacrypt_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Shopper is an item of a table that held plaintext items before it was
// encrypted: the old service stored every attribute but the version, which
// is dynacrypt's, in plaintext. Region keys a global index; Expires is a
// TTL attribute that a job of its own sets, so it is unsigned.
type Shopper struct {
	ID      string `dynamodbav:"id"`
	Region  string `dynamodbav:"region"`
	Email   string `dynamodbav:"email" encrypt:"kms"`
	Card    []byte `dynamodbav:"card" encrypt:"kms"`
	Visits  int    `dynamodbav:"visits"`
	Expires int64  `dynamodbav:"expires,omitempty"`
	Version int64  `dynamodbav:"version"`
}

// OldShopper is the same item as the old service, without dynacrypt,
// writes and reads it.
type OldShopper struct {
	ID      string `dynamodbav:"id"`
	Region  string `dynamodbav:"region"`
	Email   string `dynamodbav:"email"`
	Card    []byte `dynamodbav:"card"`
	Visits  int    `dynamodbav:"visits"`
	Expires int64  `dynamodbav:"expires,omitempty"`
}

const byRegion = "by-region"

func shopperID(i int) string { return fmt.Sprintf("c%05d", i) }

// oldShopperOf is shopper i as the old service first wrote it. Its
// secrets name it, so that a raw scan can look for them.
func oldShopperOf(i int) OldShopper {
	id := shopperID(i)
	return OldShopper{ID: id, Region: fmt.Sprint("r", i%5), Email: id + "@example.com", Card: []byte("card-of-" + id)}
}

// plaintextTable is a table of shoppers that the old service wrote in
// plaintext, and what the Stores of its migration share.
type plaintextTable struct {
	db      *dynamodb.Client
	table   string
	kmsReqs *testrig.Counter
	base    []dynacrypt.Option
	header  string // the header attribute of the items the Stores write
	footer  string // their footer attribute, if their format has one
	// kmsPerItem is the KMS requests a Store makes per item it seals, once
	// it has a root key: none in dynacrypt's format, one (the data key) in
	// DB-ESDK's under the AWS KMS keyring.
	kmsPerItem int64
}

// newPlaintextTable makes a table with an index by region and n shoppers
// in plaintext, written as the old service writes them. The Stores' Cipher
// is a KMSCipher, whose requests kmsReqs counts.
func newPlaintextTable(t testing.TB, n int) *plaintextTable {
	t.Helper()
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id"),
		Indexes: []dynacrypttest.Index{{Name: byRegion, PartitionKey: dynacrypttest.S("region"), SortKey: dynacrypttest.S("id")}}})
	cipher, counter := newKMS(t)
	pt := &plaintextTable{db: db, table: table, kmsReqs: counter, header: hdr, base: []dynacrypt.Option{
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher),
		dynacrypt.WithIndex(byRegion, "region", "id"), dynacrypt.WithUnsignedAttributes("expires")}}
	for i := 0; i < n; i++ {
		pt.oldPut(t, oldShopperOf(i))
	}
	return pt
}

// store returns a Store of the table with the base options and more.
func (pt *plaintextTable) store(t testing.TB, more ...dynacrypt.Option) *dynacrypt.Store[Shopper] {
	t.Helper()
	return mustNew[Shopper](t, pt.db, pt.table, append(append([]dynacrypt.Option(nil), pt.base...), more...)...)
}

// phase is WithPlaintextItems in phase, ending in an hour, with opts.
func (pt *plaintextTable) phase(phase dynacrypt.PlaintextPhase, opts ...dynacrypt.LegacyOption) dynacrypt.Option {
	return dynacrypt.WithPlaintextItems(phase, append([]dynacrypt.LegacyOption{dynacrypt.LegacyUntil(time.Now().Add(time.Hour))}, opts...)...)
}

// snapshot takes the manifest of the table's plaintext items.
func (pt *plaintextTable) snapshot(t testing.TB) []byte {
	t.Helper()
	m, n, err := pt.store(t).LegacySnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("manifest: %d plaintext items, %d bytes", n, len(m))
	return m
}

// oldPut writes c as the old service does: in plaintext, unconditionally.
func (pt *plaintextTable) oldPut(t testing.TB, c OldShopper) {
	t.Helper()
	av, err := attributevalue.MarshalMap(c)
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, pt.db, pt.table, av)
}

// raw returns the shopper id as stored.
func (pt *plaintextTable) raw(t testing.TB, id string) map[string]types.AttributeValue {
	t.Helper()
	return rawGet(t, pt.db, pt.table, id)
}

// signed reports whether the shopper id is stored with a header, and a
// footer if the format has one.
func (pt *plaintextTable) signed(t testing.TB, id string) bool {
	t.Helper()
	raw := pt.raw(t, id)
	_, header := raw[pt.header]
	_, footer := raw[pt.footer]
	return header && (pt.footer == "" || footer)
}
