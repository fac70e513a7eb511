package structure_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// vectorDir holds AWS's test vectors (see its README).
var vectorDir = filepath.Join("..", "..", "..", "testdata", "dbesdk")

// DB-ESDK's test vector defaults (TestVectors/dafny/DDBEncryption/src/JsonConfig.dfy).
const (
	vectorTable        = "GazelleVectorTable"
	vectorPartitionKey = "RecNum"
	vectorBranchKey    = "static-branch-key-1"
)

// vectorConfig is a table configuration of DB-ESDK's test vectors.
type vectorConfig struct {
	LogicalTableName string            `json:"logicalTableName"`
	PartitionKeyName string            `json:"partitionKeyName"`
	SortKeyName      string            `json:"sortKeyName"`
	Key              json.RawMessage   `json:"key"` // a key description; none means the static branch key
	Actions          map[string]string `json:"attributeActionsOnEncrypt"`
	Unsigned         []string          `json:"allowedUnsignedAttributes"`
	UnsignedPrefix   string            `json:"allowedUnsignedAttributePrefix"`
	Suite            string            `json:"algorithmSuiteId"`
}

// vectorTest is one test of a decrypt manifest (an encrypted item and
// its plaintext) or of an encrypt manifest (a record to encrypt, and
// possibly another configuration to decrypt it with).
type vectorTest struct {
	Type          string          `json:"type"`
	Description   string          `json:"description"`
	Config        vectorConfig    `json:"config"`
	DecryptConfig *vectorConfig   `json:"decryptConfig,omitempty"`
	Plaintext     json.RawMessage `json:"plaintext,omitempty"`
	Encrypted     json.RawMessage `json:"encrypted,omitempty"`
	Record        json.RawMessage `json:"record,omitempty"`
}

type vectorManifest struct {
	manifestHead
	Keys  string                `json:"keys"` // "file://keys.json", relative to the manifest
	Tests map[string]vectorTest `json:"tests"`
}

// manifestHead says what a JSON file of test vectors is.
type manifestHead struct {
	Manifest struct {
		Type string `json:"type"`
	} `json:"manifest"`
}

// vectorKey is a key of keys.json: a static branch key or a raw AES key
// (the kinds of key dynacrypt's keyrings take without a key service).
type vectorKey struct {
	Type      string `json:"type"`
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key-id"`
	Version   string `json:"branchKeyVersion"`
	BranchKey []byte `json:"branchKey"`
	Material  string `json:"material"`
	Encoding  string `json:"encoding"`
}

type vectorKeys map[string]vectorKey

func readVectorKeys(t testing.TB, path string) vectorKeys {
	t.Helper()
	var keys struct {
		Keys vectorKeys `json:"keys"`
	}
	readJSON(t, path, &keys)
	return keys.Keys
}

// staticBranchKey returns the branch key AWS's vectors are encrypted under.
func staticBranchKey(t testing.TB) keywrap.BranchKey {
	t.Helper()
	bk, err := readVectorKeys(t, filepath.Join(vectorDir, "keys.json")).branchKey(vectorBranchKey)
	if err != nil {
		t.Fatal(err)
	}
	return bk
}

func (keys vectorKeys) branchKey(name string) (keywrap.BranchKey, error) {
	k, ok := keys[name]
	if !ok || k.Type != "static-branch-key" || len(k.BranchKey) != 32 {
		return keywrap.BranchKey{}, fmt.Errorf("keys.json has no 32-byte static branch key %q", name)
	}
	return keywrap.BranchKey{ID: k.KeyID, Version: k.Version, Key: k.BranchKey}, nil
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

// keyring returns the keyring a configuration's key description names:
// with none, DB-ESDK's vectors use the hierarchical keyring over the
// static branch key; a raw AES key takes its provider id as namespace.
// Other keyrings (AWS KMS in AWS's regions, RSA, ECDH) are errors: the
// vectors written with them cannot be read offline by this test.
func (keys vectorKeys) keyring(description json.RawMessage) (structure.Keyring, error) {
	var d struct {
		Type       string `json:"type"`
		Key        string `json:"key"`
		ProviderID string `json:"provider-id"`
		Algorithm  string `json:"encryption-algorithm"`
	}
	if len(description) > 0 {
		if err := json.Unmarshal(description, &d); err != nil {
			return nil, fmt.Errorf("key description %s: %w", description, err)
		}
	}
	if d.Key == "" {
		d.Key = vectorBranchKey
	}
	k := keys[d.Key]
	switch {
	case k.Type == "static-branch-key":
		bk, err := keys.branchKey(d.Key)
		if err != nil {
			return nil, err
		}
		return &keywrap.StaticBranchKey{Key: bk}, nil
	case d.Type == "raw" && d.Algorithm == "aes" && k.Algorithm == "aes" && k.Encoding == "base64":
		material, err := base64.StdEncoding.DecodeString(k.Material)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", d.Key, err)
		}
		return keywrap.NewRawAES(d.ProviderID, k.KeyID, material)
	}
	return nil, fmt.Errorf("key description %s: keyring not supported offline", description)
}

