package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// appendJSONItem appends item as one line of plain JSON: strings, numbers
// exact and normalised, base64 binaries, booleans, null, arrays for lists
// and sets, objects for maps; keys sorted.
func appendJSONItem(dst []byte, item map[string]types.AttributeValue) ([]byte, error) {
	dst, err := appendJSONMap(dst, item)
	if err != nil {
		return nil, err
	}
	return append(dst, '\n'), nil
}

func appendJSONMap(dst []byte, m map[string]types.AttributeValue) ([]byte, error) {
	dst = append(dst, '{')
	for i, name := range canonical.SortedKeys(m) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSONValue(dst, m[name]); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

func appendJSONValue(dst []byte, v types.AttributeValue) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return appendString(dst, v.Value), nil
	case *types.AttributeValueMemberN:
		return appendNumber(dst, v.Value)
	case *types.AttributeValueMemberB:
		return appendString(dst, base64.StdEncoding.EncodeToString(v.Value)), nil
	case *types.AttributeValueMemberBOOL:
		return fmt.Appendf(dst, "%t", v.Value), nil
	case *types.AttributeValueMemberNULL:
		return append(dst, "null"...), nil
	case *types.AttributeValueMemberSS:
		return appendArray(dst, len(v.Value), func(dst []byte, i int) ([]byte, error) { return appendString(dst, v.Value[i]), nil })
	case *types.AttributeValueMemberNS:
		return appendArray(dst, len(v.Value), func(dst []byte, i int) ([]byte, error) { return appendNumber(dst, v.Value[i]) })
	case *types.AttributeValueMemberBS:
		return appendArray(dst, len(v.Value), func(dst []byte, i int) ([]byte, error) {
			return appendString(dst, base64.StdEncoding.EncodeToString(v.Value[i])), nil
		})
	case *types.AttributeValueMemberL:
		return appendArray(dst, len(v.Value), func(dst []byte, i int) ([]byte, error) { return appendJSONValue(dst, v.Value[i]) })
	case *types.AttributeValueMemberM:
		if dst, err = appendJSONMap(dst, v.Value); err != nil {
			return nil, err
		}
		return dst, nil
	}
	return nil, fmt.Errorf("unsupported attribute value %T", v)
}

func appendArray(dst []byte, n int, elem func([]byte, int) ([]byte, error)) ([]byte, error) {
	dst = append(dst, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = elem(dst, i); err != nil {
			return nil, err
		}
	}
	return append(dst, ']'), nil
}

// appendNumber appends a DynamoDB number as a JSON number with the same
// value, exactly: normalised (no "+", no leading zeros, no exponent, no
// trailing zeros in the fraction), since DynamoDB and the signature accept
// spellings such as "+1", "01" and "1E2" that JSON does not.
func appendNumber(dst []byte, n string) ([]byte, error) {
	norm, err := canonical.NormalizeNumber(n)
	if err != nil {
		return nil, errors.New("a number attribute is not a number") // its value may be anything: not shown
	}
	return append(dst, norm...), nil
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}
