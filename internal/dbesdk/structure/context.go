package structure

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Pair is one entry of an encryption context.
type Pair struct {
	Key, Value string
}

// Context is an encryption context: its pairs sorted by key, in byte
// (UTF-8) order, keys unique. The zero value is the empty context.
type Context []Pair

// Get returns the value of key and whether it is present.
func (c Context) Get(key string) (string, bool) {
	i, ok := slices.BinarySearchFunc(c, key, func(p Pair, k string) int { return strings.Compare(p.Key, k) })
	if !ok {
		return "", false
	}
	return c[i].Value, true
}

// sortContext sorts pairs by key and refuses repeated keys and what the
// serialization cannot hold.
func sortContext(pairs []Pair) (Context, error) {
	slices.SortFunc(pairs, func(a, b Pair) int { return cmp.Compare(a.Key, b.Key) })
	if len(pairs) > math.MaxUint16 {
		return nil, fmt.Errorf("encryption context has more than 65535 entries")
	}
	for i, p := range pairs {
		if i > 0 && p.Key == pairs[i-1].Key {
			return nil, fmt.Errorf("encryption context key %q appears twice", p.Key)
		}
		if len(p.Key) > math.MaxUint16 || len(p.Value) > math.MaxUint16 || !utf8.ValidString(p.Key) || !utf8.ValidString(p.Value) {
			return nil, fmt.Errorf("encryption context entry %q is longer than 65535 bytes or not valid UTF-8", p.Key)
		}
	}
	return Context(pairs), nil
}

// appendContext appends the header's serialization of c (header.md,
// "Encryption Context"): a two-byte count, then each key and value
// length-prefixed. The canonical hash uses it too.
func appendContext(dst []byte, c Context) []byte {
	dst = slices.Grow(dst, contextSize(c))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(c)))
	for _, p := range c {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Key)))
		dst = append(dst, p.Key...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Value)))
		dst = append(dst, p.Value...)
	}
	return dst
}

// contextSize returns the length of appendContext's serialization of c.
func contextSize(c Context) int {
	size := 2
	for _, p := range c {
		size += 4 + len(p.Key) + len(p.Value)
	}
	return size
}

// AppendAAD appends the material providers' serialization of c
// (mpl/framework/structures.md, "Serialization"), which keyrings
// authenticate: the header's, except that the empty context is no bytes.
func (c Context) AppendAAD(dst []byte) []byte {
	if len(c) == 0 {
		return dst
	}
	return appendContext(dst, c)
}
