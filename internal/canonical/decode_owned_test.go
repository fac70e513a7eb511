package canonical

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestDecodeOwnedDecodesAsDecode(t *testing.T) {
	for name, av := range sampleValues() {
		enc, err := Append(nil, av)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := DecodeOwned(bytes.Clone(enc))
		if err != nil {
			t.Fatalf("%s: DecodeOwned: %v", name, err)
		}
		if !reflect.DeepEqual(got, av) {
			t.Errorf("%s: DecodeOwned gave %#v, want %#v", name, got, av)
		}
	}
}

// within reports whether p points into b.
func within(p *byte, b []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return uintptr(unsafe.Pointer(p)) >= start && uintptr(unsafe.Pointer(p)) < start+uintptr(len(b))
}

// TestDecodeOwnedSharesTheBuffer: the values DecodeOwned returns are the
// buffer's bytes, not copies, and a byte slice among them cannot grow
// over the value that follows it.
func TestDecodeOwnedSharesTheBuffer(t *testing.T) {
	text := strings.Repeat("a large text ", 100)
	enc, err := Append(nil, &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberB{Value: []byte("bin")},
		&types.AttributeValueMemberS{Value: text},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"key": &types.AttributeValueMemberN{Value: "12"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	av, err := DecodeOwned(enc)
	if err != nil {
		t.Fatal(err)
	}
	list := av.(*types.AttributeValueMemberL).Value
	b, s := list[0].(*types.AttributeValueMemberB).Value, list[1].(*types.AttributeValueMemberS).Value
	m := list[2].(*types.AttributeValueMemberM).Value
	var key string
	for k := range m {
		key = k
	}
	n := m[key].(*types.AttributeValueMemberN).Value
	for what, p := range map[string]*byte{"binary": &b[0], "string": unsafe.StringData(s), "map key": unsafe.StringData(key), "number": unsafe.StringData(n)} {
		if !within(p, enc) {
			t.Errorf("the %s is a copy, not the buffer's bytes", what)
		}
	}
	if cap(b) != len(b) {
		t.Errorf("the binary has room for %d more bytes, which belong to the next value", cap(b)-len(b))
	}
	_ = append(b, strings.Repeat("X", 20)...)
	if list[1].(*types.AttributeValueMemberS).Value != text {
		t.Error("appending to the binary changed the string after it")
	}
}
