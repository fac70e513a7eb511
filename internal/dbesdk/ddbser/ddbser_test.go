package ddbser

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue  { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue  { return &types.AttributeValueMemberN{Value: v} }
func b(v ...byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }

// h decodes hex with spaces, for readable expected bytes.
func h(t *testing.T, x string) []byte {
	t.Helper()
	out, err := hex.DecodeString(strings.ReplaceAll(x, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKnownSerializations pins the bytes of each type as the specification
// (ddb-attribute-serialization.md) lays them out.
func TestKnownSerializations(t *testing.T) {
	tests := []struct {
		name string
		av   types.AttributeValue
		typ  TypeID
		want string
	}{
		{"null", &types.AttributeValueMemberNULL{Value: true}, TypeNull, ""},
		{"string", s("Aé"), TypeString, "41 c3a9"},
		{"number normalized", n("0800.000e0"), TypeNumber, "383030"},
		{"negative zero", n("-0.0"), TypeNumber, "30"},
		{"binary", b(0, 0xff), TypeBinary, "00ff"},
		{"true", &types.AttributeValueMemberBOOL{Value: true}, TypeBool, "01"},
		{"false", &types.AttributeValueMemberBOOL{Value: false}, TypeBool, "00"},
		{"empty string set", &types.AttributeValueMemberSS{}, TypeStringSet, "00000000"},
		{"string set sorted", &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
			TypeStringSet, "00000002 00000001 61 00000001 62"},
		{"number set sorted after normalization",
			&types.AttributeValueMemberNS{Value: []string{"00.0011", "0000", "2000.000", "10.01"}},
			TypeNumberSet, "00000004 00000001 30 00000006 302e30303131 00000005 31302e3031 00000004 32303030"},
		{"binary set sorted by bytes", &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1, 5}, {1}}},
			TypeBinarySet, "00000003 00000001 01 00000002 0105 00000001 02"},
		{"map sorted by key", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"b": s("x"), "a": &types.AttributeValueMemberBOOL{Value: true}}},
			TypeMap, "00000002 0001 00000001 61 0004 00000001 01 0001 00000001 62 0001 00000001 78"},
		{"list in order", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("z"), n("1"), &types.AttributeValueMemberL{}}},
			TypeList, "00000003 0001 00000001 7a 0002 00000001 31 0300 00000004 00000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, typ, err := AppendValue(nil, tc.av)
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.typ {
				t.Errorf("type %#04x, want %#04x", typ, tc.typ)
			}
			if want := h(t, tc.want); !bytes.Equal(got, want) {
				t.Errorf("got  %x\nwant %x", got, want)
			}
		})
	}
}

// TestUTF16Order checks the order the specification's string-ordering.md
// requires: U+FF61 sorts after U+10002, unlike in byte order.
func TestUTF16Order(t *testing.T) {
	const bmp, astral = "\uFF61", "\U00010002"
	if CompareUTF16(bmp, astral) <= 0 || CompareUTF16(astral, bmp) >= 0 {
		t.Fatal("U+FF61 must sort after U+10002")
	}
	tests := []struct{ a, b string }{
		{"", "a"}, {"a", "ab"}, {"a", "b"}, {"\u00e9", "\u0800"},
		{"x\U00010002", "x\uFF61"}, {"\U00010000", "\U00010001"}, {"\U00010400", "\U0001F600"},
		{"\uD7FF", "\U00010000"},
	}
	for _, tc := range tests {
		if CompareUTF16(tc.a, tc.b) >= 0 || CompareUTF16(tc.b, tc.a) <= 0 {
			t.Errorf("%q must sort before %q", tc.a, tc.b)
		}
	}
	if CompareUTF16("same", "same") != 0 {
		t.Error("equal strings must compare equal")
	}
	got, _, err := AppendValue(nil, &types.AttributeValueMemberSS{Value: []string{bmp, astral}})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(h(t, "00000002 00000004"), astral...), append(h(t, "00000003"), bmp...)...)
	if !bytes.Equal(got, want) {
		t.Errorf("string set: got %x, want %x", got, want)
	}
}

