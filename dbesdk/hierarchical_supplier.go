package dbesdk

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
)

// A BranchKeyIDSupplier chooses the branch key of an item for a
// [HierarchicalKeyring] (see [WithBranchKeyIDSupplier]), as DB-ESDK's
// DynamoDbKeyBranchKeyIdSupplier does: from the attributes of the item
// that its encryption context holds. Those are, for items of format
// version 1, the partition and sort key; for format version 2 (a table
// with SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attributes), every such
// attribute (the keys included) and, as strings, the logical table name
// ("aws_dbe_table_name"), the partition key's name ("aws_dbe_partition_name")
// and the sort key's, if any ("aws_dbe_sort_name").
//
// It is called for every item written and read, and must answer the same
// for the same attributes. An error refuses the item. With one branch key
// per tenant, the supplier maps the tenant attribute to the tenant's
// branch key: see [BranchKeyIDFromAttribute].
type BranchKeyIDSupplier func(ctx context.Context, key map[string]types.AttributeValue) (string, error)

// BranchKeyIDFromAttribute returns a supplier whose branch key id is prefix
// followed by the value of a string or number attribute of the item:
// typically the tenant attribute, SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT
// (or the partition key). The prefix keeps tenants' branch keys apart from
// others in the key store. An item without the attribute, or with one of
// another type, is refused.
func BranchKeyIDFromAttribute(name, prefix string) BranchKeyIDSupplier {
	return func(_ context.Context, key map[string]types.AttributeValue) (string, error) {
		switch v := key[name].(type) {
		case *types.AttributeValueMemberS:
			return prefix + v.Value, nil
		case *types.AttributeValueMemberN:
			return prefix + v.Value, nil
		case nil:
			return "", fmt.Errorf("the item's encryption context has no attribute %q: make it SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, or a key attribute", name)
		}
		return "", fmt.Errorf("attribute %q is not a string or number", name)
	}
}

// The encryption context entries the item encryptor adds (encrypt-item.md),
// and the names under which DB-ESDK passes the table and key names to a
// supplier.
const (
	contextTableName     = "aws-crypto-table-name"
	contextPartitionName = "aws-crypto-partition-name"
	contextSortName      = "aws-crypto-sort-name"
	contextAttrPrefix    = "aws-crypto-attr."
	contextLegend        = "aws-crypto-legend"

	selectorTableName     = "aws_dbe_table_name"
	selectorPartitionName = "aws_dbe_partition_name"
	selectorSortName      = "aws_dbe_sort_name"
)

// selectorOf returns the attributes a supplier is given for an item, from
// its encryption context, as DB-ESDK's ConvertContextForSelector does.
func selectorOf(ec structure.Context) (map[string]types.AttributeValue, error) {
	partition, ok := ec.Get(contextPartitionName)
	if !ok {
		return nil, errors.New("the encryption context has no partition key name")
	}
	if _, ok := ec.Get(contextAttrPrefix + partition); !ok {
		return nil, errors.New("the encryption context has no partition key value")
	}
	sort, hasSort := ec.Get(contextSortName)
	if _, ok := ec.Get(contextAttrPrefix + sort); hasSort && !ok {
		return nil, errors.New("the encryption context has no sort key value")
	}
	key := make(map[string]types.AttributeValue, 4)
	legend, v2 := ec.Get(contextLegend)
	if !v2 {
		names := []string{partition}
		if hasSort {
			names = append(names, sort)
		}
		for _, name := range names {
			value, _ := ec.Get(contextAttrPrefix + name)
			av, err := decodeTerminal(value)
			if err != nil {
				return nil, fmt.Errorf("encryption context value of %q: %w", name, err)
			}
			key[name] = av
		}
		return key, nil
	}
	// Context entries are sorted by key, as the legend is.
	for _, p := range ec {
		name, ok := strings.CutPrefix(p.Key, contextAttrPrefix)
		if !ok || name == "" {
			continue
		}
		if legend == "" {
			return nil, errors.New("the encryption context legend is too short")
		}
		av, err := contextAttrValue(p.Value, legend[0])
		if err != nil {
			return nil, fmt.Errorf("encryption context value of %q: %w", name, err)
		}
		key[name] = av
		legend = legend[1:]
	}
	if legend != "" {
		return nil, errors.New("the encryption context legend is too long")
	}
	table, _ := ec.Get(contextTableName)
	key[selectorTableName] = &types.AttributeValueMemberS{Value: table}
	key[selectorPartitionName] = &types.AttributeValueMemberS{Value: partition}
	if hasSort {
		key[selectorSortName] = &types.AttributeValueMemberS{Value: sort}
	}
	return key, nil
}

// contextAttrValue decodes a version 2 context value given its legend
// character (encrypt-item.md, "Base Context Value Version 2").
func contextAttrValue(value string, legend byte) (types.AttributeValue, error) {
	switch legend {
	case 'S':
		return &types.AttributeValueMemberS{Value: value}, nil
	case 'N':
		return &types.AttributeValueMemberN{Value: value}, nil
	case 'L':
		switch value {
		case "true", "false":
			return &types.AttributeValueMemberBOOL{Value: value == "true"}, nil
		case "null":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		}
		return nil, fmt.Errorf("literal %q is not true, false or null", value)
	case 'B':
		return decodeTerminal(value)
	}
	return nil, fmt.Errorf("legend character %q is not S, N, L or B", legend)
}

// decodeTerminal decodes a version 1 context value, or a version 2 one of
// legend B: the base64 of a type ID and a serialized value.
func decodeTerminal(value string) (types.AttributeValue, error) {
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(b) < 2 {
		return nil, errors.New("not the base64 of a type ID and a value")
	}
	return ddbser.Decode(ddbser.TypeID(binary.BigEndian.Uint16(b)), b[2:])
}
