package structure_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
)

// vectorDir holds AWS's test vectors (see its README).
var vectorDir = filepath.Join("..", "..", "..", "testdata", "dbesdk")

// DB-ESDK's test vector defaults (TestVectors/dafny/DDBEncryption/src/JsonConfig.dfy).
const (
	vectorTable        = "GazelleVectorTable"
	vectorPartitionKey = "RecNum"
	vectorBranchKey    = "static-branch-key-1"
)

type vectorConfig struct {
	Actions        map[string]string `json:"attributeActionsOnEncrypt"`
	Unsigned       []string          `json:"allowedUnsignedAttributes"`
	UnsignedPrefix string            `json:"allowedUnsignedAttributePrefix"`
	Suite          string            `json:"algorithmSuiteId"`
}

type vectorTest struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Config      vectorConfig    `json:"config"`
	Plaintext   json.RawMessage `json:"plaintext"`
	Encrypted   json.RawMessage `json:"encrypted"`
}

// staticBranchKey returns the branch key AWS's vectors are encrypted under.
func staticBranchKey(t testing.TB) keywrap.BranchKey {
	t.Helper()
	var keys struct {
		Keys map[string]struct {
			KeyID   string `json:"key-id"`
			Version string `json:"branchKeyVersion"`
			Key     []byte `json:"branchKey"`
		} `json:"keys"`
	}
	readJSON(t, filepath.Join(vectorDir, "keys.json"), &keys)
	k, ok := keys.Keys[vectorBranchKey]
	if !ok || len(k.Key) != 32 {
		t.Fatalf("keys.json has no 32-byte %s", vectorBranchKey)
	}
	return keywrap.BranchKey{ID: k.KeyID, Version: k.Version, Key: k.Key}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// vectorEncryptor returns an Encryptor with a vector's configuration.
func vectorEncryptor(t testing.TB, c vectorConfig, kr structure.Keyring) *structure.Encryptor {
	t.Helper()
	cfg := structure.Config{
		TableName:          vectorTable,
		PartitionKey:       vectorPartitionKey,
		Actions:            map[string]structure.Action{},
		UnsignedAttributes: c.Unsigned,
		UnsignedPrefix:     c.UnsignedPrefix,
		Keyring:            kr,
	}
	for name, s := range c.Actions {
		a, err := structure.ParseAction(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Actions[name] = a
	}
	e, err := structure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAWSVectors decrypts every positive vector DB-ESDK for Java and .NET
// wrote to its plaintext and checks every negative one is refused.
func TestAWSVectors(t *testing.T) {
	bk := staticBranchKey(t)
	keyring := &keywrap.StaticBranchKey{Key: bk}
	want := map[string][2]int{ // file: positive, negative
		"decrypt_java_32.json":   {8, 1},
		"decrypt_java_33.json":   {11, 1},
		"decrypt_dotnet_32.json": {8, 1},
		"decrypt_dotnet_33.json": {11, 1},
	}
	for _, file := range slices.Sorted(mapsKeys(want)) {
		var manifest struct {
			Tests map[string]vectorTest `json:"tests"`
		}
		readJSON(t, filepath.Join(vectorDir, file), &manifest)
		var got [2]int
		for _, id := range slices.Sorted(mapsKeys(manifest.Tests)) {
			tc := manifest.Tests[id]
			name := fmt.Sprintf("%s/%s %s", file, id, tc.Description)
			e := vectorEncryptor(t, tc.Config, keyring)
			enc := ddbJSONItem(t, tc.Encrypted)
			out, err := e.DecryptItem(context.Background(), enc)
			switch tc.Type {
			case "positive-decrypt":
				got[0]++
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				assertSameItem(t, name, out, simpleJSONItem(t, tc.Plaintext))
			case "negative-decrypt":
				got[1]++
				if err == nil {
					t.Errorf("%s: decrypted, want a refusal", name)
				}
				t.Logf("%s: refused: %v", name, err)
			default:
				t.Fatalf("%s: unknown type %q", name, tc.Type)
			}
		}
		t.Logf("%s: %d positive vectors decrypted, %d negative refused", file, got[0], got[1])
		if got != want[file] {
			t.Errorf("%s: %v vectors, want %v", file, got, want[file])
		}
	}
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ddbJSONItem parses an item in DynamoDB's JSON ({"name": {"S": "..."}}).
func ddbJSONItem(t testing.TB, raw json.RawMessage) map[string]types.AttributeValue {
	t.Helper()
	var m map[string]json.RawMessage
	decodeJSON(t, raw, &m)
	item := make(map[string]types.AttributeValue, len(m))
	for name, v := range m {
		item[name] = typedValue(t, v, true)
	}
	return item
}

// simpleJSONItem parses an item as DB-ESDK's test vectors write plaintexts
// (JsonItem.dfy): a JSON string is S, a JSON number is N, an object with
// one member is that DynamoDB type, whose nested values follow the same
// rule.
func simpleJSONItem(t testing.TB, raw json.RawMessage) map[string]types.AttributeValue {
	t.Helper()
	var m map[string]json.RawMessage
	decodeJSON(t, raw, &m)
	item := make(map[string]types.AttributeValue, len(m))
	for name, v := range m {
		item[name] = simpleValue(t, v)
	}
	return item
}

func decodeJSON(t testing.TB, raw json.RawMessage, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

func simpleValue(t testing.TB, raw json.RawMessage) types.AttributeValue {
	t.Helper()
	var v any
	decodeJSON(t, raw, &v)
	switch x := v.(type) {
	case string:
		return &types.AttributeValueMemberS{Value: x}
	case json.Number:
		return &types.AttributeValueMemberN{Value: x.String()}
	}
	return typedValue(t, raw, false)
}

// typedValue parses {"TYPE": value}; nested values are typed JSON when
// strict, else simple JSON.
func typedValue(t testing.TB, raw json.RawMessage, strict bool) types.AttributeValue {
	t.Helper()
	var m map[string]json.RawMessage
	decodeJSON(t, raw, &m)
	if len(m) != 1 {
		t.Fatalf("attribute value %s has %d members", raw, len(m))
	}
	nested := func(r json.RawMessage) types.AttributeValue {
		if strict {
			return typedValue(t, r, true)
		}
		return simpleValue(t, r)
	}
	for typ, v := range m {
		switch typ {
		case "S", "N":
			var s string
			decodeJSON(t, v, &s)
			if typ == "S" {
				return &types.AttributeValueMemberS{Value: s}
			}
			return &types.AttributeValueMemberN{Value: s}
		case "B":
			var b []byte
			decodeJSON(t, v, &b)
			return &types.AttributeValueMemberB{Value: b}
		case "BOOL":
			var b bool
			decodeJSON(t, v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}
		case "SS", "NS":
			var members []any // strings, or JSON numbers in a number set
			decodeJSON(t, v, &members)
			ss := make([]string, len(members))
			for i, m := range members {
				ss[i] = fmt.Sprint(m)
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}
			}
			return &types.AttributeValueMemberNS{Value: ss}
		case "BS":
			var members []string
			decodeJSON(t, v, &members)
			bs := make([][]byte, len(members))
			for i, m := range members {
				b, err := base64.StdEncoding.DecodeString(m)
				if err != nil {
					t.Fatal(err)
				}
				bs[i] = b
			}
			return &types.AttributeValueMemberBS{Value: bs}
		case "L":
			var members []json.RawMessage
			decodeJSON(t, v, &members)
			l := make([]types.AttributeValue, len(members))
			for i, m := range members {
				l[i] = nested(m)
			}
			return &types.AttributeValueMemberL{Value: l}
		case "M":
			var members map[string]json.RawMessage
			decodeJSON(t, v, &members)
			out := make(map[string]types.AttributeValue, len(members))
			for k, m := range members {
				out[k] = nested(m)
			}
			return &types.AttributeValueMemberM{Value: out}
		}
		t.Fatalf("unknown attribute type %q", typ)
	}
	return nil
}

// assertSameItem checks two items hold the same values as DynamoDB sees
// them: numbers compared normalized, sets in any order.
func assertSameItem(t testing.TB, name string, got, want map[string]types.AttributeValue) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d attributes, want %d", name, len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: attribute %q missing", name, k)
			continue
		}
		gb, gt, gerr := ddbser.AppendValue(nil, g)
		wb, wt, werr := ddbser.AppendValue(nil, w)
		if gerr != nil || werr != nil || gt != wt || !bytes.Equal(gb, wb) {
			t.Errorf("%s: attribute %q is %v, want %v (%v, %v)", name, k, g, w, gerr, werr)
		}
	}
}
