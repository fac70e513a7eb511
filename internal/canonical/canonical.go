// Package canonical is the byte encoding of DynamoDB attribute values that
// dynacrypt signs and encrypts.
//
// The encoding is a function of the value as DynamoDB stores it, not of how
// it was written: map keys and set members are sorted, numbers are
// normalized (see NormalizeNumber). So an item signed before PutItem verifies
// after GetItem, even though the server reorders sets and rewrites "1.50" as
// "1.5". Decode accepts only canonical input, so every value has exactly one
// encoding. FORMAT.md at the repository root specifies the bytes.
package canonical

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Type tags, one byte before every encoded value.
const (
	tagS    = 0x01
	tagN    = 0x02
	tagB    = 0x03
	tagBOOL = 0x04
	tagNULL = 0x05
	tagSS   = 0x06
	tagNS   = 0x07
	tagBS   = 0x08
	tagL    = 0x09
	tagM    = 0x0a
)

// MaxDepth is how deeply lists and maps may nest, the limit DynamoDB sets.
const MaxDepth = 32

// ErrInvalid is returned (wrapped) by Decode for input that is not the
// canonical encoding of a value.
var ErrInvalid = errors.New("value not in canonical encoding")

// Append appends the canonical encoding of av to dst and returns the
// extended buffer. It refuses what DynamoDB would not store as given:
// strings, set members and map keys that are not valid UTF-8 (the SDK's JSON
// encoder would write U+FFFD instead, so the stored value would no longer be
// the one signed), sets with repeated members, numbers out of range, and
// nesting deeper than MaxDepth, and nil values (IsNil). Its errors never
// quote the value.
func Append(dst []byte, av types.AttributeValue) ([]byte, error) {
	return appendValue(dst, av, 0)
}

func appendValue(dst []byte, av types.AttributeValue, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("lists and maps nest deeper than %d levels", MaxDepth)
	}
	// Each case refuses its own nil pointer: a check of the interface
	// before the switch would cost a second type switch per value.
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		if v == nil {
			return nil, errNil
		}
		if !utf8.ValidString(v.Value) {
			return nil, errUTF8
		}
		dst = append(dst, tagS)
		return appendString(dst, v.Value), nil
	case *types.AttributeValueMemberN:
		if v == nil {
			return nil, errNil
		}
		n, err := NormalizeNumber(v.Value)
		if err != nil {
			return nil, err
		}
		dst = append(dst, tagN)
		return appendString(dst, n), nil
	case *types.AttributeValueMemberB:
		if v == nil {
			return nil, errNil
		}
		return append(AppendBinaryPrefix(dst, len(v.Value)), v.Value...), nil
	case *types.AttributeValueMemberBOOL:
		if v == nil {
			return nil, errNil
		}
		b := byte(0)
		if v.Value {
			b = 1
		}
		return append(dst, tagBOOL, b), nil
	case *types.AttributeValueMemberNULL:
		if v == nil {
			return nil, errNil
		}
		return append(dst, tagNULL), nil
	case *types.AttributeValueMemberSS:
		if v == nil {
			return nil, errNil
		}
		return appendStringSet(dst, tagSS, v.Value)
	case *types.AttributeValueMemberNS:
		if v == nil {
			return nil, errNil
		}
		members := make([]string, len(v.Value))
		for i, s := range v.Value {
			n, err := NormalizeNumber(s)
			if err != nil {
				return nil, err
			}
			members[i] = n
		}
		return appendStringSet(dst, tagNS, members)
	case *types.AttributeValueMemberBS:
		if v == nil {
			return nil, errNil
		}
		members := slices.Clone(v.Value)
		slices.SortFunc(members, bytes.Compare)
		dst = append(dst, tagBS)
		dst = binary.AppendUvarint(dst, uint64(len(members)))
		for i, m := range members {
			if i > 0 && bytes.Equal(members[i-1], m) {
				return nil, errDuplicate
			}
			dst = binary.AppendUvarint(dst, uint64(len(m)))
			dst = append(dst, m...)
		}
		return dst, nil
	case *types.AttributeValueMemberL:
		if v == nil {
			return nil, errNil
		}
		dst = append(dst, tagL)
		dst = binary.AppendUvarint(dst, uint64(len(v.Value)))
		var err error
		for _, e := range v.Value {
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *types.AttributeValueMemberM:
		if v == nil {
			return nil, errNil
		}
		return appendMap(dst, v.Value, depth)
	default:
		if IsNil(av) {
			return nil, errNil
		}
		return nil, fmt.Errorf("unsupported attribute value %T", av)
	}
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// errDuplicate mirrors DynamoDB, which rejects sets with repeated members;
// a canonical set has each member once.
var errDuplicate = errors.New("set has repeated members, which DynamoDB rejects")

// errUTF8 is Append's error for a string that is not valid UTF-8.
var errUTF8 = errors.New("string is not valid UTF-8 (DynamoDB would store U+FFFD in place of the invalid bytes)")

func appendStringSet(dst []byte, tag byte, members []string) ([]byte, error) {
	if !sort.StringsAreSorted(members) {
		members = slices.Clone(members)
		sort.Strings(members)
	}
	dst = append(dst, tag)
	dst = binary.AppendUvarint(dst, uint64(len(members)))
	for i, m := range members {
		if i > 0 && members[i-1] == m {
			return nil, errDuplicate
		}
		if tag == tagSS && !utf8.ValidString(m) {
			return nil, errUTF8
		}
		dst = appendString(dst, m)
	}
	return dst, nil
}

func appendMap(dst []byte, m map[string]types.AttributeValue, depth int) ([]byte, error) {
	keys := SortedKeys(m)
	dst = append(dst, tagM)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	var err error
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("map key: %w", errUTF8)
		}
		dst = appendString(dst, k)
		if dst, err = appendValue(dst, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// SortedKeys returns the keys of m in ascending byte order, the order the
// canonical encoding and the item signature use.
func SortedKeys(m map[string]types.AttributeValue) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// AppendBinaryPrefix appends what the canonical encoding of a B value of n
// bytes puts before the bytes themselves, for callers that hash the value
// without copying it.
func AppendBinaryPrefix(dst []byte, n int) []byte {
	dst = append(dst, tagB)
	return binary.AppendUvarint(dst, uint64(n))
}

// AppendName appends an attribute name as the signature encodes it: its
// length as a uvarint, then its bytes.
func AppendName(dst []byte, name string) []byte {
	return appendString(dst, name)
}
