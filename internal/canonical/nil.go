package canonical

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// errNil is the error for a nil attribute value.
var errNil = errors.New("nil attribute value")

// IsNil reports whether av is nil, or a nil pointer of an attribute value
// type such as (*types.AttributeValueMemberB)(nil): Go code can put one in a
// map, DynamoDB never returns one, and reading its Value panics.
func IsNil(av types.AttributeValue) bool {
	// A type switch: reflect would cost several times as much, on every
	// value of every item read.
	switch v := av.(type) {
	case nil:
		return true
	case *types.AttributeValueMemberS:
		return v == nil
	case *types.AttributeValueMemberN:
		return v == nil
	case *types.AttributeValueMemberB:
		return v == nil
	case *types.AttributeValueMemberBOOL:
		return v == nil
	case *types.AttributeValueMemberNULL:
		return v == nil
	case *types.AttributeValueMemberSS:
		return v == nil
	case *types.AttributeValueMemberNS:
		return v == nil
	case *types.AttributeValueMemberBS:
		return v == nil
	case *types.AttributeValueMemberL:
		return v == nil
	case *types.AttributeValueMemberM:
		return v == nil
	case *types.UnknownUnionMember:
		return v == nil
	}
	// A member type newer than this code.
	rv := reflect.ValueOf(av)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// CheckNil returns an error if a value of item, at any depth, is nil (see
// IsNil), or if its lists and maps nest deeper than MaxDepth, so that code
// reading the item can type-switch on its values and use them. The error
// names the top-level attribute only.
func CheckNil(item map[string]types.AttributeValue) error {
	for name, v := range item {
		if err := checkNil(v, 0); err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
	}
	return nil
}

func checkNil(av types.AttributeValue, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("lists and maps nest deeper than %d levels", MaxDepth)
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberL:
		if v == nil {
			return errNil
		}
		for _, e := range v.Value {
			if err := checkNil(e, depth+1); err != nil {
				return err
			}
		}
	case *types.AttributeValueMemberM:
		if v == nil {
			return errNil
		}
		for _, e := range v.Value {
			if err := checkNil(e, depth+1); err != nil {
				return err
			}
		}
	default:
		if IsNil(av) {
			return errNil
		}
	}
	return nil
}
