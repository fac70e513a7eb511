// Package header is the byte format of dynacrypt's per-item header
// attribute. FORMAT.md at the repository root specifies it:
//
//	offset  size  field
//	0       1     format version (1)
//	1       1     suite id (1 or 2)
//	2       S     per-write random bytes: a 16-byte salt (suite 1) or a
//	              12-byte AES-GCM nonce (suite 2)
//	2+S     2     length L of the wrapped root key, big endian
//	4+S     L     wrapped root key, as the Cipher returned it
//	4+S+L   T     authenticator: a 32-byte HMAC-SHA-256 (suite 1) or a
//	              16-byte AES-GCM tag (suite 2)
//
// Page cursors and legacy manifests use suite 1's signed prefix too.
package header

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// Version is the only header format version this package reads and writes.
	Version = 1
	// SuiteV1 is a key per item write (HKDF-SHA-256 with the write's salt),
	// AES-256-GCM per encrypted attribute and an HMAC-SHA-256 item
	// signature.
	SuiteV1 = 1
	// SuiteV2 is one AES-256-GCM key per root key and one AES-256-GCM
	// encryption per item write, whose associated data is the item's signed
	// attributes and whose tag is the item's authenticator.
	SuiteV2 = 2

	// SaltSize is the length of suite 1's per-write random salt.
	SaltSize = 16
	// MACSize is the length of suite 1's item signature.
	MACSize = 32
	// NonceSize is the length of suite 2's per-write random nonce.
	NonceSize = 12
	// TagSize is the length of suite 2's authenticator, the GCM tag.
	TagSize = 16

	// MaxWrappedSize bounds the wrapped root key so its length fits the
	// two-byte length field.
	MaxWrappedSize = 1<<16 - 1
)

// ErrMalformed is returned (wrapped) by Parse for bytes that are not a header
// this version understands.
var ErrMalformed = errors.New("malformed header")

// Header is a parsed header. Parse returns slices that alias its input.
type Header struct {
	Suite byte
	// Salt is the per-write random field: suite 1's HKDF salt, suite 2's
	// GCM nonce.
	Salt    []byte
	Wrapped []byte // the wrapped root key
	MAC     []byte // the authenticator: HMAC (suite 1) or GCM tag (suite 2)
}

// sizes returns the lengths of a suite's random field and authenticator, or
// zeros for a suite this package does not know.
func sizes(suite byte) (random, auth int) {
	switch suite {
	case SuiteV1:
		return SaltSize, MACSize
	case SuiteV2:
		return NonceSize, TagSize
	}
	return 0, 0
}

// Size returns the encoded length of a header of the suite whose wrapped
// root key is n bytes long.
func Size(suite byte, n int) int {
	random, auth := sizes(suite)
	return 2 + random + 2 + n + auth
}

// AppendSigned appends the part of the header that the authenticator
// covers: every field before it.
func AppendSigned(dst []byte, suite byte, salt, wrapped []byte) ([]byte, error) {
	random, _ := sizes(suite)
	if random == 0 {
		return nil, fmt.Errorf("unknown suite %d", suite)
	}
	if len(salt) != random {
		return nil, fmt.Errorf("suite %d's random field is %d bytes, not %d", suite, random, len(salt))
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
// only; the authenticator is verified by the caller, which has the key.
func Parse(b []byte) (Header, error) {
	h, rest, err := ParseSigned(b)
	if err != nil {
		return Header{}, err
	}
	if _, auth := sizes(h.Suite); len(rest) != auth {
		return Header{}, fmt.Errorf("%w: length does not match its wrapped key length", ErrMalformed)
	}
	h.MAC = rest
	return h, nil
}

// ParseSigned parses the signed part of a header at the start of b (as
// AppendSigned writes it) and returns what follows it. Page cursors and
// manifests use the same prefix before their own payload.
func ParseSigned(b []byte) (h Header, rest []byte, err error) {
	if len(b) < 2 {
		return Header{}, nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != Version {
		return Header{}, nil, fmt.Errorf("%w: unknown format version %d", ErrMalformed, b[0])
	}
	random, _ := sizes(b[1])
	if random == 0 {
		return Header{}, nil, fmt.Errorf("%w: unknown suite %d", ErrMalformed, b[1])
	}
	fixed := 2 + random + 2
	if len(b) < fixed {
		return Header{}, nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2+random:]))
	if n == 0 || len(b) < fixed+n {
		return Header{}, nil, fmt.Errorf("%w: length does not match its wrapped key length", ErrMalformed)
	}
	return Header{Suite: b[1], Salt: b[2 : 2+random], Wrapped: b[fixed : fixed+n]}, b[fixed+n:], nil
}

// Signed returns the prefix of an encoded header that its authenticator
// covers. b must have been accepted by Parse.
func Signed(b []byte) []byte {
	_, auth := sizes(b[1])
	return b[:len(b)-auth]
}
