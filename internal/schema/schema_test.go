package schema

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type Base struct {
	Created time.Time `dynamodbav:"created"`
	Owner   string
}

type Item struct {
	Base
	ID      string            `dynamodbav:"id"`
	Secret  string            `dynamodbav:"secret" encrypt:"kms"`
	Count   int               `dynamodbav:"count,omitempty"`
	AsText  int               `dynamodbav:"text,string"`
	Ratio   float64           `dynamodbav:"ratio"`
	Tags    map[string]string `dynamodbav:"tags"`
	Raw     []byte            `dynamodbav:"raw"`
	When    time.Time         `dynamodbav:"when,unixtime"`
	Skipped string            `dynamodbav:"-"`
	hidden  string
}

func TestParse(t *testing.T) {
	s, err := Parse(reflect.TypeFor[Item]())
	if err != nil {
		t.Fatal(err)
	}
	var attrs []string
	for _, f := range s.Fields {
		attrs = append(attrs, f.Attr)
	}
	if got := strings.Join(attrs, " "); got != "created Owner id secret count text ratio tags raw when" {
		t.Errorf("attributes: %s", got)
	}
	if enc := s.Encrypted(); len(enc) != 1 || enc[0].Attr != "secret" || enc[0].Path != "Item.Secret" {
		t.Errorf("encrypted: %+v", enc)
	}
	if f, _ := s.Field("created"); f.Path != "Item.Base.Created" || !reflect.DeepEqual(f.Index, []int{0, 0}) {
		t.Errorf("embedded field: %+v", f)
	}
	_ = Item{}.hidden

	for attr, want := range map[string]string{
		"id": "S", "count": "N", "text": "S", "ratio": "N", "raw": "B", "created": "S", "when": "N",
		"tags": "", "secret": "",
	} {
		f, _ := s.Field(attr)
		got, err := f.KeyType()
		if (want == "") != (err != nil) || got != want {
			t.Errorf("KeyType(%s) = %q, %v; want %q", attr, got, err, want)
		}
	}
	for attr, want := range map[string]bool{"count": true, "text": false, "ratio": false, "id": false} {
		if f, _ := s.Field(attr); f.IsInteger() != want {
			t.Errorf("IsInteger(%s) = %v", attr, !want)
		}
	}
	for attr, want := range map[string]bool{"count": true, "id": true, "text": false, "when": false} {
		if f, _ := s.Field(attr); f.Plain() != want {
			t.Errorf("Plain(%s) = %v", attr, !want)
		}
	}
}
