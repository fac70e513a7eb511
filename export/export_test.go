package export_test

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
)

// every has an attribute of every type, nested ones included.
var every = map[string]types.AttributeValue{
	"s":    &types.AttributeValueMemberS{Value: "ana \"quoted\" <tag> é"},
	"n":    &types.AttributeValueMemberN{Value: "1.50"}, // kept as written
	"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xff}},
	"bool": &types.AttributeValueMemberBOOL{Value: true},
	"null": &types.AttributeValueMemberNULL{Value: true},
	"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
	"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "-2.5E+3"}},
	"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
	"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "7"}}}}},
	"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}}},
}

func TestRoundTrip(t *testing.T) {
	line, err := export.AppendLine(nil, every)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	plain.Write(line)
	plain.WriteString("\n") // a blank line is skipped
	plain.Write(line)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain.Bytes())
	zw.Close()
	for name, data := range map[string][]byte{"plain": plain.Bytes(), "gzip": zipped.Bytes()} {
		var got []export.Line
		for l, err := range export.Items(bytes.NewReader(data)) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, l)
		}
		if len(got) != 2 || got[0].Number != 1 || got[1].Number != 3 {
			t.Fatalf("%s: %d items, numbers %v", name, len(got), got)
		}
		for _, l := range got {
			if !reflect.DeepEqual(l.Item, every) {
				t.Errorf("%s: line %d came back as %v", name, l.Number, l.Item)
			}
		}
	}
}

// TestAWSFormat reads lines as DynamoDB's export to S3 writes them.
func TestAWSFormat(t *testing.T) {
	const file = `{"Item":{"id":{"S":"u1"},"score":{"N":"12.50"},"pic":{"B":"AAEC"},"tags":{"SS":["a","b"]},"ok":{"BOOL":false}}}
{"Item":{"id":{"S":"u2"},"gone":{"NULL":true},"m":{"M":{"l":{"L":[{"N":"1"}]}}}}}
not json
{"Item":{"id":{"X":"?"}}}
{"Item":{"id":{"S":"u3"}}}
`
	var items []export.Line
	var errs []string
	for l, err := range export.Items(strings.NewReader(file)) {
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		items = append(items, l)
	}
	if len(items) != 3 || items[2].Item["id"].(*types.AttributeValueMemberS).Value != "u3" {
		t.Fatalf("items: %v", items)
	}
	if n := items[0].Item["score"].(*types.AttributeValueMemberN).Value; n != "12.50" {
		t.Errorf("number %q, want 12.50 untouched", n)
	}
	if b := items[0].Item["pic"].(*types.AttributeValueMemberB).Value; !bytes.Equal(b, []byte{0, 1, 2}) {
		t.Errorf("binary %v", b)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "line 3") || !strings.Contains(errs[1], "line 4") || !strings.Contains(errs[1], `"X"`) {
		t.Errorf("errors: %q", errs)
	}
}

// TestAppendNilValues: a nil value, or a nil pointer of an attribute value
// type, fails with an error naming where it is, and does not panic.
func TestAppendNilValues(t *testing.T) {
	for _, typedNil := range []types.AttributeValue{
		nil, (*types.AttributeValueMemberS)(nil), (*types.AttributeValueMemberN)(nil), (*types.AttributeValueMemberB)(nil),
		(*types.AttributeValueMemberBOOL)(nil), (*types.AttributeValueMemberNULL)(nil), (*types.AttributeValueMemberSS)(nil),
		(*types.AttributeValueMemberNS)(nil), (*types.AttributeValueMemberBS)(nil), (*types.AttributeValueMemberL)(nil),
		(*types.AttributeValueMemberM)(nil), (*types.UnknownUnionMember)(nil),
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("a %T nil: panicked: %v", typedNil, p)
				}
			}()
			item := map[string]types.AttributeValue{"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": typedNil}}}
			if _, err := export.AppendLine(nil, item); err == nil || !strings.Contains(err.Error(), `"m"`) {
				t.Errorf("a %T nil: %v", typedNil, err)
			}
		}()
	}
}
