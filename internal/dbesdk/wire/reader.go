// Package wire reads the big-endian, length-prefixed fields that DB-ESDK's
// serializations (attribute values, header) are made of.
package wire

import "encoding/binary"

// Reader consumes fields from the front of a byte slice. Each method
// returns false, consuming nothing, when too few bytes remain.
type Reader struct {
	b []byte
}

// NewReader returns a Reader of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Len returns how many bytes remain.
func (r *Reader) Len() int { return len(r.b) }

// Uint8 reads one byte.
func (r *Reader) Uint8() (byte, bool) {
	if len(r.b) < 1 {
		return 0, false
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v, true
}

// Uint16 reads a two-byte big-endian integer.
func (r *Reader) Uint16() (uint16, bool) {
	if len(r.b) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v, true
}

// Uint32 reads a four-byte big-endian integer.
func (r *Reader) Uint32() (uint32, bool) {
	if len(r.b) < 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, true
}

// Bytes reads n bytes. The slice aliases the input, capped so that an
// append to it cannot overwrite what follows.
func (r *Reader) Bytes(n uint64) ([]byte, bool) {
	if uint64(len(r.b)) < n {
		return nil, false
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, true
}

// Bytes16 reads a two-byte length and that many bytes.
func (r *Reader) Bytes16() ([]byte, bool) {
	save := r.b
	n, ok := r.Uint16()
	return r.prefixed(save, uint64(n), ok)
}

// Bytes32 reads a four-byte length and that many bytes.
func (r *Reader) Bytes32() ([]byte, bool) {
	save := r.b
	n, ok := r.Uint32()
	return r.prefixed(save, uint64(n), ok)
}

// prefixed reads the n bytes a length promised, or puts the reader back to
// save.
func (r *Reader) prefixed(save []byte, n uint64, ok bool) ([]byte, bool) {
	if ok {
		if v, ok := r.Bytes(n); ok {
			return v, true
		}
	}
	r.b = save
	return nil, false
}
