package structure

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/wire"
)

// Header and footer attribute names, and the prefix DB-ESDK reserves.
const (
	HeaderAttr     = "aws_dbe_head"
	FooterAttr     = "aws_dbe_foot"
	ReservedPrefix = "aws_dbe_"
)

// Encrypt legend bytes: one per signed attribute, in canonical path order.
const (
	legendEncrypt = 'e' // ENCRYPT_AND_SIGN
	legendSign    = 's' // SIGN_ONLY
	legendContext = 'c' // SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT
)

// maxEDKs is how many encrypted data keys the header's one-byte count holds.
const maxEDKs = math.MaxUint8

// Header is a parsed aws_dbe_head value (header.md). A parsed Header does
// not alias its input.
type Header struct {
	// Version is the format version: 2 when some attribute is
	// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, else 1.
	Version byte
	// Suite is the algorithm suite the flavor byte names.
	Suite suite.ID
	// MessageID is the record's random message ID.
	MessageID [suite.MessageIDSize]byte
	// Legend has one byte per signed attribute, in canonical path order:
	// 'e' (ENCRYPT_AND_SIGN), 's' (SIGN_ONLY) or 'c'
	// (SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT).
	Legend []byte
	// Context is the stored encryption context: the record's context
	// without the keys the reader reproduces from the item.
	Context Context
	// EDKs are the encrypted data keys, one per recipient.
	EDKs []EDK
	// Commitment binds the header to the data key.
	Commitment [suite.CommitmentSize]byte
}

// minHeaderSize is a header with an empty legend and context and one empty
// EDK: version, flavor, message ID, legend length, context count, EDK count,
// the EDK's three lengths and the commitment.
const minHeaderSize = 1 + 1 + suite.MessageIDSize + 2 + 2 + 1 + 3*2 + suite.CommitmentSize

// ParseHeader parses a header attribute's value. It checks the form only;
// the commitment is checked against the data key by the decryptor.
func ParseHeader(b []byte) (*Header, error) {
	h := &Header{}
	if err := parseHeader(h, bytes.Clone(b)); err != nil { // the parsed header holds a copy
		return nil, err
	}
	return h, nil
}

// parseHeader is ParseHeader into h, whose Context and EDKs it appends to,
// aliasing b: for a decryption, which is done with the header before the
// caller gets the item back.
func parseHeader(h *Header, b []byte) error {
	if len(b) < minHeaderSize {
		return malformed("header", "too short")
	}
	h.Version = b[0]
	if h.Version != 1 && h.Version != 2 {
		return malformed("header", fmt.Sprintf("unknown format version %d", h.Version))
	}
	var err error
	if h.Suite, err = suite.FromFlavor(b[1]); err != nil {
		return malformed("header", err.Error())
	}
	copy(h.MessageID[:], b[2:])
	r := wire.NewReader(b[2+suite.MessageIDSize : len(b)-suite.CommitmentSize])
	copy(h.Commitment[:], b[len(b)-suite.CommitmentSize:])

	legend, ok := r.Bytes16()
	if !ok {
		return malformed("header", "truncated encrypt legend")
	}
	for _, c := range legend {
		if c != legendEncrypt && c != legendSign && c != legendContext {
			return malformed("header", "invalid byte in encrypt legend")
		}
	}
	h.Legend = legend

	count, ok := r.Uint16()
	if !ok {
		return malformed("header", "truncated encryption context")
	}
	for range count {
		k, ok1 := r.Bytes16()
		v, ok2 := r.Bytes16()
		if !ok1 || !ok2 {
			return malformed("header", "truncated encryption context")
		}
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return malformed("header", "encryption context is not valid UTF-8")
		}
		key := string(k)
		if n := len(h.Context); n > 0 && strings.Compare(h.Context[n-1].Key, key) >= 0 {
			return malformed("header", "encryption context keys out of order or repeated")
		}
		h.Context = append(h.Context, Pair{Key: key, Value: string(v)})
	}

	n, ok := r.Uint8()
	if !ok || n == 0 {
		return malformed("header", "no encrypted data keys")
	}
	for range n {
		id, ok1 := r.Bytes16()
		info, ok2 := r.Bytes16()
		ct, ok3 := r.Bytes16()
		if !ok1 || !ok2 || !ok3 {
			return malformed("header", "truncated encrypted data key")
		}
		if !utf8.Valid(id) {
			return malformed("header", "key provider ID is not valid UTF-8")
		}
		h.EDKs = append(h.EDKs, EDK{ProviderID: string(id), ProviderInfo: info, Ciphertext: ct})
	}
	if r.Len() != 0 {
		return malformed("header", "bytes after the encrypted data keys")
	}
	return nil
}

// AppendPartial appends the header without its commitment (header.md,
// "Partial Header"), which the commitment authenticates.
func (h *Header) AppendPartial(dst []byte) ([]byte, error) {
	if len(h.Legend) > math.MaxUint16 {
		return nil, fmt.Errorf("more than 65535 signed attributes")
	}
	if len(h.EDKs) == 0 || len(h.EDKs) > maxEDKs {
		return nil, fmt.Errorf("%d encrypted data keys: need 1 to %d", len(h.EDKs), maxEDKs)
	}
	dst = append(dst, h.Version, h.Suite.Flavor())
	dst = append(dst, h.MessageID[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Legend)))
	dst = append(dst, h.Legend...)
	dst = appendContext(dst, h.Context)
	dst = append(dst, byte(len(h.EDKs)))
	for _, k := range h.EDKs {
		if len(k.ProviderID) > math.MaxUint16 || len(k.ProviderInfo) > math.MaxUint16 || len(k.Ciphertext) > math.MaxUint16 {
			return nil, fmt.Errorf("encrypted data key field longer than 65535 bytes")
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k.ProviderID)))
		dst = append(dst, k.ProviderID...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k.ProviderInfo)))
		dst = append(dst, k.ProviderInfo...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k.Ciphertext)))
		dst = append(dst, k.Ciphertext...)
	}
	return dst, nil
}

// size returns the length of the full header.
func (h *Header) size() int {
	n := 1 + 1 + suite.MessageIDSize + 2 + len(h.Legend) + contextSize(h.Context) + 1 + suite.CommitmentSize
	for _, k := range h.EDKs {
		n += 3*2 + len(k.ProviderID) + len(k.ProviderInfo) + len(k.Ciphertext)
	}
	return n
}

// Append appends the full header: the partial header and the commitment.
func (h *Header) Append(dst []byte) ([]byte, error) {
	dst, err := h.AppendPartial(dst)
	if err != nil {
		return nil, err
	}
	return append(dst, h.Commitment[:]...), nil
}

func malformed(where, what string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, where, what)
}
