package main

import (
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
