package dynacrypt

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// walkScope is what a re-encryption walk reads: the whole table by
// parallel Scan, or one tenant's items (ReencryptOptions.Tenant).
type walkScope struct {
	tenant string // "": the whole table
	attr   string // the tenant attribute
	query  bool   // attr is the partition key: Query the tenant's partition
}

// scopeOf returns the scope of a walk of tenant ("": every item).
func (r *rewriter) scopeOf(tenant string) (walkScope, error) {
	if tenant == "" {
		return walkScope{}, nil
	}
	if r.codec.tenantAttr == "" {
		return walkScope{}, errors.New("ReencryptOptions.Tenant needs a Store (or Items) declared WithTenantAttribute")
	}
	return walkScope{tenant: tenant, attr: r.codec.tenantAttr, query: r.codec.keyAttrs[0] == r.codec.tenantAttr}, nil
}

// read reads one page of a walk, of segment of total, from start: up to
// limit items of the scope, and where to go on (nil at the end).
func (r *rewriter) read(ctx context.Context, sc walkScope, segment, total, limit int32, start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	var cond *string
	var names map[string]string
	var values map[string]types.AttributeValue
	if sc.tenant != "" {
		cond = aws.String("#tenant = :tenant")
		names = map[string]string{"#tenant": sc.attr}
		values = map[string]types.AttributeValue{":tenant": &types.AttributeValueMemberS{Value: sc.tenant}}
	}
	if sc.query {
		out, err := r.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &r.table, KeyConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ExclusiveStartKey: start, ConsistentRead: aws.Bool(true), Limit: &limit,
		})
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.LastEvaluatedKey, nil
	}
	out, err := r.db.Scan(ctx, &dynamodb.ScanInput{
		TableName: &r.table, Segment: &segment, TotalSegments: &total,
		FilterExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ExclusiveStartKey: start, ConsistentRead: aws.Bool(true), Limit: &limit,
	})
	if err != nil {
		return nil, nil, err
	}
	return out.Items, out.LastEvaluatedKey, nil
}
