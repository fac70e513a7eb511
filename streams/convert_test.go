package streams_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/dynacrypt/dynacrypt/streams"
)

// everyType is an image with every attribute type, in Lambda's JSON, and
// what it is in the DynamoDB client's types. The numbers are not in any
// form strconv would produce: they must pass through untouched.
const everyType = `{
	"s": {"S": "text ✓"},
	"n": {"N": "-0012345678901234567890.1234567890000"},
	"b": {"B": "AAEC/v8="},
	"t": {"BOOL": true},
	"f": {"BOOL": false},
	"null": {"NULL": true},
	"ss": {"SS": ["b", "a"]},
	"ns": {"NS": ["1E+3", "-0.50"]},
	"bs": {"BS": ["AQI=", "AA=="]},
	"l": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}, {"M": {"k": {"NULL": true}}}]},
	"m": {"M": {"inner": {"M": {"deep": {"BS": ["/w=="]}}}, "empty": {"M": {}}}}
}`

var everyTypeWant = map[string]types.AttributeValue{
	"s":    &types.AttributeValueMemberS{Value: "text ✓"},
	"n":    &types.AttributeValueMemberN{Value: "-0012345678901234567890.1234567890000"},
	"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xfe, 0xff}},
	"t":    &types.AttributeValueMemberBOOL{Value: true},
	"f":    &types.AttributeValueMemberBOOL{Value: false},
	"null": &types.AttributeValueMemberNULL{Value: true},
	"ss":   &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
	"ns":   &types.AttributeValueMemberNS{Value: []string{"1E+3", "-0.50"}},
	"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1, 2}, {0}}},
	"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "x"},
		&types.AttributeValueMemberN{Value: "1"},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberNULL{Value: true}}},
	}},
	"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"deep": &types.AttributeValueMemberBS{Value: [][]byte{{0xff}}},
		}},
		"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
	}},
}

func TestFromLambdaEveryType(t *testing.T) {
	var img map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal([]byte(everyType), &img); err != nil {
		t.Fatal(err)
	}
	got, err := streams.FromLambda(img)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, everyTypeWant) {
		t.Errorf("FromLambda:\n got %#v\nwant %#v", got, everyTypeWant)
	}
}

func TestFromStreamsEveryType(t *testing.T) {
	got, err := streams.FromStreams(toStreams(everyTypeWant))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, everyTypeWant) {
		t.Errorf("FromStreams:\n got %#v\nwant %#v", got, everyTypeWant)
	}
}

func TestFromNil(t *testing.T) {
	if av, err := streams.FromLambda(nil); av != nil || err != nil {
		t.Errorf("FromLambda(nil) = %v, %v", av, err)
	}
	if av, err := streams.FromStreams(nil); av != nil || err != nil {
		t.Errorf("FromStreams(nil) = %v, %v", av, err)
	}
}

// TestConvertErrors: values that hold no type (nil, typed nil pointers
// included) fail, naming the attribute by its path, and never panic.
func TestConvertErrors(t *testing.T) {
	_, err := streams.FromLambda(map[string]events.DynamoDBAttributeValue{
		"list": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("ok"), {}}),
	})
	if err == nil || !strings.Contains(err.Error(), `"list"[1]`) {
		t.Errorf("FromLambda of a zero value: %v", err)
	}
	_, err = streams.FromStreams(map[string]streamstypes.AttributeValue{
		"m": &streamstypes.AttributeValueMemberM{Value: map[string]streamstypes.AttributeValue{
			"new": &streamstypes.UnknownUnionMember{Tag: "VECTOR"},
		}},
	})
	if err == nil || !strings.Contains(err.Error(), `"m"."new"`) || !strings.Contains(err.Error(), "VECTOR") {
		t.Errorf("FromStreams of an unknown member: %v", err)
	}
	_, err = streams.FromStreams(map[string]streamstypes.AttributeValue{"x": nil})
	if err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("FromStreams of nil: %v", err)
	}
	for _, typedNil := range []streamstypes.AttributeValue{
		(*streamstypes.AttributeValueMemberS)(nil), (*streamstypes.AttributeValueMemberN)(nil), (*streamstypes.AttributeValueMemberB)(nil),
		(*streamstypes.AttributeValueMemberBOOL)(nil), (*streamstypes.AttributeValueMemberNULL)(nil), (*streamstypes.AttributeValueMemberSS)(nil),
		(*streamstypes.AttributeValueMemberNS)(nil), (*streamstypes.AttributeValueMemberBS)(nil), (*streamstypes.AttributeValueMemberL)(nil),
		(*streamstypes.AttributeValueMemberM)(nil), (*streamstypes.UnknownUnionMember)(nil),
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("FromStreams of a %T nil: panicked: %v", typedNil, p)
				}
			}()
			_, err = streams.FromStreams(map[string]streamstypes.AttributeValue{
				"l": &streamstypes.AttributeValueMemberL{Value: []streamstypes.AttributeValue{typedNil}},
			})
			if err == nil || !strings.Contains(err.Error(), `"l"[0]`) {
				t.Errorf("FromStreams of a %T nil: %v", typedNil, err)
			}
		}()
	}
}

// toStreams converts the other way, for the test.
func toStreams(av map[string]types.AttributeValue) map[string]streamstypes.AttributeValue {
	out := map[string]streamstypes.AttributeValue{}
	for k, v := range av {
		out[k] = toStreamsValue(v)
	}
	return out
}

func toStreamsValue(v types.AttributeValue) streamstypes.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &streamstypes.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &streamstypes.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &streamstypes.AttributeValueMemberB{Value: v.Value}
	case *types.AttributeValueMemberBOOL:
		return &streamstypes.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &streamstypes.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberSS:
		return &streamstypes.AttributeValueMemberSS{Value: v.Value}
	case *types.AttributeValueMemberNS:
		return &streamstypes.AttributeValueMemberNS{Value: v.Value}
	case *types.AttributeValueMemberBS:
		return &streamstypes.AttributeValueMemberBS{Value: v.Value}
	case *types.AttributeValueMemberL:
		l := []streamstypes.AttributeValue{}
		for _, e := range v.Value {
			l = append(l, toStreamsValue(e))
		}
		return &streamstypes.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		return &streamstypes.AttributeValueMemberM{Value: toStreams(v.Value)}
	}
	panic("unknown type")
}
