package ddbser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrUnserializable is returned (wrapped) by AppendValue for a value DB-ESDK
// cannot serialize or DynamoDB would not store as given.
var ErrUnserializable = errors.New("attribute value cannot be serialized")

// AppendValue appends the serialization of av to dst (DB-ESDK's "Terminal
// Value": the value's bytes, without its type ID or a length) and returns
// the extended buffer and av's type ID. Its errors never quote the value.
func AppendValue(dst []byte, av types.AttributeValue) ([]byte, TypeID, error) {
	return appendValue(dst, av, 1)
}

func appendValue(dst []byte, av types.AttributeValue, depth int) ([]byte, TypeID, error) {
	if depth > MaxDepth {
		return nil, 0, fmt.Errorf("%w: lists and maps nest deeper than %d levels", ErrUnserializable, MaxDepth)
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		if !utf8.ValidString(v.Value) {
			return nil, 0, fmt.Errorf("%w: string is not valid UTF-8", ErrUnserializable)
		}
		return append(dst, v.Value...), TypeString, nil
	case *types.AttributeValueMemberN:
		n, err := NormalizeNumber(v.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", ErrUnserializable, err)
		}
		return append(dst, n...), TypeNumber, nil
	case *types.AttributeValueMemberB:
		return append(dst, v.Value...), TypeBinary, nil
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			return append(dst, 1), TypeBool, nil
		}
		return append(dst, 0), TypeBool, nil
	case *types.AttributeValueMemberNULL:
		return dst, TypeNull, nil
	case *types.AttributeValueMemberSS:
		out, err := appendStringSet(dst, v.Value, false)
		return out, TypeStringSet, err
	case *types.AttributeValueMemberNS:
		out, err := appendStringSet(dst, v.Value, true)
		return out, TypeNumberSet, err
	case *types.AttributeValueMemberBS:
		out, err := appendBinarySet(dst, v.Value)
		return out, TypeBinarySet, err
	case *types.AttributeValueMemberM:
		out, err := appendMap(dst, v.Value, depth)
		return out, TypeMap, err
	case *types.AttributeValueMemberL:
		out, err := appendList(dst, v.Value, depth)
		return out, TypeList, err
	}
	return nil, 0, fmt.Errorf("%w: unknown attribute value type %T", ErrUnserializable, av)
}

// appendStringSet appends a string or number set: members sorted in UTF-16
// order (numbers after normalization), each length-prefixed.
func appendStringSet(dst []byte, members []string, numbers bool) ([]byte, error) {
	sorted := make([]string, len(members))
	for i, m := range members {
		switch {
		case numbers:
			n, err := NormalizeNumber(m)
			if err != nil {
				return nil, fmt.Errorf("%w: number set member: %w", ErrUnserializable, err)
			}
			sorted[i] = n
		case !utf8.ValidString(m):
			return nil, fmt.Errorf("%w: string set member is not valid UTF-8", ErrUnserializable)
		default:
			sorted[i] = m
		}
	}
	slices.SortFunc(sorted, CompareUTF16)
	dst, err := appendCount(dst, len(sorted))
	if err != nil {
		return nil, err
	}
	for i, m := range sorted {
		if i > 0 && m == sorted[i-1] {
			return nil, fmt.Errorf("%w: set has repeated members", ErrUnserializable)
		}
		if dst, err = appendCount(dst, len(m)); err != nil {
			return nil, err
		}
		dst = append(dst, m...)
	}
	return dst, nil
}

// appendBinarySet appends a binary set: members sorted by their bytes, each
// length-prefixed.
func appendBinarySet(dst []byte, members [][]byte) ([]byte, error) {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, bytes.Compare)
	dst, err := appendCount(dst, len(sorted))
	if err != nil {
		return nil, err
	}
	for i, m := range sorted {
		if i > 0 && bytes.Equal(m, sorted[i-1]) {
			return nil, fmt.Errorf("%w: set has repeated members", ErrUnserializable)
		}
		if dst, err = appendCount(dst, len(m)); err != nil {
			return nil, err
		}
		dst = append(dst, m...)
	}
	return dst, nil
}

// appendMap appends a map: entries in UTF-16 order of their keys, each a
// string-typed, length-prefixed key and a typed, length-prefixed value.
func appendMap(dst []byte, m map[string]types.AttributeValue, depth int) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if len(k) == 0 || len(k) > math.MaxUint16 || !utf8.ValidString(k) {
			return nil, fmt.Errorf("%w: map key is empty, longer than 65535 bytes or not valid UTF-8", ErrUnserializable)
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, CompareUTF16)
	dst, err := appendCount(dst, len(keys))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		dst = binary.BigEndian.AppendUint16(dst, uint16(TypeString))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(k)))
		dst = append(dst, k...)
		if dst, err = appendPrefixed(dst, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// appendList appends a list: its entries in order, each typed and
// length-prefixed.
func appendList(dst []byte, l []types.AttributeValue, depth int) ([]byte, error) {
	dst, err := appendCount(dst, len(l))
	if err != nil {
		return nil, err
	}
	for _, av := range l {
		if dst, err = appendPrefixed(dst, av, depth+1); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// appendPrefixed appends av's type ID, the length of its serialization and
// the serialization.
func appendPrefixed(dst []byte, av types.AttributeValue, depth int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0)
	dst, t, err := appendValue(dst, av, depth)
	if err != nil {
		return nil, err
	}
	n := len(dst) - start - 6
	if uint64(n) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: a count or length exceeds 2^32-1", ErrUnserializable)
	}
	binary.BigEndian.PutUint16(dst[start:], uint16(t))
	binary.BigEndian.PutUint32(dst[start+2:], uint32(n))
	return dst, nil
}

// appendCount appends a four-byte count or length.
func appendCount(dst []byte, n int) ([]byte, error) {
	if uint64(n) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: a count or length exceeds 2^32-1", ErrUnserializable)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)), nil
}
