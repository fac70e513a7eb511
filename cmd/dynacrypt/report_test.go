package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestKeyText: keys in failure reports, from attacker-written items: JSON
// where they are valid, numbers normalised, anything else quoted.
func TestKeyText(t *testing.T) {
	for _, c := range []struct {
		key  map[string]types.AttributeValue
		want string
	}{
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u1"}, "seq": &types.AttributeValueMemberN{Value: "+05"}}, `{"id":"u1","seq":5}`},
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a\x1b[2K\nb"}}, `{"id":"a\u001b[2K\nb"}`},
		{map[string]types.AttributeValue{"seq": &types.AttributeValueMemberN{Value: "1\x1b[1A\n"}}, `{"seq":invalid number "1\x1b[1A\n"}`},
		{map[string]types.AttributeValue{"id": nil}, `{"id":missing}`},
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberB{Value: []byte{0xff}}}, `{"id":"/w=="}`},
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberM{}}, `{"id":not a key type}`},
	} {
		if got := keyText(c.key); got != c.want {
			t.Errorf("keyText(%v) = %s, want %s", c.key, got, c.want)
		}
	}
}

// TestPrintable: what a terminal acts on is escaped, the rest left alone.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		`key {"id":"é"}: failed`:     `key {"id":"é"}: failed`,
		"a\x1b[1Ab\r\nc\td":          `a\x1b[1Ab\r\nc\td`,
		"\x7f\u009b31m\u202e\u2028x": `\x7f\u009b31m\u202e\u2028x`,
		"bad \xff\xfe utf-8":         `bad \xff\xfe utf-8`,
		"":                           "",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
