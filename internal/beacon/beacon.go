// Package beacon computes dynacrypt's beacons: truncated HMACs of a field's
// plaintext, stored beside its ciphertext so that an index can find the
// items whose field equals a value without decrypting the table. FORMAT.md
// at the repository root specifies them (DESIGN.md section 7).
package beacon

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// KeySize is the length of a beacon key.
const KeySize = 32

const label = "dynacrypt beacon v1"

// Key derives the key of one beacon from the beacon key: HKDF-SHA-256 with
// no salt and info = label || lp(table) || lp(beacon name), followed by
// lp(tenant) for a tenant's beacon, where lp is a 2-byte big-endian length
// and the bytes. Each beacon of each table (and tenant) has its own key, so
// equal values under two beacons, tables or tenants do not match.
func Key(beaconKey []byte, table, name, tenant string) ([]byte, error) {
	if len(beaconKey) != KeySize {
		return nil, fmt.Errorf("beacon key is %d bytes, want %d", len(beaconKey), KeySize)
	}
	if len(table) > 0xffff || len(name) > 0xffff || len(tenant) > 0xffff {
		return nil, errors.New("table, beacon name or tenant too long")
	}
	info := []byte(label)
	info = binary.BigEndian.AppendUint16(info, uint16(len(table)))
	info = append(info, table...)
	info = binary.BigEndian.AppendUint16(info, uint16(len(name)))
	info = append(info, name...)
	if tenant != "" {
		info = binary.BigEndian.AppendUint16(info, uint16(len(tenant)))
		info = append(info, tenant...)
	}
	return hkdf.Key(sha256.New, beaconKey, nil, string(info), sha256.Size)
}

// Normalize returns v as the beacon sees it: with lower, a string is
// lower-cased; with trim, it loses leading and trailing white space. Other
// types are as they are.
func Normalize(v types.AttributeValue, lower, trim bool) types.AttributeValue {
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok || (!lower && !trim) {
		return v
	}
	out := s.Value
	if trim {
		out = strings.TrimSpace(out)
	}
	if lower {
		out = strings.ToLower(out)
	}
	return &types.AttributeValueMemberS{Value: out}
}

// A Beacon computes the values of one beacon: its key's HMAC states are
// kept in a pool and reset, not made again for every value.
type Beacon struct {
	bits  int
	pool  sync.Pool
	width int // hex digits
}

type state struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// New returns the Beacon of a derived key (Key) that keeps bits (1 to 63)
// bits.
func New(key []byte, bits int) (*Beacon, error) {
	if bits < 1 || bits > 63 {
		return nil, fmt.Errorf("a beacon keeps 1 to 63 bits, not %d", bits)
	}
	key = bytes.Clone(key)
	b := &Beacon{bits: bits, width: (bits + 3) / 4}
	b.pool.New = func() any { return &state{mac: hmac.New(sha256.New, key)} }
	return b, nil
}

// Value returns the beacon of a (normalised) value: HMAC-SHA-256 under the
// beacon's key of the value's canonical encoding, its first 8 bytes as a
// big-endian integer, the low bits of it, in lower-case hex of (bits+3)/4
// digits.
func (b *Beacon) Value(v types.AttributeValue) (string, error) {
	st := b.pool.Get().(*state)
	defer b.pool.Put(st)
	enc, err := canonical.Append(st.buf[:0], v)
	if err != nil {
		return "", err
	}
	st.buf = enc
	st.mac.Reset()
	st.mac.Write(enc)
	sum := st.mac.Sum(st.sum[:0])
	n := binary.BigEndian.Uint64(sum) & (1<<b.bits - 1)
	var digits [16]byte
	for i := b.width - 1; i >= 0; i-- {
		digits[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return string(digits[:b.width]), nil
}
