package schema

import (
	"crypto/x509"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

// Types for TestParseRejects and TestParseAccepts. Their names appear in the
// paths the errors name.
type (
	Profile struct {
		Email string `dynamodbav:"email" encrypt:"kms"`
	}
	NestedField struct {
		ID      string
		Profile Profile `dynamodbav:"profile"`
	}
	NestedPointer struct {
		ID      string
		Profile *Profile
	}
	NamedEmbed struct {
		ID      string
		Profile `dynamodbav:"profile"`
	}
	Card struct {
		Number string `encrypt:"kms"`
	}
	SliceElem struct {
		Cards []Card
	}
	ArrayElem struct {
		Cards [2]*Card
	}
	MapValue struct {
		ByID map[string]*Card
	}
	MapKey struct {
		ByCard map[Card]string
	}
	Deep struct {
		A struct {
			B []map[string][]struct {
				C string `encrypt:"kms"`
			}
		}
	}
	BelowEncrypted struct {
		Profile Profile `encrypt:"kms"`
	}
	hiddenSecret struct {
		secret string `encrypt:"kms"`
	}
	UnexportedNested struct {
		H hiddenSecret
	}
	UnexportedTop struct {
		p Profile
	}
	SkippedTop struct {
		Skip Profile `dynamodbav:"-"`
	}
	Wrapped struct {
		Secret string `encrypt:"kms"`
	}
	InsideMarshaler struct {
		W Wrapped
	}
	SelfNested struct {
		ID     string
		Secret string `encrypt:"kms"`
		Kids   []SelfNested
	}
	SelfPointer struct {
		Secret string `encrypt:"kms"`
		Parent *SelfPointer
	}
	EmbeddedBase struct {
		Secret string `encrypt:"kms"`
		Nested Profile
	}
	InlinedThenNested struct {
		EmbeddedBase
	}
	InlinedAgain struct {
		Secret string `encrypt:"kms"`
	}
	InlinedReachedAgain struct {
		InlinedAgain
		Prev *InlinedAgain
	}
	NestedWrongValue struct {
		P struct {
			X string `encrypt:"aes"`
		}
	}

	ValueMarshaler   struct{ ID string }
	PointerUnmarshal struct{ ID string }
	PromotedMarshal  struct {
		ValueMarshaler
		Secret string `encrypt:"kms"`
	}

	Encrypted struct {
		Secret string `encrypted:"kms"`
	}
	CapitalEncrypt struct {
		Secret string `Encrypt:"kms"`
	}
	Encryption struct {
		Secret string `encryption:"kms"`
	}
	KMSKey struct {
		Secret string `KMS:"true"`
	}
	Transposed struct {
		Secret string `encrpyt:"kms"`
	}
	Swapped struct {
		Secret string `encyrpt:"true"`
	}
	ShortKey struct {
		Secret string `enc:"kms"`
	}
	Crypt struct {
		Secret string `dynamodbav:"secret" json:"secret" crypt:"kms"`
	}
	MisspelledNested struct {
		P struct {
			Secret string `dynamodbav:"s" Encrypted:"kms"`
		}
	}
	MisspelledEmbedded struct {
		MisspelledBase
	}
	MisspelledBase struct {
		Secret string `decrypt:"kms"`
	}

	Twins struct {
		A string `dynamodbav:"username"`
		B string `dynamodbav:"Username"`
	}
	TwinBase struct {
		Name string
	}
	EmbeddedTwins struct {
		TwinBase
		Other string `dynamodbav:"NAME"`
	}
	KelvinTwins struct {
		A string `dynamodbav:"k"`
		B string `dynamodbav:"\u212a"`
	}

	BadUTF8 struct {
		ID  string
		Bad string `dynamodbav:"\xff"`
	}
	BadUTF8Nested struct {
		P struct {
			Bad string `dynamodbav:"a\xffb"`
		}
	}
)

func (ValueMarshaler) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: "x"}, nil
}
func (*PointerUnmarshal) UnmarshalDynamoDBAttributeValue(types.AttributeValue) error { return nil }
func (*Wrapped) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: "x"}, nil
}

// malformed returns a struct type with one field, Secret, tagged tag.
func malformed(tag string) reflect.Type {
	return reflect.StructOf([]reflect.StructField{{Name: "Secret", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(tag)}})
}

