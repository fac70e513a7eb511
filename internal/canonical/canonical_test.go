package canonical

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestNormalizeNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"-0", "0"},
		{"+0.000", "0"},
		{"00", "0"},
		{"1", "1"},
		{"+1", "1"},
		{"1.50", "1.5"},
		{"1.5", "1.5"},
		{"1E+2", "100"},
		{"1e2", "100"},
		{"100", "100"},
		{"0100.00", "100"},
		{"0.000100", "0.0001"},
		{"1E-4", "0.0001"},
		{".5", "0.5"},
		{"5.", "5"},
		{"-12345678901234567890.5", "-12345678901234567890.5"},
		{"12345678901234567890.50", "12345678901234567890.5"},
		{"1.23e1", "12.3"},
		{"123e-1", "12.3"},
		{"-0.5e1", "-5"},
		{"9.99E+125", "999" + string(bytes.Repeat([]byte("0"), 123))},
	}
	for _, tt := range tests {
		got, err := NormalizeNumber(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		// The value must be unchanged: compare as exact rationals.
		a, _ := new(big.Rat).SetString(tt.in)
		b, _ := new(big.Rat).SetString(got)
		if a == nil || b == nil || a.Cmp(b) != 0 {
			t.Errorf("NormalizeNumber(%q) = %q changes the value", tt.in, got)
		}
	}
}

func TestNormalizeNumberRejects(t *testing.T) {
	for _, in := range []string{"", "-", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "1 ", " 1", "NaN", "Inf", "1e9999999", "1e400", "--1", "1_000"} {
		if got, err := NormalizeNumber(in); err == nil {
			t.Errorf("NormalizeNumber(%q) = %q, want an error", in, got)
		}
	}
}

func TestNormalizeNumberCanonicalIsFree(t *testing.T) {
	for _, in := range []string{"0", "1", "-42", "1.5", "0.0001", "100"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := NormalizeNumber(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("NormalizeNumber(%q): %v allocations, want 0 for a canonical input", in, allocs)
		}
	}
}

func sampleValues() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"s":     &types.AttributeValueMemberS{Value: "héllo"},
		"empty": &types.AttributeValueMemberS{Value: ""},
		"n":     &types.AttributeValueMemberN{Value: "-12.5"},
		"b":     &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"t":     &types.AttributeValueMemberBOOL{Value: true},
		"f":     &types.AttributeValueMemberBOOL{Value: false},
		"null":  &types.AttributeValueMemberNULL{Value: true},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"a", "b", "c"}},
		"ns":    &types.AttributeValueMemberNS{Value: []string{"-1", "1", "2.5"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{1}, {1, 2}, {2}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "x"},
			&types.AttributeValueMemberN{Value: "7"},
			&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"z": &types.AttributeValueMemberS{Value: "last"},
			"a": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	for name, av := range sampleValues() {
		enc, err := Append(nil, av)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := Decode(enc)
		if err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, av) {
			t.Errorf("%s: round trip gave %#v, want %#v", name, got, av)
		}
	}
}

// TestEquivalentValuesEncodeAlike covers the rewrites a DynamoDB server makes
// between PutItem and GetItem.
func TestEquivalentValuesEncodeAlike(t *testing.T) {
	pairs := [][2]types.AttributeValue{
		{&types.AttributeValueMemberN{Value: "1.50"}, &types.AttributeValueMemberN{Value: "1.5"}},
		{&types.AttributeValueMemberN{Value: "1E+2"}, &types.AttributeValueMemberN{Value: "100"}},
		{&types.AttributeValueMemberN{Value: "-0"}, &types.AttributeValueMemberN{Value: "0"}},
		{&types.AttributeValueMemberSS{Value: []string{"b", "a"}}, &types.AttributeValueMemberSS{Value: []string{"a", "b"}}},
		{&types.AttributeValueMemberNS{Value: []string{"10", "9", "1e0"}}, &types.AttributeValueMemberNS{Value: []string{"1", "9", "10"}}},
		{&types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}}, &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}}},
	}
	for _, p := range pairs {
		a, errA := Append(nil, p[0])
		b, errB := Append(nil, p[1])
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%#v and %#v encode as %x (%v) and %x (%v)", p[0], p[1], a, errA, b, errB)
		}
	}
}

func TestDistinctValuesEncodeApart(t *testing.T) {
	values := []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "1"},
		&types.AttributeValueMemberN{Value: "1"},
		&types.AttributeValueMemberB{Value: []byte("1")},
		&types.AttributeValueMemberSS{Value: []string{"1"}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "1"}}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"1": &types.AttributeValueMemberNULL{Value: true}}},
		&types.AttributeValueMemberBOOL{Value: true},
	}
	seen := map[string]int{}
	for i, v := range values {
		enc, err := Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if j, ok := seen[string(enc)]; ok {
			t.Errorf("values %d and %d share the encoding %x", j, i, enc)
		}
		seen[string(enc)] = i
	}
}

