package ddbser

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TypeID is DB-ESDK's two-byte type identifier of a serialized value (its
// "Terminal Type ID").
type TypeID uint16

// The type IDs of DynamoDB's attribute value types.
const (
	TypeNull      TypeID = 0x0000
	TypeString    TypeID = 0x0001
	TypeNumber    TypeID = 0x0002
	TypeBool      TypeID = 0x0004
	TypeStringSet TypeID = 0x0101
	TypeNumberSet TypeID = 0x0102
	TypeBinarySet TypeID = 0x01FF
	TypeMap       TypeID = 0x0200
	TypeList      TypeID = 0x0300
	// TypeBinary is also the type of every encrypted value and of the
	// header and footer attributes: raw bytes.
	TypeBinary TypeID = 0xFFFF
)

// MaxDepth is how deeply lists and maps may nest, counting the top-level
// value as the first level; DynamoDB's own limit.
const MaxDepth = 32

// TypeOf returns the type ID of av, and false for a type DynamoDB does not
// define (a nil value or an unknown member).
func TypeOf(av types.AttributeValue) (TypeID, bool) {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return TypeString, true
	case *types.AttributeValueMemberN:
		return TypeNumber, true
	case *types.AttributeValueMemberB:
		return TypeBinary, true
	case *types.AttributeValueMemberBOOL:
		return TypeBool, true
	case *types.AttributeValueMemberNULL:
		return TypeNull, true
	case *types.AttributeValueMemberSS:
		return TypeStringSet, true
	case *types.AttributeValueMemberNS:
		return TypeNumberSet, true
	case *types.AttributeValueMemberBS:
		return TypeBinarySet, true
	case *types.AttributeValueMemberM:
		return TypeMap, true
	case *types.AttributeValueMemberL:
		return TypeList, true
	}
	return 0, false
}

// String returns the DynamoDB name of the type ("S", "N", ...).
func (t TypeID) String() string {
	switch t {
	case TypeNull:
		return "NULL"
	case TypeString:
		return "S"
	case TypeNumber:
		return "N"
	case TypeBinary:
		return "B"
	case TypeBool:
		return "BOOL"
	case TypeStringSet:
		return "SS"
	case TypeNumberSet:
		return "NS"
	case TypeBinarySet:
		return "BS"
	case TypeMap:
		return "M"
	case TypeList:
		return "L"
	}
	return "unknown"
}
