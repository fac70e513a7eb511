package dynacrypt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestCompositeKey uses a string partition key and a number sort key: items
// differ only in their sort key, and an item moved to another sort key does
// not verify.
func TestCompositeKey(t *testing.T) {
	type Event struct {
		Tenant  string `dynamodbav:"tenant"`
		Seq     int    `dynamodbav:"seq"`
		Payload string `dynamodbav:"payload" encrypt:"kms"`
		Ver     uint16 `dynamodbav:"ver"`
	}
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("tenant"), SortKey: dynacrypttest.N("seq")})
	events := mustNew[Event](t, db, table, dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithVersion("ver"), dynacrypt.WithCipher(newAES(t)))
	ctx := context.Background()
	for seq := 0; seq < 3; seq++ {
		if err := events.Put(ctx, &Event{Tenant: "acme", Seq: seq, Payload: "payload-" + string(rune('a'+seq))}); err != nil {
			t.Fatal(err)
		}
	}
	for seq := 0; seq < 3; seq++ {
		e, err := events.Get(ctx, Event{Tenant: "acme", Seq: seq}, dynacrypt.ConsistentRead())
		if err != nil || e.Payload != "payload-"+string(rune('a'+seq)) || e.Ver != 1 {
			t.Fatalf("seq %d: %+v, %v", seq, e, err)
		}
	}

	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
		"tenant": &types.AttributeValueMemberS{Value: "acme"}, "seq": &types.AttributeValueMemberN{Value: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	out.Item["seq"] = &types.AttributeValueMemberN{Value: "7"}
	rawPut(t, db, table, out.Item)
	if e, err := events.Get(ctx, Event{Tenant: "acme", Seq: 7}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("item moved to another sort key: %+v, %v; want ErrIntegrity", e, err)
	}

	if err := events.Delete(ctx, Event{Tenant: "acme", Seq: 2, Ver: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.Get(ctx, Event{Tenant: "acme", Seq: 2}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Errorf("after Delete: %v, want ErrNotFound", err)
	}
	if _, err := events.Get(ctx, Event{Tenant: "acme", Seq: 0}, dynacrypt.ConsistentRead()); err != nil {
		t.Errorf("Delete removed a sibling: %v", err)
	}
}

func TestBinaryAndStringTaggedKeys(t *testing.T) {
	type Blob struct {
		Hash []byte `dynamodbav:"hash"`
		Body []byte `dynamodbav:"body" encrypt:"kms"`
	}
	type Counter struct {
		ID   int64  `dynamodbav:"id,string"`
		Note string `dynamodbav:"note" encrypt:"kms"`
	}
	db := testrig.DynamoDB(t)
	ctx := context.Background()

	blobs := mustNew[Blob](t, db, dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.B("hash")}),
		dynacrypt.WithPartitionKey("hash"), dynacrypt.WithCipher(newAES(t)))
	if err := blobs.Put(ctx, &Blob{Hash: []byte{0xde, 0xad}, Body: []byte("body")}); err != nil {
		t.Fatal(err)
	}
	if b, err := blobs.Get(ctx, Blob{Hash: []byte{0xde, 0xad}}, dynacrypt.ConsistentRead()); err != nil || string(b.Body) != "body" {
		t.Fatalf("binary key: %+v, %v", b, err)
	}
	if err := blobs.Put(ctx, &Blob{Body: []byte("x")}); err == nil {
		t.Error("Put with an empty binary key succeeded")
	}

	// ",string" makes an integer a string key: New and Get must agree.
	counters := mustNew[Counter](t, db, dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")}),
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err := counters.Put(ctx, &Counter{ID: 42, Note: "n"}); err != nil {
		t.Fatal(err)
	}
	if c, err := counters.Get(ctx, Counter{ID: 42}, dynacrypt.ConsistentRead()); err != nil || c.Note != "n" {
		t.Fatalf("string-tagged integer key: %+v, %v", c, err)
	}
}
