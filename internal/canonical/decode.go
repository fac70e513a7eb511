package canonical

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Decode parses the canonical encoding of one value. It rejects anything
// Append would not have produced: unknown tags, trailing bytes, overlong
// lengths, unsorted or repeated set members and map keys, numbers that are
// not normalized, nesting deeper than MaxDepth. Decoded strings and byte
// slices do not alias b.
func Decode(b []byte) (types.AttributeValue, error) {
	return decode(decoder{buf: b})
}

// DecodeOwned is Decode of a buffer handed over with the call: the decoded
// strings and byte slices share b's memory instead of copying it, so
// nothing may write to b afterwards but the holders of those byte slices,
// each to its own. It is for a plaintext just decrypted into a buffer of
// its own, whose values then cost no copy. Each byte slice is capped at its
// own end, so that appending to it cannot write over what follows.
func DecodeOwned(b []byte) (types.AttributeValue, error) {
	return decode(decoder{buf: b, owned: true})
}

func decode(d decoder) (types.AttributeValue, error) {
	av, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if len(d.buf) != 0 {
		return nil, d.fail("trailing bytes")
	}
	return av, nil
}

type decoder struct {
	buf   []byte
	owned bool // DecodeOwned: values share buf
}

// str returns b as a string, sharing its memory if the decoder owns it.
func (d *decoder) str(b []byte) string {
	if d.owned && len(b) > 0 {
		return unsafe.String(&b[0], len(b)) // b never changes: DecodeOwned's contract
	}
	return string(b)
}

// bin returns b as a value of its own, sharing its memory if the decoder
// owns it.
func (d *decoder) bin(b []byte) []byte {
	if d.owned {
		return b[:len(b):len(b)]
	}
	return bytes.Clone(b)
}

func (d *decoder) fail(what string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, what)
}

func (d *decoder) value(depth int) (types.AttributeValue, error) {
	if depth > MaxDepth {
		return nil, d.fail("nesting too deep")
	}
	if len(d.buf) == 0 {
		return nil, d.fail("truncated")
	}
	tag := d.buf[0]
	d.buf = d.buf[1:]
	switch tag {
	case tagS:
		s, err := d.bytes()
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberS{Value: d.str(s)}, nil
	case tagN:
		n, err := d.number()
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberN{Value: n}, nil
	case tagB:
		b, err := d.bytes()
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberB{Value: d.bin(b)}, nil
	case tagBOOL:
		if len(d.buf) == 0 || d.buf[0] > 1 {
			return nil, d.fail("bad boolean")
		}
		v := d.buf[0] == 1
		d.buf = d.buf[1:]
		return &types.AttributeValueMemberBOOL{Value: v}, nil
	case tagNULL:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case tagSS, tagNS, tagBS:
		return d.set(tag)
	case tagL:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		list := make([]types.AttributeValue, n)
		for i := range list {
			if list[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberL{Value: list}, nil
	case tagM:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		m := make(map[string]types.AttributeValue, n)
		var prev []byte
		for i := 0; i < n; i++ {
			k, err := d.bytes()
			if err != nil {
				return nil, err
			}
			if i > 0 && bytes.Compare(prev, k) >= 0 {
				return nil, d.fail("map keys not in ascending order")
			}
			prev = k
			if m[d.str(k)], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	default:
		return nil, d.fail(fmt.Sprintf("unknown type tag 0x%02x", tag))
	}
}

func (d *decoder) set(tag byte) (types.AttributeValue, error) {
	n, err := d.count()
	if err != nil {
		return nil, err
	}
	var prev []byte
	var ss []string
	var bs [][]byte
	for i := 0; i < n; i++ {
		m, err := d.bytes()
		if err != nil {
			return nil, err
		}
		if i > 0 && bytes.Compare(prev, m) >= 0 {
			return nil, d.fail("set members not in ascending order")
		}
		prev = m
		switch tag {
		case tagBS:
			bs = append(bs, d.bin(m))
		case tagNS:
			if err := checkNumber(m); err != nil {
				return nil, err
			}
			ss = append(ss, d.str(m))
		default:
			ss = append(ss, d.str(m))
		}
	}
	switch tag {
	case tagSS:
		return &types.AttributeValueMemberSS{Value: ss}, nil
	case tagNS:
		return &types.AttributeValueMemberNS{Value: ss}, nil
	default:
		return &types.AttributeValueMemberBS{Value: bs}, nil
	}
}

func (d *decoder) number() (string, error) {
	b, err := d.bytes()
	if err != nil {
		return "", err
	}
	if err := checkNumber(b); err != nil {
		return "", err
	}
	return d.str(b), nil
}

// checkNumber accepts only numbers already in normal form.
func checkNumber(b []byte) error {
	n, err := NormalizeNumber(string(b))
	if err != nil || n != string(b) {
		return fmt.Errorf("%w: number not in normal form", ErrInvalid)
	}
	return nil
}

// uvarint reads a minimally encoded uvarint.
func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 || n != uvarintLen(v) {
		return 0, d.fail("bad length")
	}
	d.buf = d.buf[n:]
	return v, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// bytes reads a length-prefixed byte string; the result aliases the input.
func (d *decoder) bytes() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.buf)) {
		return nil, d.fail("truncated")
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b, nil
}

// count reads an element count. Every element takes at least one byte, so a
// count larger than what is left is rejected before anything is allocated.
func (d *decoder) count() (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.buf)) {
		return 0, d.fail("count exceeds input")
	}
	return int(n), nil
}
