package dynacrypt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// A field tagged encrypt:"kms" must never reach the table in plaintext: not
// through a misspelled tag, nor through a value New cannot see (an
// interface, an embedded unexported struct), and the checks that ensure it
// must neither refuse legitimate types nor crash on odd ones.

// Misspellings of the encrypt tag whose key neither contains "crypt" nor is
// "kms": two letters transposed, two swapped, a short form with the value
// "kms".
type typoTransposed struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrpyt:"kms"`
}

type typoSwapped struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encyrpt:"kms"`
}

type typoShort struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" enc:"kms"`
}

// typoStoresPlaintext reports whether New and Put of item, whose token
// field has a misspelled encrypt tag, store the token in plaintext.
func typoStoresPlaintext[T any](t *testing.T, db *dynamodb.Client, table, name string, item *T) (plaintext bool) {
	t.Helper()
	s, err := dynacrypt.New[T](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err != nil {
		t.Logf("%s: refused at New: %v", name, err)
		return false
	}
	if err := s.Put(context.Background(), item); err != nil {
		t.Logf("%s: Put refused: %v", name, err)
		return false
	}
	raw := rawGet(t, db, table, name)
	if v, ok := raw["token"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(v.Value, "secret-") {
		t.Logf("%s: New accepted the type, and the token is stored in plaintext: %q", name, v.Value)
		return true
	}
	return false
}

// TestMisspelledEncryptTagRefused: a developer misspells the encrypt tag
// (encrpyt:"kms", encyrpt:"kms", enc:"kms"). New refuses tag keys within two
// edits of "encrypt" and keys of unknown encoders whose value is "kms", so
// the secret is never stored in plaintext without a word.
func TestMisspelledEncryptTagRefused(t *testing.T) {
	db, table := usersTable(t)
	var leaked []string
	if typoStoresPlaintext(t, db, table, "encrpyt", &typoTransposed{ID: "encrpyt", Token: "secret-1"}) {
		leaked = append(leaked, `encrpyt:"kms"`)
	}
	if typoStoresPlaintext(t, db, table, "encyrpt", &typoSwapped{ID: "encyrpt", Token: "secret-2"}) {
		leaked = append(leaked, `encyrpt:"kms"`)
	}
	if typoStoresPlaintext(t, db, table, "enc", &typoShort{ID: "enc", Token: "secret-3"}) {
		leaked = append(leaked, `enc:"kms"`)
	}
	if len(leaked) > 0 {
		t.Errorf("misspelled encrypt tags accepted by New, field stored in plaintext: %s", strings.Join(leaked, ", "))
	}
}

type innerSecret struct {
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

type anyHolder struct {
	ID    string         `dynamodbav:"id"`
	Token string         `dynamodbav:"token" encrypt:"kms"`
	Extra any            `dynamodbav:"extra"`
	Bag   map[string]any `dynamodbav:"bag"`
}

// TestEncryptTagBehindInterfaceRefused: a field of interface type (any,
// map[string]any) holds, at Put, a struct with an encrypt:"kms" field, which
// New cannot see; attributevalue would marshal it as a plaintext map entry.
// Put checks the values such fields hold and refuses the item, so the
// secret never reaches the table.
func TestEncryptTagBehindInterfaceRefused(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s, err := dynacrypt.New[anyHolder](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err != nil {
		t.Logf("refused at New: %v", err)
		return
	}
	err = s.Put(ctx, &anyHolder{ID: "h1", Token: "t", Extra: innerSecret{Secret: "secret-any"},
		Bag: map[string]any{"card": innerSecret{Secret: "secret-bag"}}})
	if err != nil {
		t.Logf("refused at Put: %v", err)
		return
	}
	raw := rawGet(t, db, table, "h1")
	var leaks []string
	if m, ok := raw["extra"].(*types.AttributeValueMemberM); ok {
		if v, ok := m.Value["secret"].(*types.AttributeValueMemberS); ok {
			leaks = append(leaks, "extra.secret="+v.Value)
		}
	}
	if m, ok := raw["bag"].(*types.AttributeValueMemberM); ok {
		if c, ok := m.Value["card"].(*types.AttributeValueMemberM); ok {
			if v, ok := c.Value["secret"].(*types.AttributeValueMemberS); ok {
				leaks = append(leaks, "bag.card.secret="+v.Value)
			}
		}
	}
	if len(leaks) > 0 {
		t.Errorf("fields tagged encrypt:\"kms\" behind an interface are stored in plaintext, New and Put accepted them: %v", leaks)
	}
}

// findPlaintext returns the paths of string values starting with prefix
// anywhere in a stored item, at any depth.
func findPlaintext(item map[string]types.AttributeValue, prefix string) []string {
	var found []string
	var walk func(path string, v types.AttributeValue)
	walk = func(path string, v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			if strings.HasPrefix(v.Value, prefix) {
				found = append(found, path+"="+v.Value)
			}
		case *types.AttributeValueMemberM:
			for k, e := range v.Value {
				walk(path+"."+k, e)
			}
		case *types.AttributeValueMemberL:
			for i, e := range v.Value {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	for k, v := range item {
		walk(k, v)
	}
	return found
}

// taggedSecret has an encrypted field: the tests hide it in plaintext
// attributes.
type taggedSecret struct {
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

// hiddenEmbed is embedded unexported: attributevalue promotes its exported
// fields (field.go enumFields: "unexported but anonymous field may still be
// used if the type has exported nested fields").
type hiddenEmbed struct {
	Extra any `dynamodbav:"extra"`
}

// wrapsHidden embeds hiddenEmbed; hiddenHolder holds it at every depth.
type wrapsHidden struct {
	hiddenEmbed
	Label string `dynamodbav:"label"`
}

type hiddenHolder struct {
	ID    string                 `dynamodbav:"id"`
	Token string                 `dynamodbav:"token" encrypt:"kms"`
	W     wrapsHidden            `dynamodbav:"w"`
	Byte  map[string]wrapsHidden `dynamodbav:"byte"`
	Any   any                    `dynamodbav:"any"`
}

// topEmbed embeds the same struct at the top level, where Parse follows
// it: the control case.
type topEmbed struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	hiddenEmbed
}

// TestEncryptTagInEmbeddedUnexportedStructRefused: attributevalue marshals
// the exported fields of an embedded unexported struct, so an interface
// field in there, at any depth (a field, a map value, any, *any), may hold a
// struct with encrypt:"kms" fields. Put's check of interface values follows
// such embeddings as attributevalue does and refuses the item, as it
// refuses the same embedding at the top level (the control): the secret is
// never stored in plaintext.
func TestEncryptTagInEmbeddedUnexportedStructRefused(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[hiddenHolder](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	secret := func(s string) hiddenEmbed { return hiddenEmbed{Extra: taggedSecret{Secret: s}} }
	cases := map[string]*hiddenHolder{
		"field":     {ID: "field", Token: "t", W: wrapsHidden{hiddenEmbed: secret("secret-field")}},
		"map value": {ID: "map", Token: "t", Byte: map[string]wrapsHidden{"k": {hiddenEmbed: secret("secret-map")}}},
		"any":       {ID: "any", Token: "t", Any: wrapsHidden{hiddenEmbed: secret("secret-any")}},
		"*any":      {ID: "ptr", Token: "t", Any: &wrapsHidden{hiddenEmbed: secret("secret-ptr")}},
	}
	var leaks []string
	for name, item := range cases {
		if err := s.Put(ctx, item); err != nil {
			t.Logf("%s: refused: %v", name, err)
			continue
		}
		if found := findPlaintext(rawGet(t, db, table, item.ID), "secret-"); len(found) > 0 {
			leaks = append(leaks, fmt.Sprintf("%s: %v", name, found))
		}
	}
	top := mustNew[topEmbed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	err := top.Put(ctx, &topEmbed{ID: "top", Token: "t", hiddenEmbed: secret("secret-top")})
	t.Logf("control, embedded at the top level: %v", err)
	if err == nil {
		t.Errorf("control: the top-level embedding was accepted too")
	}
	if len(leaks) > 0 {
		t.Errorf("encrypt:\"kms\" fields held by an interface inside an embedded unexported struct were stored in plaintext, Put returned nil: %s", strings.Join(leaks, "; "))
	}
}

// Odd values for Put's check of interface values.
type secretStringer struct {
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

func (secretStringer) String() string { return "x" }

type selfMarshalling struct {
	Secret string `encrypt:"kms"`
}

func (m selfMarshalling) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: m.Secret}, nil
}

type listNode struct {
	Next *listNode `dynamodbav:"next"`
	V    any       `dynamodbav:"v"`
}

type oddValues struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	fmt.Stringer
	PtrAny   *any             `dynamodbav:"ptr_any"`
	Arr      [2]any           `dynamodbav:"arr"`
	Nested   map[string][]any `dynamodbav:"nested"`
	Node     *listNode        `dynamodbav:"node"`
	IfaceKey map[string]any   `dynamodbav:"iface_key"`
	Sealed   any              `dynamodbav:"sealed" encrypt:"kms"`
	private  any
}

// TestEncryptTagReachedThroughOddValuesRefused: a struct with an encrypted
// field reached through a pointer to an interface, an array, a map of
// slices, a linked list, an embedded exported interface or a type that
// marshals itself is refused at Put, never stored in plaintext; nil values,
// unexported fields, anything inside an encrypted field and plain JSON
// values are accepted; and no value makes Put panic.
func TestEncryptTagReachedThroughOddValuesRefused(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s, err := dynacrypt.New[oddValues](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var secret any = taggedSecret{Secret: "secret-1"}
	refuse := map[string]*oddValues{
		"pointer to interface": {PtrAny: &secret},
		"array":                {Arr: [2]any{nil, taggedSecret{Secret: "secret-2"}}},
		"map of slices":        {Nested: map[string][]any{"k": {1, taggedSecret{Secret: "secret-3"}}}},
		"linked list":          {Node: &listNode{Next: &listNode{Next: &listNode{V: &taggedSecret{Secret: "secret-4"}}}}},
		"embedded interface":   {Stringer: secretStringer{Secret: "secret-5"}},
		"self-marshaller":      {IfaceKey: map[string]any{"m": selfMarshalling{Secret: "secret-6"}}},
	}
	i := 0
	for name, item := range refuse {
		i++
		item.ID, item.Token = fmt.Sprintf("refuse-%d", i), "t"
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Put of %s panicked: %v", name, p)
				}
			}()
			err = s.Put(ctx, item)
		}()
		if err == nil {
			t.Errorf("%s accepted by Put, want it refused; stored: %v", name, findPlaintext(rawGet(t, db, table, item.ID), "secret-"))
		}
	}
	accept := map[string]*oddValues{
		"nil everything":    {},
		"unexported":        {private: taggedSecret{Secret: "secret-7"}},
		"encrypted field":   {Sealed: taggedSecret{Secret: "secret-8"}},
		"plain JSON values": {Nested: map[string][]any{"k": {1.5, "s", true, nil, map[string]any{"x": []any{"y"}}}}},
	}
	for name, item := range accept {
		i++
		item.ID, item.Token = fmt.Sprintf("accept-%d", i), "t"
		if err := s.Put(ctx, item); err != nil {
			t.Errorf("false positive: %s refused: %v", name, err)
			continue
		}
		if found := findPlaintext(rawGet(t, db, table, item.ID), "secret-"); len(found) > 0 {
			t.Errorf("%s stored in plaintext: %v", name, found)
		}
	}
}

type bagDoc struct {
	ID    string         `dynamodbav:"id"`
	Token string         `dynamodbav:"token" encrypt:"kms"`
	Bag   map[string]any `dynamodbav:"bag"`
}

// TestJSONDataNeverTakenForEncryptTag: the check of interface values never
// refuses what an API decodes from JSON into map[string]any, whatever the
// JSON says (keys "encrypt" and "kms", deep nesting): it reads back intact.
func TestJSONDataNeverTakenForEncryptTag(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[bagDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	var bag map[string]any
	doc := `{"encrypt":"kms","kms":"encrypt","_dynacrypt":{"encrypt":["kms",{"kms":1}]},"deep":[[[[{"a":null}]]]],"n":1e20}`
	if err := json.Unmarshal([]byte(doc), &bag); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, &bagDoc{ID: "json", Token: "t", Bag: bag}); err != nil {
		t.Errorf("false positive: JSON data refused: %v", err)
	}
	if got, err := s.Get(ctx, bagDoc{ID: "json"}); err != nil || got.Bag["kms"] != "encrypt" {
		t.Errorf("read back: %+v, %v", got, err)
	}
}

type kmsNamedField struct {
	ID     string `dynamodbav:"id"`
	KMS    string `dynamodbav:"kms"` // e.g. the ARN of a customer's key
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

type kmsNamedInner struct {
	Provider string `dynamodbav:"kms"`
}

// TestAttributeNamedKMSAccepted: the tag check refuses a value "kms" under
// an unknown key as a misspelled encrypt tag, but not under the keys of
// encoders that name fields: a field stored as attribute "kms"
// (dynamodbav:"kms", such as a customer's key ARN) is accepted by New, and
// a value of such a type inside a map[string]any by Put.
func TestAttributeNamedKMSAccepted(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	var refused []string
	if _, err := dynacrypt.New[kmsNamedField](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t))); err != nil {
		t.Logf("New: %v", err)
		refused = append(refused, "New of a type with a field dynamodbav:\"kms\"")
	}
	s := mustNew[bagDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err := s.Put(ctx, &bagDoc{ID: "b", Token: "t", Bag: map[string]any{"key": kmsNamedInner{Provider: "aws"}}}); err != nil {
		t.Logf("Put: %v", err)
		refused = append(refused, "Put of a plaintext map value with a field dynamodbav:\"kms\"")
	}
	if len(refused) > 0 {
		t.Errorf("legitimate types refused: %s", strings.Join(refused, "; "))
	}
}

// treeNode is a tree whose nodes point back to their parent, a pointer
// attributevalue never follows (dynamodbav:"-"), and carry free-form
// metadata (an interface, so CheckValue walks the tree).
type treeNode struct {
	Name     string         `dynamodbav:"name"`
	Meta     map[string]any `dynamodbav:"meta"`
	Children []*treeNode    `dynamodbav:"children"`
	Parent   *treeNode      `dynamodbav:"-"`
}

type treeDoc struct {
	ID    string   `dynamodbav:"id"`
	Token string   `dynamodbav:"token" encrypt:"kms"`
	Tree  treeNode `dynamodbav:"tree"`
}

func newTreeDoc() *treeDoc {
	d := &treeDoc{ID: "doc", Token: "t", Tree: treeNode{Name: "root", Meta: map[string]any{"k": "v"}}}
	child := &treeNode{Name: "child", Parent: &d.Tree}
	d.Tree.Children = []*treeNode{child}
	return d
}

// TestEncryptTagCheckSkipsIgnoredFields: a tree whose nodes point back to
// their parent through a field tagged dynamodbav:"-" marshals fine with
// attributevalue, which skips such fields. Put's check of interface values
// skips them too: following the back-pointer would go round the cycle
// until the goroutine stack overflowed, a fatal error no recover catches.
// The Put runs in a child process (with an 8 MB stack limit, to fail fast),
// and the test fails if the child crashed.
func TestEncryptTagCheckSkipsIgnoredFields(t *testing.T) {
	if table := os.Getenv("DYNACRYPT_TEST_TREE_TABLE"); table != "" {
		debug.SetMaxStack(8 << 20)
		db := testrig.DynamoDB(t)
		s := mustNew[treeDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
		err := s.Put(context.Background(), newTreeDoc())
		t.Logf("child: Put returned: %v", err)
		return
	}
	if _, err := attributevalue.MarshalMap(newTreeDoc()); err != nil {
		t.Fatalf("attributevalue cannot marshal the item either: %v", err)
	}
	_, table := usersTable(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestEncryptTagCheckSkipsIgnoredFields$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "DYNACRYPT_TEST_TREE_TABLE="+table)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if i := strings.Index(text, "stack overflow"); i >= 0 || strings.Contains(text, "goroutine stack exceeds") {
		i = max(i, 0)
		frame := ""
		if j := strings.Index(text, "schema.checkValue"); j >= 0 {
			frame = text[j:min(len(text), j+200)]
		}
		t.Errorf("Put of a tree with dynamodbav:\"-\" parent pointers killed the process (%v):\n%s\n...\n%s", err, text[i:min(len(text), i+120)], frame)
	} else if err != nil {
		t.Errorf("child failed: %v\n%s", err, text[:min(len(text), 2000)])
	} else {
		t.Logf("child: %s", text[:min(len(text), 500)])
	}
}