// TestNormalizeNumber runs cases from DB-ESDK's own NormalizeNumber tests.
func TestNormalizeNumber(t *testing.T) {
	good := map[string]string{
		"0": "0", "000": "0", ".000": "0", "0.": "0", "-0": "0", "-.0e99": "0", "+0e+0": "0",
		"1.2e2": "120", "+1.2e+2": "120", "-1.2e2": "-120", "+123.456": "123.456",
		"00012.34": "12.34", "012.340": "12.34", "123.456e-1": "12.3456", "123.456e2": "12345.6",
		"123456789.01234567890123456789012345678":                             "123456789.01234567890123456789012345678",
		"1234567890123456789012345678901234567800000000000000000000000000000": "1234567890123456789012345678901234567800000000000000000000000000000",
		".000000000000000000000000012345678901234567890123456789012345678":    "0.000000000000000000000000012345678901234567890123456789012345678",
		"9.9999999999999999999999999999999999999E+125":                        "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		"1E-130":   "0." + strings.Repeat("0", 129) + "1",
		"-10E-131": "-0." + strings.Repeat("0", 129) + "1",
	}
	for in, want := range good {
		got, err := NormalizeNumber(in)
		if err != nil || got != want {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", ".", "+", "-", "e", "1.2.3", "1.2e3e4", ".e4", "e99", "1.2e--99", "--1.2", "+-1.2",
		"1e", "1e+", "1e1.1", "1a1", "1-1", "1.-2", " 1", "Infinity", "NaN",
		"123456789.012345678901234567890123456789",
		"1234567890123456789012345678901234567890000000000000000000000000000",
		"1E+126", "10E+125", "9.99999999999999999999999999999999999991E+125",
		"9.9999999999999999999999999999999999999E-131", "1234567e-137", "-1E+126",
	}
	for _, in := range bad {
		if got, err := NormalizeNumber(in); err == nil {
			t.Errorf("NormalizeNumber(%q) = %q, want an error", in, got)
		}
	}
}

// sample is one value of every type, nested.
func sample() types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"s":     s("héllo \U0001F600"),
		"empty": s(""),
		"n":     n("-12.5"),
		"b":     b(0, 1, 2),
		"eb":    b(),
		"t":     &types.AttributeValueMemberBOOL{Value: true},
		"null":  &types.AttributeValueMemberNULL{Value: true},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"z", "a", "\uFF61", "\U00010002"}},
		"ns":    &types.AttributeValueMemberNS{Value: []string{"10", "9", "-1", "0.5"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{9}, {}, {1, 2}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			s("x"), &types.AttributeValueMemberL{}, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"deep": &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1e3")}}}},
		}},
	}}
}

func TestRoundTripEveryType(t *testing.T) {
	av := sample()
	enc, typ, err := AppendValue(nil, av)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(typ, enc)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := AppendValue(nil, got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, again) {
		t.Fatal("re-serializing the decoded value changed its bytes")
	}
	m := got.(*types.AttributeValueMemberM).Value
	if v := m["n"].(*types.AttributeValueMemberN).Value; v != "-12.5" {
		t.Errorf("number %q", v)
	}
	if v := m["ss"].(*types.AttributeValueMemberSS).Value; !slices.Equal(v, []string{"a", "z", "\U00010002", "\uFF61"}) {
		t.Errorf("string set decoded as %q", v)
	}
	deep := m["l"].(*types.AttributeValueMemberL).Value[3].(*types.AttributeValueMemberM).Value["deep"]
	if v := deep.(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberN).Value; v != "1000" {
		t.Errorf("nested number %q", v)
	}
}

// nested returns a value with depth levels of lists around a string.
func nested(depth int) types.AttributeValue {
	var av types.AttributeValue = s("x")
	for i := 1; i < depth; i++ {
		av = &types.AttributeValueMemberL{Value: []types.AttributeValue{av}}
	}
	return av
}

