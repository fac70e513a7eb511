package ddbser

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/wire"
)

// ErrMalformed is returned (wrapped) by Decode for bytes that are not the
// serialization of a value of the given type.
var ErrMalformed = errors.New("malformed serialized attribute value")

// Decode returns the attribute value of type t whose serialization is b. The
// value does not alias b. Its errors never quote the value.
func Decode(t TypeID, b []byte) (types.AttributeValue, error) {
	return decodeValue(t, b, 1)
}

func malformed(what string) error {
	return fmt.Errorf("%w: %s", ErrMalformed, what)
}

// decodeValue decodes a value of type t that is exactly b.
func decodeValue(t TypeID, b []byte, depth int) (types.AttributeValue, error) {
	if depth > MaxDepth {
		return nil, malformed(fmt.Sprintf("lists and maps nest deeper than %d levels", MaxDepth))
	}
	switch t {
	case TypeNull:
		if len(b) != 0 {
			return nil, malformed("NULL with a value")
		}
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case TypeString:
		if !utf8.Valid(b) {
			return nil, malformed("string is not valid UTF-8")
		}
		return &types.AttributeValueMemberS{Value: string(b)}, nil
	case TypeNumber:
		n := string(b)
		if _, err := NormalizeNumber(n); err != nil {
			return nil, malformed("number: " + err.Error())
		}
		return &types.AttributeValueMemberN{Value: n}, nil
	case TypeBinary:
		return &types.AttributeValueMemberB{Value: bytes.Clone(b)}, nil
	case TypeBool:
		if len(b) != 1 || b[0] > 1 {
			return nil, malformed("boolean is not one byte 0x00 or 0x01")
		}
		return &types.AttributeValueMemberBOOL{Value: b[0] == 1}, nil
	case TypeStringSet, TypeNumberSet:
		members, err := decodeStringSet(b, t == TypeNumberSet)
		if err != nil {
			return nil, err
		}
		if t == TypeNumberSet {
			return &types.AttributeValueMemberNS{Value: members}, nil
		}
		return &types.AttributeValueMemberSS{Value: members}, nil
	case TypeBinarySet:
		members, err := decodeBinarySet(b)
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberBS{Value: members}, nil
	case TypeMap:
		return decodeMap(b, depth)
	case TypeList:
		return decodeList(b, depth)
	}
	return nil, malformed("unknown type ID")
}

// readCount reads a four-byte entry count. Every entry takes at least min
// bytes, which bounds what a count can claim before the entries are read.
func readCount(r *wire.Reader, min int) (int, error) {
	n, ok := r.Uint32()
	if !ok {
		return 0, malformed("truncated count")
	}
	if uint64(n)*uint64(min) > uint64(r.Len()) {
		return 0, malformed("count exceeds the bytes that follow")
	}
	return int(n), nil
}

func decodeStringSet(b []byte, numbers bool) ([]string, error) {
	r := wire.NewReader(b)
	n, err := readCount(r, 4)
	if err != nil {
		return nil, err
	}
	members := make([]string, n)
	sorted := make([]string, n) // numbers normalized, for the repeat check
	for i := range members {
		m, ok := r.Bytes32()
		if !ok {
			return nil, malformed("truncated set member")
		}
		if !utf8.Valid(m) {
			return nil, malformed("set member is not valid UTF-8")
		}
		members[i], sorted[i] = string(m), string(m)
		if numbers {
			norm, err := NormalizeNumber(members[i])
			if err != nil {
				return nil, malformed("number set member: " + err.Error())
			}
			sorted[i] = norm
		}
	}
	if r.Len() != 0 {
		return nil, malformed("bytes after the last set member")
	}
	slices.Sort(sorted)
	if hasRepeat(sorted, strings.Compare) {
		return nil, malformed("set has repeated members")
	}
	return members, nil
}

func decodeBinarySet(b []byte) ([][]byte, error) {
	r := wire.NewReader(b)
	n, err := readCount(r, 4)
	if err != nil {
		return nil, err
	}
	members := make([][]byte, n)
	for i := range members {
		m, ok := r.Bytes32()
		if !ok {
			return nil, malformed("truncated set member")
		}
		members[i] = bytes.Clone(m)
	}
	if r.Len() != 0 {
		return nil, malformed("bytes after the last set member")
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, bytes.Compare)
	if hasRepeat(sorted, bytes.Compare) {
		return nil, malformed("set has repeated members")
	}
	return members, nil
}

// hasRepeat reports whether two neighbours in sorted are equal.
func hasRepeat[T any](sorted []T, cmp func(T, T) int) bool {
	for i := 1; i < len(sorted); i++ {
		if cmp(sorted[i-1], sorted[i]) == 0 {
			return true
		}
	}
	return false
}

func decodeMap(b []byte, depth int) (types.AttributeValue, error) {
	r := wire.NewReader(b)
	n, err := readCount(r, 2+4+1+2+4)
	if err != nil {
		return nil, err
	}
	m := make(map[string]types.AttributeValue, n)
	for range n {
		kt, ok := r.Uint16()
		if !ok {
			return nil, malformed("truncated map key")
		}
		if TypeID(kt) != TypeString {
			return nil, malformed("map key is not a string")
		}
		k, ok := r.Bytes32()
		if !ok {
			return nil, malformed("truncated map key")
		}
		if len(k) == 0 || len(k) > 65535 || !utf8.Valid(k) {
			return nil, malformed("map key is empty, longer than 65535 bytes or not valid UTF-8")
		}
		av, err := decodePrefixed(r, depth+1)
		if err != nil {
			return nil, err
		}
		key := string(k)
		if _, dup := m[key]; dup {
			return nil, malformed("map has repeated keys")
		}
		m[key] = av
	}
	if r.Len() != 0 {
		return nil, malformed("bytes after the last map entry")
	}
	return &types.AttributeValueMemberM{Value: m}, nil
}

func decodeList(b []byte, depth int) (types.AttributeValue, error) {
	r := wire.NewReader(b)
	n, err := readCount(r, 2+4)
	if err != nil {
		return nil, err
	}
	l := make([]types.AttributeValue, n)
	for i := range l {
		if l[i], err = decodePrefixed(r, depth+1); err != nil {
			return nil, err
		}
	}
	if r.Len() != 0 {
		return nil, malformed("bytes after the last list entry")
	}
	return &types.AttributeValueMemberL{Value: l}, nil
}

// decodePrefixed reads a type ID, a length and a value of that type and
// length.
func decodePrefixed(r *wire.Reader, depth int) (types.AttributeValue, error) {
	t, ok := r.Uint16()
	if !ok {
		return nil, malformed("truncated type ID")
	}
	v, ok := r.Bytes32()
	if !ok {
		return nil, malformed("truncated value")
	}
	return decodeValue(TypeID(t), v, depth)
}