func TestAppendRejects(t *testing.T) {
	deep := types.AttributeValue(&types.AttributeValueMemberS{Value: "x"})
	for i := 0; i <= MaxDepth+1; i++ {
		deep = &types.AttributeValueMemberL{Value: []types.AttributeValue{deep}}
	}
	for name, av := range map[string]types.AttributeValue{
		"bad number":  &types.AttributeValueMemberN{Value: "1,5"},
		"dup strings": &types.AttributeValueMemberSS{Value: []string{"a", "a"}},
		"dup numbers": &types.AttributeValueMemberNS{Value: []string{"1", "1.0"}},
		"dup binary":  &types.AttributeValueMemberBS{Value: [][]byte{{1}, {1}}},
		"too deep":    deep,
		"nil":         nil,
	} {
		if _, err := Append(nil, av); err == nil {
			t.Errorf("%s: Append succeeded, want an error", name)
		}
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":            {},
		"unknown tag":      {0x7f},
		"trailing":         {tagNULL, 0},
		"truncated string": {tagS, 5, 'a'},
		"overlong length":  {tagS, 0x81, 0x00, 'a'},
		"bad bool":         {tagBOOL, 2},
		"number not norm":  {tagN, 3, '1', '.', '0'},
		"number invalid":   {tagN, 1, 'x'},
		"unsorted set":     {tagSS, 2, 1, 'b', 1, 'a'},
		"repeated member":  {tagSS, 2, 1, 'a', 1, 'a'},
		"unsorted map":     {tagM, 2, 1, 'b', tagNULL, 1, 'a', tagNULL},
		"huge count":       {tagL, 0xff, 0xff, 0x03},
	} {
		if av, err := Decode(in); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Decode(%x) = %#v, %v; want ErrInvalid", name, in, av, err)
		}
	}
}

// FuzzDecode checks that Decode never panics, that whatever it accepts is
// canonical (encoding the result gives back the input exactly), and that
// DecodeOwned decodes as it does.
func FuzzDecode(f *testing.F) {
	for _, av := range sampleValues() {
		enc, err := Append(nil, av)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{tagM, 1, 1, 'k', tagL, 1, tagN, 1, '0'})
	f.Fuzz(func(t *testing.T, in []byte) {
		av, err := Decode(in)
		owned, errOwned := DecodeOwned(bytes.Clone(in))
		if (err == nil) != (errOwned == nil) || !reflect.DeepEqual(av, owned) {
			t.Fatalf("Decode(%x) = %#v, %v but DecodeOwned = %#v, %v", in, av, err, owned, errOwned)
		}
		if err != nil {
			return
		}
		out, err := Append(nil, av)
		if err != nil {
			t.Fatalf("Decode accepted %x but Append fails: %v", in, err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("Decode(%x) re-encodes as %x", in, out)
		}
	})
}

// FuzzNormalizeNumber checks that normalization keeps the value, is
// idempotent, and that the fast path for canonical input agrees with parsing.
func FuzzNormalizeNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.50", "1E+2", "0.000100", "-12345678901234567890.5", ".5", "1e-160", "9e159"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeNumber(s)
		if err != nil {
			return
		}
		again, err := NormalizeNumber(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeNumber(%q) = %q, which normalizes again to %q, %v", s, n, again, err)
		}
		a, okA := new(big.Rat).SetString(s)
		b, okB := new(big.Rat).SetString(n)
		if !okA || !okB || a.Cmp(b) != 0 {
			t.Fatalf("NormalizeNumber(%q) = %q changes the value", s, n)
		}
	})
}

// typedNils are nil pointers of every attribute value type.
var typedNils = []types.AttributeValue{
	(*types.AttributeValueMemberS)(nil), (*types.AttributeValueMemberN)(nil), (*types.AttributeValueMemberB)(nil),
	(*types.AttributeValueMemberBOOL)(nil), (*types.AttributeValueMemberNULL)(nil),
	(*types.AttributeValueMemberSS)(nil), (*types.AttributeValueMemberNS)(nil), (*types.AttributeValueMemberBS)(nil),
	(*types.AttributeValueMemberL)(nil), (*types.AttributeValueMemberM)(nil), (*types.UnknownUnionMember)(nil),
}

// TestNilValues: Append refuses a typed nil pointer, alone or nested, with
// an error rather than a panic, and CheckNil finds one at any depth, and
// nesting deeper than MaxDepth, while it accepts every value of every type.
func TestNilValues(t *testing.T) {
	for _, v := range append(slices.Clone(typedNils), nil) {
		nested := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}, v}}}}
		for _, av := range []types.AttributeValue{v, nested} {
			if _, err := Append(nil, av); err == nil {
				t.Errorf("Append of %T (nested: %v): no error", v, av == nested)
			}
			if err := CheckNil(map[string]types.AttributeValue{"a": av}); err == nil || !strings.Contains(err.Error(), `"a"`) {
				t.Errorf("CheckNil of %T (nested: %v): %v", v, av == nested, err)
			}
		}
	}
	deep := types.AttributeValue(&types.AttributeValueMemberS{Value: "x"})
	for i := 0; i <= MaxDepth; i++ {
		deep = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": deep}}
	}
	if err := CheckNil(map[string]types.AttributeValue{"a": deep}); err == nil {
		t.Error("CheckNil accepted nesting deeper than MaxDepth")
	}
	every := map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{}, "n": &types.AttributeValueMemberN{Value: "1"}, "b": &types.AttributeValueMemberB{},
		"bool": &types.AttributeValueMemberBOOL{}, "null": &types.AttributeValueMemberNULL{Value: true},
		"ss": &types.AttributeValueMemberSS{}, "ns": &types.AttributeValueMemberNS{}, "bs": &types.AttributeValueMemberBS{},
		"l": &types.AttributeValueMemberL{}, "m": &types.AttributeValueMemberM{},
	}
	if err := CheckNil(every); err != nil {
		t.Errorf("CheckNil of values of every type: %v", err)
	}
}