func TestAppendValueRefuses(t *testing.T) {
	tests := map[string]types.AttributeValue{
		"invalid UTF-8 string":   s("\xff"),
		"invalid number":         n("1x"),
		"number out of range":    n("1e126"),
		"too precise":            n("1234567890123456789012345678901234567890"),
		"repeated string member": &types.AttributeValueMemberSS{Value: []string{"a", "a"}},
		"repeated number member": &types.AttributeValueMemberNS{Value: []string{"1", "1.0"}},
		"repeated binary member": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {1}}},
		"invalid UTF-8 member":   &types.AttributeValueMemberSS{Value: []string{"\xc3"}},
		"empty map key":          &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"": s("x")}},
		"invalid map key":        &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"\xff": s("x")}},
		"nil in a list":          &types.AttributeValueMemberL{Value: []types.AttributeValue{nil}},
		"too deep":               nested(MaxDepth + 1),
	}
	for name, av := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := AppendValue(nil, av); !errors.Is(err, ErrUnserializable) {
				t.Fatalf("got %v, want ErrUnserializable", err)
			}
		})
	}
	if _, _, err := AppendValue(nil, nested(MaxDepth)); err != nil {
		t.Fatalf("%d levels must serialize: %v", MaxDepth, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		typ  TypeID
		hex  string
	}{
		{"unknown type", 0x0003, ""},
		{"null with value", TypeNull, "00"},
		{"bool of two bytes", TypeBool, "0100"},
		{"bool 2", TypeBool, "02"},
		{"invalid UTF-8 string", TypeString, "ff"},
		{"invalid number", TypeNumber, "3178"},
		{"set count beyond the bytes", TypeStringSet, "00000002 00000001 61"},
		{"set member truncated", TypeStringSet, "00000001 00000005 61"},
		{"set trailing bytes", TypeStringSet, "00000001 00000001 61 00"},
		{"repeated string member", TypeStringSet, "00000002 00000001 61 00000001 61"},
		{"repeated binary member", TypeBinarySet, "00000002 00000001 61 00000001 61"},
		{"number set member invalid", TypeNumberSet, "00000001 00000001 78"},
		{"number members alike once normalized", TypeNumberSet, "00000002 00000001 31 00000003 312e30"},
		{"map key not a string", TypeMap, "00000001 0002 00000001 31 0001 00000000"},
		{"empty map key", TypeMap, "00000001 0001 00000000 0001 00000000"},
		{"repeated map key", TypeMap, "00000002 0001 00000001 61 0000 00000000 0001 00000001 61 0000 00000000"},
		{"map value truncated", TypeMap, "00000001 0001 00000001 61 0001 00000005 78"},
		{"map trailing bytes", TypeMap, "00000000 00"},
		{"list entry of unknown type", TypeList, "00000001 0005 00000000"},
		{"list count huge", TypeList, "ffffffff"},
		{"list truncated", TypeList, "000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.typ, h(t, tc.hex)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	deep, _, err := AppendValue(nil, nested(MaxDepth))
	if err != nil {
		t.Fatal(err)
	}
	// One more list around the deepest value DynamoDB allows.
	deeper := binary.BigEndian.AppendUint32(h(t, "00000001 0300"), uint32(len(deep)))
	deeper = append(deeper, deep...)
	if _, err := Decode(TypeList, deeper); !errors.Is(err, ErrMalformed) {
		t.Fatalf("depth %d: got %v, want ErrMalformed", MaxDepth+1, err)
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	in := []byte{1, 2, 3}
	av, err := Decode(TypeBinary, in)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = 9
	if got := av.(*types.AttributeValueMemberB).Value; got[0] != 1 {
		t.Fatal("decoded binary aliases its input")
	}
}

func TestTypeOf(t *testing.T) {
	m := sample().(*types.AttributeValueMemberM).Value
	for name, av := range m {
		typ, ok := TypeOf(av)
		_, want, _ := AppendValue(nil, av)
		if !ok || typ != want {
			t.Errorf("%s: TypeOf = %#04x, %v; serialization says %#04x", name, typ, ok, want)
		}
		if typ.String() == "unknown" {
			t.Errorf("%s: no name for %#04x", name, typ)
		}
	}
	if _, ok := TypeOf(nil); ok {
		t.Error("TypeOf(nil) must report false")
	}
}

// FuzzDecode checks that Decode never panics and that what it accepts
// serializes again, to bytes that decode to the same value.
func FuzzDecode(f *testing.F) {
	for _, av := range sample().(*types.AttributeValueMemberM).Value {
		enc, typ, err := AppendValue(nil, av)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(typ), enc)
	}
	enc, typ, _ := AppendValue(nil, sample())
	f.Add(uint16(typ), enc)
	f.Fuzz(func(t *testing.T, typ uint16, data []byte) {
		av, err := Decode(TypeID(typ), data)
		if err != nil {
			return
		}
		enc, typ2, err := AppendValue(nil, av)
		if err != nil {
			t.Fatalf("decoded value does not serialize: %v", err)
		}
		if typ2 != TypeID(typ) {
			t.Fatalf("type %#04x became %#04x", typ, typ2)
		}
		av2, err := Decode(typ2, enc)
		if err != nil {
			t.Fatalf("re-serialized value does not decode: %v", err)
		}
		enc2, _, _ := AppendValue(nil, av2)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("serialization is not stable")
		}
	})
}
