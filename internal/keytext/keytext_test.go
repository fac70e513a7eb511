package keytext

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestStringEscapesAttackerWrittenKeys: a key comes out as JSON, numbers
// normalised; what a terminal or a log acts on (a newline, an escape
// sequence, a bidirectional override), which anyone who writes the table
// or an export can put in a key, comes out escaped; a value that is not a
// key, or a number that is not one, is named, never quoted.
func TestStringEscapesAttackerWrittenKeys(t *testing.T) {
	for _, c := range []struct {
		key  map[string]types.AttributeValue
		want string
	}{
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u1"}}, `{"id":"u1"}`},
		{map[string]types.AttributeValue{"seq": &types.AttributeValueMemberN{Value: "+01.50"}, "c": &types.AttributeValueMemberS{Value: "x"}}, `{"c":"x","seq":1.5}`},
		{map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: []byte{0, 1}}}, `{"b":"AAE="}`},
		// What a terminal or a log acts on comes out escaped.
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a\n\x1b[2Jb\u202ec"}}, `{"id":"a\n\x1b[2Jb\u202ec"}`},
		{map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "secret"}, "m": nil, "l": &types.AttributeValueMemberBOOL{}},
			`{"l":not a key type,"m":missing,"n":not a number}`},
	} {
		if got := String(c.key); got != c.want {
			t.Errorf("String(%v) = %s, want %s", c.key, got, c.want)
		}
	}
}
