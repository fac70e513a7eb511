package wire

import (
	"bytes"
	"testing"
)

func TestReader(t *testing.T) {
	r := NewReader([]byte{7, 0, 1, 0, 0, 0, 2, 0, 2, 'h', 'i', 0, 0, 0, 1, 'x', 0, 5, 'a'})
	if v, ok := r.Uint8(); !ok || v != 7 {
		t.Fatal("Uint8")
	}
	if v, ok := r.Uint16(); !ok || v != 1 {
		t.Fatal("Uint16")
	}
	if v, ok := r.Uint32(); !ok || v != 2 {
		t.Fatalf("Uint32 = %d", v)
	}
	r = NewReader([]byte{0, 2, 'h', 'i', 0, 0, 0, 1, 'x', 0, 5, 'a'})
	if v, ok := r.Bytes16(); !ok || string(v) != "hi" || cap(v) != 2 {
		t.Fatalf("Bytes16 = %q, cap %d", v, cap(v))
	}
	if v, ok := r.Bytes32(); !ok || string(v) != "x" {
		t.Fatalf("Bytes32 = %q", v)
	}
	before := r.Len()
	if _, ok := r.Bytes16(); ok || r.Len() != before {
		t.Fatal("a length beyond the input must fail and consume nothing")
	}
	if _, ok := NewReader([]byte{0, 0, 1}).Bytes32(); ok {
		t.Fatal("a truncated length must fail")
	}
	if _, ok := NewReader(nil).Uint8(); ok {
		t.Fatal("Uint8 of nothing")
	}
	if v, ok := NewReader(bytes.Repeat([]byte{1}, 3)).Bytes(3); !ok || len(v) != 3 {
		t.Fatal("Bytes")
	}
}
