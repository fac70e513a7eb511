package dynacrypttest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// StoredItem reads the item of store's table with key's key attributes as
// it is stored, with a consistent GetItem through db: encrypted fields as
// ciphertext, and the header with the signature. That is what a stream
// record's image holds (give it to the builders of package
// github.com/dynacrypt/dynacrypt/streams/streamstest), and what a test
// edits to check that a read refuses an item changed at rest. It fails the
// test if there is no such item.
func StoredItem[T any](tb testing.TB, db dynacrypt.DB, store *dynacrypt.Store[T], key T) map[string]types.AttributeValue {
	tb.Helper()
	// Key attributes are never encrypted: they marshal as the Store
	// writes them.
	whole, err := attributevalue.MarshalMap(key)
	if err != nil {
		tb.Fatalf("dynacrypttest: StoredItem: the key: %v", err)
	}
	keys := make(map[string]types.AttributeValue)
	for _, name := range store.KeyAttributes() {
		if whole[name] == nil {
			tb.Fatalf("dynacrypttest: StoredItem: the key has no attribute %q", name)
		}
		keys[name] = whole[name]
	}
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(store.Table()), Key: keys, ConsistentRead: aws.Bool(true)})
	switch {
	case err != nil:
		tb.Fatalf("dynacrypttest: StoredItem: %v", err)
	case out.Item == nil:
		var shown map[string]any
		_ = attributevalue.UnmarshalMap(keys, &shown)
		tb.Fatalf("dynacrypttest: StoredItem: table %s has no item with key %v", store.Table(), shown)
	}
	return out.Item
}
