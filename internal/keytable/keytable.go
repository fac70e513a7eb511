// Package keytable reads and writes the records of a branch key table, the
// layout that dynacrypt's key store (package keystore) and DB-ESDK's
// (package dbesdk) share: partition key "branch-key-id", sort key "type",
// both strings. What the records hold is each package's own.
package keytable

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/tables"
)

// The key attributes.
const (
	IDAttr   = "branch-key-id" // partition key: the branch key id
	TypeAttr = "type"          // sort key: the record's type
)

// Spec is the table's layout.
var Spec = tables.Spec{
	PartitionKey: tables.Attr{Name: IDAttr, Type: types.ScalarAttributeTypeS},
	SortKey:      tables.Attr{Name: TypeAttr, Type: types.ScalarAttributeTypeS},
}

// DB is the part of *dynamodb.Client a Table uses.
type DB interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Table is a branch key table.
type Table struct {
	DB   DB
	Name string
}

// Key returns the table key of a record.
func Key(id, typ string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		IDAttr:   &types.AttributeValueMemberS{Value: id},
		TypeAttr: &types.AttributeValueMemberS{Value: typ},
	}
}

// Get reads a record, consistently: a version just made elsewhere must not
// read as missing, since missing is a verdict readers remember. It returns
// nil, nil if there is none.
func (t Table) Get(ctx context.Context, id, typ string) (map[string]types.AttributeValue, error) {
	out, err := t.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &t.Name,
		Key:            Key(id, typ),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s record of %q from %s: %w", typ, id, t.Name, err)
	}
	return out.Item, nil
}

// Put writes a record on a condition, in which "#id" names the partition
// key.
func (t Table) Put(ctx context.Context, item map[string]types.AttributeValue, condition string, values map[string]types.AttributeValue) error {
	_, err := t.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &t.Name,
		Item:                      item,
		ConditionExpression:       &condition,
		ExpressionAttributeNames:  map[string]string{"#id": IDAttr},
		ExpressionAttributeValues: values,
	})
	if err != nil {
		typ, _ := item[TypeAttr].(*types.AttributeValueMemberS)
		return fmt.Errorf("writing the %s record to %s: %w", typ.Value, t.Name, err)
	}
	return nil
}

// Remove deletes a record the caller wrote, when what it was for failed. It
// runs even if ctx has ended, so as to leave no half-made branch key.
func (t Table) Remove(ctx context.Context, id, typ string) error {
	ctx, cancel := keyring.Detach(ctx)
	defer cancel()
	_, err := t.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &t.Name, Key: Key(id, typ)})
	return err
}

// Querier is the part of *dynamodb.Client that Records uses besides DB.
type Querier interface {
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Records returns every record of branch key id, a page at a time, read
// with a consistent Query. The DB must have Query (as *dynamodb.Client
// does). The first error ends the pages.
func (t Table) Records(ctx context.Context, id string) iter.Seq2[[]map[string]types.AttributeValue, error] {
	return func(yield func([]map[string]types.AttributeValue, error) bool) {
		q, ok := t.DB.(Querier)
		if !ok {
			yield(nil, fmt.Errorf("the DB (%T) has no Query method", t.DB))
			return
		}
		in := &dynamodb.QueryInput{
			TableName:                 &t.Name,
			KeyConditionExpression:    aws.String("#id = :id"),
			ExpressionAttributeNames:  map[string]string{"#id": IDAttr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: id}},
			ConsistentRead:            aws.Bool(true),
		}
		for {
			out, err := q.Query(ctx, in)
			if err != nil {
				yield(nil, fmt.Errorf("listing the records of the branch key in %s: %w", t.Name, err))
				return
			}
			if !yield(out.Items, nil) || len(out.LastEvaluatedKey) == 0 {
				return
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
}

// Create creates the table, with on-demand billing, and waits until it is
// active. The DB must have CreateTable and DescribeTable (as
// *dynamodb.Client does).
func (t Table) Create(ctx context.Context) error {
	admin, ok := t.DB.(tables.Admin)
	if !ok {
		return fmt.Errorf("the DB (%T) has no CreateTable and DescribeTable methods", t.DB)
	}
	if err := tables.Create(ctx, admin, t.Name, Spec); err != nil {
		return fmt.Errorf("creating table %s: %w", t.Name, err)
	}
	return nil
}

// ConditionFailed reports whether err is a failed write condition.
func ConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