func TestParseRejects(t *testing.T) {
	const notApplied = "not applied"
	for _, tc := range []struct {
		typ  reflect.Type
		want []string // substrings of the message
	}{
		// 1. encrypt tags Parse would not apply.
		{reflect.TypeFor[NestedField](), []string{"NestedField.Profile.Email", notApplied, "tag NestedField.Profile " + `encrypt:"kms"`}},
		{reflect.TypeFor[NestedPointer](), []string{"NestedPointer.Profile.Email", notApplied, "NestedPointer.Profile "}},
		{reflect.TypeFor[NamedEmbed](), []string{"NamedEmbed.Profile.Email", notApplied}},
		{reflect.TypeFor[SliceElem](), []string{"SliceElem.Cards[].Number", notApplied, "SliceElem.Cards "}},
		{reflect.TypeFor[ArrayElem](), []string{"ArrayElem.Cards[].Number", notApplied}},
		{reflect.TypeFor[MapValue](), []string{"MapValue.ByID[].Number", notApplied}},
		{reflect.TypeFor[MapKey](), []string{"MapKey.ByCard[key].Number", notApplied}},
		{reflect.TypeFor[Deep](), []string{"Deep.A.B[][][].C", notApplied, "Deep.A "}},
		{reflect.TypeFor[BelowEncrypted](), []string{"BelowEncrypted.Profile.Email", "already encrypted whole", "remove"}},
		{reflect.TypeFor[UnexportedNested](), []string{"UnexportedNested.H.secret", notApplied}},
		{reflect.TypeFor[UnexportedTop](), []string{"UnexportedTop.p.Email", notApplied}},
		{reflect.TypeFor[SkippedTop](), []string{"SkippedTop.Skip.Email", notApplied}},
		{reflect.TypeFor[InsideMarshaler](), []string{"InsideMarshaler.W.Secret", notApplied}},
		{reflect.TypeFor[SelfNested](), []string{"SelfNested.Kids[].Secret", notApplied}},
		{reflect.TypeFor[SelfPointer](), []string{"SelfPointer.Parent.Secret", notApplied}},
		{reflect.TypeFor[InlinedThenNested](), []string{"InlinedThenNested.EmbeddedBase.Nested.Email", notApplied, "InlinedThenNested.EmbeddedBase.Nested "}},
		{reflect.TypeFor[InlinedReachedAgain](), []string{"InlinedReachedAgain.Prev.Secret", notApplied}},
		{reflect.TypeFor[NestedWrongValue](), []string{"NestedWrongValue.P.X", notApplied}},

		// 2. T marshalling itself.
		{reflect.TypeFor[ValueMarshaler](), []string{"ValueMarshaler", "Marshaler"}},
		{reflect.TypeFor[PointerUnmarshal](), []string{"PointerUnmarshal", "Unmarshaler"}},
		{reflect.TypeFor[PromotedMarshal](), []string{"PromotedMarshal", "Marshaler"}},

		// 3. Misspelled encrypt tag keys, and malformed tags hiding one.
		{reflect.TypeFor[Encrypted](), []string{"Encrypted.Secret", `"encrypted"`, `encrypt:"kms"`}},
		{reflect.TypeFor[CapitalEncrypt](), []string{"CapitalEncrypt.Secret", `"Encrypt"`}},
		{reflect.TypeFor[Encryption](), []string{"Encryption.Secret", `"encryption"`}},
		{reflect.TypeFor[KMSKey](), []string{"KMSKey.Secret", `"KMS"`}},
		{reflect.TypeFor[Transposed](), []string{"Transposed.Secret", `"encrpyt"`}},
		{reflect.TypeFor[Swapped](), []string{"Swapped.Secret", `"encyrpt"`}},
		{reflect.TypeFor[ShortKey](), []string{"ShortKey.Secret", `"enc"`}},
		{reflect.TypeFor[Crypt](), []string{"Crypt.Secret", `"crypt"`}},
		{reflect.TypeFor[MisspelledNested](), []string{"MisspelledNested.P.Secret", `"Encrypted"`}},
		{reflect.TypeFor[MisspelledEmbedded](), []string{"MisspelledEmbedded.MisspelledBase.Secret", `"decrypt"`}},
		// Built by StructOf because go vet refuses such tags in source.
		{malformed(`encrypt: "kms"`), []string{".Secret", "malformed"}},
		{malformed(`dynamodbav:"s" encrypt:kms`), []string{".Secret", "malformed"}},
		{malformed(`dynamodbav:"s" Encrypt:'kms'`), []string{".Secret", "malformed"}},
		{malformed(`encrypt:"km\s"`), []string{".Secret", "malformed"}},

		// 4. Attribute names attributevalue would confuse when reading.
		{reflect.TypeFor[Twins](), []string{"Twins.B", `"Username"`, `"username"`, "Twins.A", "case"}},
		{reflect.TypeFor[EmbeddedTwins](), []string{"EmbeddedTwins.Other", `"NAME"`, "EmbeddedTwins.TwinBase.Name"}},
		{reflect.TypeFor[KelvinTwins](), []string{"KelvinTwins.B", "KelvinTwins.A"}},

		// 5. Attribute names that are not UTF-8.
		{reflect.TypeFor[BadUTF8](), []string{"BadUTF8.Bad", "UTF-8"}},
		{reflect.TypeFor[BadUTF8Nested](), []string{"BadUTF8Nested.P.Bad", "UTF-8"}},
	} {
		name := tc.typ.Name()
		if name == "" {
			name = tc.typ.String()
		}
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.typ)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if !utf8.ValidString(msg) || strings.Contains(msg, `\xff`) || strings.HasPrefix(msg, "dynacrypt:") {
				t.Errorf("error %q: invalid UTF-8, the bad bytes or a prefix", msg)
			}
		})
	}
}

