package benchitem

import (
	"context"
	"maps"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MemDB is an in-memory DynamoDB of one table keyed by a string "id":
// PutItem and GetItem only, each answer a fresh map as the SDK's decoding
// would give. It stands for the network in the benchmarks of a Store's
// Put and Get, so that they see what a Store adds around it. Its other
// methods are a nil client's: calling one panics.
type MemDB struct {
	*dynamodb.Client
	items map[string]map[string]types.AttributeValue
}

// NewMemDB returns an empty MemDB.
func NewMemDB() *MemDB { return &MemDB{items: map[string]map[string]types.AttributeValue{}} }

// PutItem stores a copy of the item.
func (m *MemDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.items[in.Item["id"].(*types.AttributeValueMemberS).Value] = maps.Clone(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

// GetItem returns a copy of the item with the key's id, or none.
func (m *MemDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: maps.Clone(m.items[in.Key["id"].(*types.AttributeValueMemberS).Value])}, nil
}
