package testrig

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RawGet returns, as stored, the item of table whose string key "id" is
// id, read consistently past any Store; it fails tb if there is none.
func RawGet(tb testing.TB, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	tb.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      &table,
		Key:            map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		tb.Fatal(err)
	}
	if out.Item == nil {
		tb.Fatalf("raw item %q not found in %s", id, table)
	}
	return out.Item
}

// RawPut writes item to table as it is, past any Store.
func RawPut(tb testing.TB, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	tb.Helper()
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		tb.Fatal(err)
	}
}