type (
	Address struct {
		Street string `dynamodbav:"street"`
		Zip    string `json:"encrypted_zip" note:"not encrypted"`
	}
	Node struct {
		Kids []Node
	}
	RecList []RecList
	RecMap  map[string]RecMap
	RecPtr  *RecPtr
	opaque  struct {
		Inner string
		raw   []byte
	}
	unexportedBase struct {
		Token string `dynamodbav:"token" encrypt:"kms"`
	}
	Legit struct {
		Base
		unexportedBase
		ID       string                      `dynamodbav:"id"`
		Secret   string                      `dynamodbav:"secret" encrypt:"kms"`
		Home     Address                     `dynamodbav:"home"`
		Sealed   Address                     `dynamodbav:"sealed" encrypt:"kms"`
		Work     *Address                    `dynamodbav:"work"`
		Past     []Address                   `dynamodbav:"past"`
		ByName   map[string]Address          `dynamodbav:"by_name"`
		ByPtr    map[string]*Address         `dynamodbav:"by_ptr"`
		Tree     Node                        `dynamodbav:"tree"`
		List     RecList                     `dynamodbav:"list"`
		Map      RecMap                      `dynamodbav:"map"`
		Ptr      RecPtr                      `dynamodbav:"-"`
		At       time.Time                   `dynamodbav:"at"`
		AtPtr    *time.Time                  `dynamodbav:"at_ptr"`
		Unix     attributevalue.UnixTime     `dynamodbav:"unix"`
		Custom   Wrapper                     `dynamodbav:"custom"`
		Opaque   opaque                      `dynamodbav:"opaque"`
		Any      any                         `dynamodbav:"any"`
		Versions map[string]map[string][]int `dynamodbav:"versions"`
		NoTag    string                      `json:"encrypted" yaml:"kms" doc:"not encrypted"`
		Script   string                      `description:"a script" javascript:"x"`
		client   *http.Client
		cert     *x509.Certificate
	}
	// Wrapper has its own marshaller and no tags inside.
	Wrapper struct {
		in opaque
	}
)

func (Wrapper) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: "x"}, nil
}

func TestParseAccepts(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Item](),
		reflect.TypeFor[Legit](),
		reflect.TypeFor[Node](),
		reflect.TypeFor[Address](),
	} {
		if _, err := Parse(typ); err != nil {
			t.Errorf("%v: %v", typ, err)
		}
	}
	s, err := Parse(reflect.TypeFor[Legit]())
	if err != nil {
		t.Fatal(err)
	}
	var enc []string
	for _, f := range s.Encrypted() {
		enc = append(enc, f.Path)
	}
	if got := strings.Join(enc, " "); got != "Legit.unexportedBase.Token Legit.Secret Legit.Sealed" {
		t.Errorf("encrypted: %s", got)
	}
	_ = Legit{}.client
	_ = Legit{}.cert
	_ = Wrapper{}.in
	_ = opaque{}.raw
	_ = hiddenSecret{}.secret
	_ = UnexportedTop{}.p
}

