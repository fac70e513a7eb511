package dynacrypttest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
