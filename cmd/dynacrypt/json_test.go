package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestAppendJSONItem(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{Value: "a\"<b>"}, "n": &types.AttributeValueMemberN{Value: "12345678901234567890.5"},
		"b": &types.AttributeValueMemberB{Value: []byte{0, 1, 2}}, "t": &types.AttributeValueMemberBOOL{Value: true},
		"z":  &types.AttributeValueMemberNULL{Value: true},
		"ss": &types.AttributeValueMemberSS{Value: []string{"x", "y"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}}},
		"l":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "7"}, &types.AttributeValueMemberM{}}},
		"m":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}},
	}
	got, err := appendJSONItem(nil, item)
	want := `{"b":"AAEC","bs":["AQ=="],"l":[7,{}],"m":{"k":"v"},"n":12345678901234567890.5,"ns":[1,2.5],"s":"a\"\u003cb\u003e","ss":["x","y"],"t":true,"z":null}` + "\n"
	if err != nil || string(got) != want {
		t.Errorf("got  %s(%v)\nwant %s", got, err, want)
	}
}

// TestAppendJSONNumbers: numbers spelled as DynamoDB and the signature
// accept them, but JSON does not, come out normalised, exactly; a number
// that is not one is an error that does not show it.
func TestAppendJSONNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"+1": "1", "01": "1", "-0": "0", "1E2": "100", "1.50": "1.5", ".5": "0.5", "-1e-3": "-0.001",
		"123456789012345678901234567890.123456789": "123456789012345678901234567890.123456789",
	} {
		got, err := appendJSONValue(nil, &types.AttributeValueMemberN{Value: in})
		if err != nil || string(got) != want {
			t.Errorf("number %q: %s (%v), want %s", in, got, err, want)
		}
	}
	if got, err := appendJSONValue(nil, &types.AttributeValueMemberNS{Value: []string{"+5", "05.0"}}); err != nil || string(got) != "[5,5]" {
		t.Errorf("number set: %s (%v)", got, err)
	}
	if _, err := appendJSONValue(nil, &types.AttributeValueMemberN{Value: "1\x1b[2K"}); err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("not a number: %v", err)
	}
}
