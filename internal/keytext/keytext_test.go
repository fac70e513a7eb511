package keytext

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestString(t *testing.T) {
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