func TestTagKeys(t *testing.T) {
	for _, tc := range []struct {
		tag  reflect.StructTag
		keys string // space-separated
		rest string
	}{
		{``, "", ""},
		{`a:"1"`, "a", ""},
		{`a:"1" b:"2"`, "a b", ""},
		{`  a:"1"   b:"x y"  `, "a b", ""},
		{`a:"1"b:"2"`, "a b", ""},
		{`a:"say \"hi\"" b:""`, "a b", ""},
		{`a:"\q" b:"2"`, "a b", ""}, // values are not unquoted here
		{`dynamodbav:"x,omitempty" Encrypt:"kms"`, "dynamodbav Encrypt", ""},
		{`ключ:"v"`, "ключ", ""},
		{`a: "1"`, "", `a: "1"`},
		{`a:"1" b:2`, "a", `b:2`},
		{`a:"1" b:'2'`, "a", `b:'2'`},
		{`a:"unterminated`, "", `a:"unterminated`},
		{`a:"1" :"2"`, "a", `:"2"`},
		{`a"b:"c"`, "", `a"b:"c"`},
		{"a:\"1\"\tb:\"2\"", "a", "\tb:\"2\""},
		{`a:"1" b`, "a", `b`},
		{`a`, "", `a`},
	} {
		keys, rest := tagKeys(tc.tag)
		if got := strings.Join(keys, " "); got != tc.keys || rest != tc.rest {
			t.Errorf("tagKeys(%q) = %q, %q; want %q, %q", tc.tag, got, rest, tc.keys, tc.rest)
		}
		// Every key found must be one reflect finds too.
		for _, k := range keys {
			if _, ok := tc.tag.Lookup(k); !ok && !strings.Contains(string(tc.tag), `\q`) {
				t.Errorf("tagKeys(%q): key %q is not one Lookup finds", tc.tag, k)
			}
		}
	}
}

func TestFieldFold(t *testing.T) {
	s, err := Parse(reflect.TypeFor[Item]())
	if err != nil {
		t.Fatal(err)
	}
	for attr, want := range map[string]string{
		"id": "id", "ID": "id", "Secret": "secret", "owner": "Owner", "OWNER": "Owner",
		"\u017fecret": "secret", // Unicode folds long s to s, as strings.EqualFold does
	} {
		if f, ok := s.FieldFold(attr); !ok || f.Attr != want {
			t.Errorf("FieldFold(%q) = %+v, %v; want %q", attr, f, ok, want)
		}
	}
	for _, attr := range []string{"", "nope", "secrets", "_dynacrypt"} {
		if f, ok := s.FieldFold(attr); ok {
			t.Errorf("FieldFold(%q) = %+v", attr, f)
		}
	}
}

// binaryMarshaler marshals itself, to any type of value.
type binaryMarshaler struct{}

func (binaryMarshaler) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberB{Value: []byte{1}}, nil
}

func TestMayBeBinary(t *testing.T) {
	type fields struct {
		Text      string            `dynamodbav:"text"`
		Number    *int              `dynamodbav:"number"`
		When      time.Time         `dynamodbav:"when"`
		Tags      map[string]string `dynamodbav:"tags"`
		Sets      [][]byte          `dynamodbav:"sets"`
		Bytes     []byte            `dynamodbav:"bytes"`
		Array     [4]byte           `dynamodbav:"array"`
		Pointer   *[]byte           `dynamodbav:"pointer"`
		Any       any               `dynamodbav:"any"`
		Marshaler binaryMarshaler   `dynamodbav:"marshaler"`
		PtrMarsh  *binaryMarshaler  `dynamodbav:"ptrmarsh"`
	}
	s, err := Parse(reflect.TypeFor[fields]())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"text": false, "number": false, "when": false, "tags": false, "sets": false,
		"bytes": true, "array": true, "pointer": true, "any": true, "marshaler": true, "ptrmarsh": true}
	for _, f := range s.Fields {
		if got := f.MayBeBinary(); got != want[f.Attr] {
			t.Errorf("%s.MayBeBinary() = %t, want %t", f.Path, got, want[f.Attr])
		}
	}
}
