// Package header is the byte format of dynacrypt's per-item header
// attribute. FORMAT.md at the repository root specifies it:
//
//	offset  size  field
//	0       1     format version (1)
//	1       1     suite id (1: HKDF-SHA-256, AES-256-GCM, HMAC-SHA-256)
//	2       16    salt
//	18      2     length L of the wrapped root key, big endian
//	20      L     wrapped root key, as the Cipher returned it
//	20+L    32    HMAC-SHA-256 over the signed part and the signed attributes
package header

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// Version is the only header format version this package reads and writes.
	Version = 1
	// SuiteV1 is HKDF-SHA-256 key derivation, AES-256-GCM field
	// encryption and an HMAC-SHA-256 item signature.
	SuiteV1 = 1

	// SaltSize is the length of the per-write random salt.
	SaltSize = 16
	// MACSize is the length of the item signature.
	MACSize = 32

	fixedSize = 2 + SaltSize + 2
	// MaxWrappedSize bounds the wrapped root key so its length fits the
	// two-byte length field.
	MaxWrappedSize = 1<<16 - 1
)

// ErrMalformed is returned (wrapped) by Parse for bytes that are not a header
// this version understands.
var ErrMalformed = errors.New("malformed header")

// Header is a parsed header. Parse returns slices that alias its input.
type Header struct {
	Suite   byte
	Salt    []byte // SaltSize bytes
	Wrapped []byte // the wrapped root key
	MAC     []byte // MACSize bytes
}

// Size returns the encoded length of a header whose wrapped root key is n
// bytes long.
func Size(n int) int { return fixedSize + n + MACSize }

// AppendSigned appends the part of the header that the signature covers:
// every field before the MAC.
func AppendSigned(dst []byte, suite byte, salt, wrapped []byte) ([]byte, error) {
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("salt is %d bytes, want %d", len(salt), SaltSize)
	}
	if len(wrapped) == 0 || len(wrapped) > MaxWrappedSize {
		return nil, fmt.Errorf("wrapped root key is %d bytes, want 1 to %d", len(wrapped), MaxWrappedSize)
	}
	dst = append(dst, Version, suite)
	dst = append(dst, salt...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(wrapped)))
	return append(dst, wrapped...), nil
}

// Parse splits an encoded header into its fields. It checks the structure
// only; the MAC is verified by the caller, which has the key.
func Parse(b []byte) (Header, error) {
	h, rest, err := ParseSigned(b)
	if err != nil {
		return Header{}, err
	}
	if len(rest) != MACSize {
		return Header{}, fmt.Errorf("%w: length does not match its wrapped key length", ErrMalformed)
	}
	h.MAC = rest
	return h, nil
}

// ParseSigned parses the signed part of a header at the start of b (as
// AppendSigned writes it) and returns what follows it. Page cursors use the
// same prefix before their own payload.
func ParseSigned(b []byte) (h Header, rest []byte, err error) {
	if len(b) < fixedSize {
		return Header{}, nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != Version {
		return Header{}, nil, fmt.Errorf("%w: unknown format version %d", ErrMalformed, b[0])
	}
	if b[1] != SuiteV1 {
		return Header{}, nil, fmt.Errorf("%w: unknown suite %d", ErrMalformed, b[1])
	}
	n := int(binary.BigEndian.Uint16(b[2+SaltSize:]))
	if n == 0 || len(b) < fixedSize+n {
		return Header{}, nil, fmt.Errorf("%w: length does not match its wrapped key length", ErrMalformed)
	}
	return Header{Suite: b[1], Salt: b[2 : 2+SaltSize], Wrapped: b[fixedSize : fixedSize+n]}, b[fixedSize+n:], nil
}

// Signed returns the prefix of an encoded header that its MAC covers. b must
// have been accepted by Parse.
func Signed(b []byte) []byte { return b[:len(b)-MACSize] }
