package dynacrypttest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

func TestNewTable(t *testing.T) {
	db := dynacrypttest.DynamoDB(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = dynacrypttest.NewTable(t, db, dynacrypttest.Table{
			PartitionKey: dynacrypttest.S("tenant"),
			SortKey:      dynacrypttest.N("seq"),
		})
		out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		d := out.Table
		if d.TableStatus != types.TableStatusActive || len(d.KeySchema) != 2 ||
			*d.KeySchema[0].AttributeName != "tenant" || d.KeySchema[0].KeyType != types.KeyTypeHash ||
			*d.KeySchema[1].AttributeName != "seq" || d.KeySchema[1].KeyType != types.KeyTypeRange {
			t.Errorf("table %s: %+v", name, d)
		}
	})
	// Gone, or going: DynamoDB deletes tables asynchronously.
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) && (err != nil || out.Table.TableStatus != types.TableStatusDeleting) {
		t.Errorf("table %s still there after its test ended: %v", name, err)
	}
}

// TestNewStore: the Store's table, made from its options, passes the check
// the service makes at start-up.
func TestNewStore(t *testing.T) {
	type Note struct {
		Owner   string `dynamodbav:"owner"`
		Created int64  `dynamodbav:"created"`
		Body    string `dynamodbav:"body" encrypt:"kms"`
		Version int64  `dynamodbav:"version"`
	}
	ctx := context.Background()
	notes := dynacrypttest.NewStore[Note](t, dynacrypttest.DynamoDB(t), dynacrypt.WithPartitionKey("owner"),
		dynacrypt.WithSortKey("created"), dynacrypt.WithVersion("version"),
		dynacrypt.WithLocalIndex("by-version", "version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := notes.CheckTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := notes.Put(ctx, &Note{Owner: "ana", Created: 1, Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	if n, err := notes.Get(ctx, Note{Owner: "ana", Created: 1}); err != nil || n.Body != "hello" {
		t.Fatalf("%+v, %v", n, err)
	}
}