// encryptor returns an Encryptor with a vector's configuration.
func (keys vectorKeys) encryptor(c vectorConfig) (*structure.Encryptor, error) {
	kr, err := keys.keyring(c.Key)
	if err != nil {
		return nil, err
	}
	cfg := structure.Config{
		TableName:          cmp.Or(c.LogicalTableName, vectorTable),
		PartitionKey:       cmp.Or(c.PartitionKeyName, vectorPartitionKey),
		SortKey:            c.SortKeyName,
		Actions:            map[string]structure.Action{},
		UnsignedAttributes: c.Unsigned,
		UnsignedPrefix:     c.UnsignedPrefix,
		Keyring:            kr,
	}
	switch c.Suite {
	case "", "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384":
	case "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384":
		cfg.Suite = suite.SymSig
	default:
		return nil, fmt.Errorf("algorithm suite %q", c.Suite)
	}
	for name, s := range c.Actions {
		a, err := structure.ParseAction(s)
		if err != nil {
			return nil, err
		}
		cfg.Actions[name] = a
	}
	return structure.New(cfg)
}

// runVectorManifest runs every test of a decrypt or encrypt manifest of
// DB-ESDK's test vectors and returns how many of each type it ran.
func runVectorManifest(t *testing.T, path string) map[string]int {
	t.Helper()
	var m vectorManifest
	readJSON(t, path, &m)
	if m.Manifest.Type != "aws-dbesdk-decrypt" && m.Manifest.Type != "aws-dbesdk-encrypt" {
		t.Fatalf("%s: manifest type %q", path, m.Manifest.Type)
	}
	keysPath := filepath.Join(vectorDir, "keys.json")
	if m.Keys != "" {
		keysPath = filepath.Join(filepath.Dir(path), strings.TrimPrefix(m.Keys, "file://"))
	}
	keys := readVectorKeys(t, keysPath)
	ctx := context.Background()
	got := map[string]int{}
	for _, id := range slices.Sorted(maps.Keys(m.Tests)) {
		tc := m.Tests[id]
		name := fmt.Sprintf("%s/%s %s", filepath.Base(path), id, tc.Description)
		got[tc.Type]++
		enc, err := keys.encryptor(tc.Config)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		dec := enc
		if tc.DecryptConfig != nil {
			if dec, err = keys.encryptor(*tc.DecryptConfig); err != nil {
				t.Errorf("%s: decrypt config: %v", name, err)
				continue
			}
		}
		plaintext := tc.Plaintext
		var encrypted map[string]types.AttributeValue
		if tc.Encrypted != nil {
			encrypted = ddbJSONItem(t, tc.Encrypted)
		} else { // an encrypt manifest: encrypt its record first
			plaintext = tc.Record
			encrypted, err = enc.EncryptItem(ctx, simpleJSONItem(t, tc.Record))
			if tc.Type == "negative-encrypt" {
				if err == nil {
					t.Errorf("%s: encrypted, want a refusal", name)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: encrypt: %v", name, err)
				continue
			}
		}
		out, err := dec.DecryptItem(ctx, encrypted)
		switch tc.Type {
		case "positive-decrypt", "positive-encrypt":
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			assertSameItem(t, name, out, simpleJSONItem(t, plaintext))
		case "negative-decrypt":
			if err == nil {
				t.Errorf("%s: decrypted, want a refusal", name)
			}
		default:
			t.Errorf("%s: unknown type %q", name, tc.Type)
		}
	}
	return got
}

// TestAWSVectors decrypts every positive vector DB-ESDK for Java and .NET
// wrote to its plaintext and checks every negative one is refused.
func TestAWSVectors(t *testing.T) {
	want := map[string][2]int{ // file: positive, negative
		"decrypt_java_32.json":   {8, 1},
		"decrypt_java_33.json":   {11, 1},
		"decrypt_dotnet_32.json": {8, 1},
		"decrypt_dotnet_33.json": {11, 1},
	}
	for _, file := range slices.Sorted(maps.Keys(want)) {
		n := runVectorManifest(t, filepath.Join(vectorDir, file))
		got := [2]int{n["positive-decrypt"], n["negative-decrypt"]}
		t.Logf("%s: %d positive vectors decrypted, %d negative refused", file, got[0], got[1])
		if got != want[file] || len(n) != 2 {
			t.Errorf("%s: %v vectors, want %v", file, n, want[file])
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
