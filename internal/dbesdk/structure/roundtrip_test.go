package structure_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// everyType returns a value of every DynamoDB type, nested.
func everyType() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"S":    s("héllo \U0001F600"),
		"N":    n("0800.000e0"),
		"B":    &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}},
		"BOOL": &types.AttributeValueMemberBOOL{Value: true},
		"NULL": &types.AttributeValueMemberNULL{Value: true},
		"SS":   &types.AttributeValueMemberSS{Value: []string{"\uFF61", "\U00010002", "a"}},
		"NS":   &types.AttributeValueMemberNS{Value: []string{"10", "-1.50", "2e3"}},
		"BS":   &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}, {}}},
		"L": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			s("x"), n("1"), &types.AttributeValueMemberL{},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"deep": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"z": &types.AttributeValueMemberNS{Value: []string{"1"}}}},
			}},
		}},
		"M": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"b": s(""), "a": &types.AttributeValueMemberBOOL{Value: false}, "\U00010002": &types.AttributeValueMemberNULL{Value: true},
		}},
	}
}

// testItem returns an item with every type under each action: "e…"
// attributes encrypted, "s…" signed, "u…" unsigned.
func testItem(v2 bool) (map[string]types.AttributeValue, map[string]structure.Action) {
	item := map[string]types.AttributeValue{"pk": s("user-1"), "sk": n("7")}
	keyAction := structure.SignOnly
	if v2 {
		keyAction = structure.SignAndIncludeInEncryptionContext
	}
	actions := map[string]structure.Action{"pk": keyAction, "sk": keyAction}
	for name, av := range everyType() {
		item["e"+name], actions["e"+name] = av, structure.EncryptAndSign
		item["s"+name], actions["s"+name] = av, structure.SignOnly
		item["u"+name], actions["u"+name] = av, structure.DoNothing
		if v2 {
			item["c"+name], actions["c"+name] = av, structure.SignAndIncludeInEncryptionContext
		}
	}
	return item, actions
}

func rawAESKeyring(t testing.TB, key byte) *keywrap.RawAES {
	t.Helper()
	k, err := keywrap.NewRawAES("dynacrypt-test", "key-1", []byte(strings.Repeat(string(rune(key)), 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// multi wraps under every keyring and unwraps with the first that can.
type multi []structure.Keyring

func (m multi) OnEncrypt(ctx context.Context, mat *structure.EncryptionMaterials) error {
	for _, k := range m {
		if err := k.OnEncrypt(ctx, mat); err != nil {
			return err
		}
	}
	return nil
}

func (m multi) OnDecrypt(ctx context.Context, mat *structure.DecryptionMaterials, edks []structure.EDK) error {
	var errs []error
	for _, k := range m {
		err := k.OnDecrypt(ctx, mat, edks)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newEncryptor(t testing.TB, actions map[string]structure.Action, id suite.ID, kr structure.Keyring) *structure.Encryptor {
	t.Helper()
	var unsigned []string
	for name, a := range actions {
		if a == structure.DoNothing {
			unsigned = append(unsigned, name)
		}
	}
	e, err := structure.New(structure.Config{
		TableName: "orders", PartitionKey: "pk", SortKey: "sk",
		Actions: actions, UnsignedAttributes: unsigned, Suite: id, Keyring: kr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRoundTrip encrypts an item with every type under every action and
// decrypts it, for both suites, both format versions and both keyrings.
func TestRoundTrip(t *testing.T) {
	keyrings := map[string]structure.Keyring{
		"raw AES":      rawAESKeyring(t, 1),
		"branch key":   &keywrap.StaticBranchKey{Key: staticBranchKey(t)},
		"two keyrings": multi{rawAESKeyring(t, 2), &keywrap.StaticBranchKey{Key: staticBranchKey(t)}},
	}
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		for _, v2 := range []bool{false, true} {
			for krName, kr := range keyrings {
				t.Run(fmt.Sprintf("%v/v2=%v/%s", id, v2, krName), func(t *testing.T) {
					item, actions := testItem(v2)
					e := newEncryptor(t, actions, id, kr)
					enc, err := e.EncryptItem(context.Background(), item)
					if err != nil {
						t.Fatal(err)
					}
					checkEncryptedForm(t, enc, item, actions, id, v2)
					dec, err := e.DecryptItem(context.Background(), enc)
					if err != nil {
						t.Fatal(err)
					}
					assertSameItem(t, "round trip", dec, item)
					got, err := e.ResolveActions(enc)
					if err != nil {
						t.Fatal(err)
					}
					for name, a := range actions {
						if got[name] != a {
							t.Errorf("ResolveActions: %s is %v, want %v", name, got[name], a)
						}
					}
				})
			}
		}
	}
}

// checkEncryptedForm checks what DB-ESDK readers rely on: binary
// ciphertexts that start with the plaintext's type ID, other attributes
// untouched, and the header's version and flavor.
func checkEncryptedForm(t *testing.T, enc, item map[string]types.AttributeValue, actions map[string]structure.Action, id suite.ID, v2 bool) {
	t.Helper()
	if len(enc) != len(item)+2 {
		t.Errorf("%d attributes, want %d", len(enc), len(item)+2)
	}
	for name, a := range actions {
		if a != structure.EncryptAndSign {
			if enc[name] != item[name] {
				t.Errorf("%s (%v) changed", name, a)
			}
			continue
		}
		b, ok := enc[name].(*types.AttributeValueMemberB)
		if !ok || len(b.Value) < 18 {
			t.Fatalf("%s is not an encrypted binary", name)
		}
	}
	head := enc[structure.HeaderAttr].(*types.AttributeValueMemberB).Value
	h, err := structure.ParseHeader(head)
	if err != nil {
		t.Fatal(err)
	}
	wantVersion := byte(1)
	if v2 {
		wantVersion = 2
	}
	if h.Version != wantVersion || h.Suite != id {
		t.Errorf("header version %d suite %v, want %d %v", h.Version, h.Suite, wantVersion, id)
	}
	_, hasPub := h.Context.Get(suite.PublicKeyContextKey)
	if len(h.Context) != map[bool]int{false: 0, true: 1}[id.Signed()] || hasPub != id.Signed() {
		t.Errorf("stored encryption context %v", h.Context)
	}
	foot := enc[structure.FooterAttr].(*types.AttributeValueMemberB).Value
	want := len(h.EDKs) * suite.RecipientTagSize
	if id.Signed() {
		want += suite.SignatureSize
	}
	if len(foot) != want {
		t.Errorf("footer of %d bytes, want %d", len(foot), want)
	}
}

// TestRoundTripAWSRecords round-trips DB-ESDK's own round-trip records
// under its configurations (data.json), for both suites.
func TestRoundTripAWSRecords(t *testing.T) {
	var data struct {
		RoundTripTest struct {
			Configs map[string]vectorConfig
			Records []map[string]json.RawMessage
		}
	}
	readJSON(t, filepath.Join(vectorDir, "data.json"), &data)
	keys := readVectorKeys(t, filepath.Join(vectorDir, "keys.json"))
	runs := 0
	for cfgName, c := range data.RoundTripTest.Configs {
		c.Key = json.RawMessage(`{"type": "raw", "encryption-algorithm": "aes", "provider-id": "dynacrypt-test", "key": "aes-256"}`)
		for _, id := range []string{"", "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384"} {
			c.Suite = id
			e, err := keys.encryptor(c)
			if err != nil {
				t.Fatal(err)
			}
			for i, rec := range data.RoundTripTest.Records {
				item := map[string]types.AttributeValue{}
				for name, raw := range rec {
					item[name] = simpleValue(t, raw)
				}
				name := fmt.Sprintf("%s/%s/record %d", cfgName, id, i)
				enc, err := e.EncryptItem(context.Background(), item)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				dec, err := e.DecryptItem(context.Background(), enc)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				assertSameItem(t, name, dec, item)
				runs++
			}
		}
	}
	if runs == 0 {
		t.Fatal("no round trips ran")
	}
}

// TestUnicodeNamesRoundTrip uses DB-ESDK's UTF-16 ordering strings as
// attribute names (whose canonical paths count UTF-16 code units) and as
// set members.
func TestUnicodeNamesRoundTrip(t *testing.T) {
	var data struct{ Strings []string }
	readJSON(t, filepath.Join(vectorDir, "data.json"), &data)
	item := map[string]types.AttributeValue{"pk": s("k"), "sk": n("1")}
	actions := map[string]structure.Action{"pk": structure.SignOnly, "sk": structure.SignOnly}
	var members []string
	for i, str := range data.Strings {
		if str == "" {
			continue
		}
		members = append(members, str)
		action := []structure.Action{structure.EncryptAndSign, structure.SignOnly}[i%2]
		item[str], actions[str] = &types.AttributeValueMemberSS{Value: append([]string(nil), members...)}, action
	}
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		e := newEncryptor(t, actions, id, rawAESKeyring(t, 4))
		enc, err := e.EncryptItem(context.Background(), item)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := e.DecryptItem(context.Background(), enc)
		if err != nil {
			t.Fatal(err)
		}
		assertSameItem(t, id.String(), dec, item)
	}
}

// TestEncryptItemRefuses checks the items DB-ESDK would not encrypt.
func TestEncryptItemRefuses(t *testing.T) {
	_, actions := testItem(true)
	e := newEncryptor(t, actions, suite.SymSig, rawAESKeyring(t, 1))
	tests := map[string]func(map[string]types.AttributeValue){
		"no partition key":         func(m map[string]types.AttributeValue) { delete(m, "pk") },
		"no sort key":              func(m map[string]types.AttributeValue) { delete(m, "sk") },
		"no context attribute":     func(m map[string]types.AttributeValue) { delete(m, "cS") },
		"unconfigured attribute":   func(m map[string]types.AttributeValue) { m["other"] = s("x") },
		"reserved attribute":       func(m map[string]types.AttributeValue) { m["aws_dbe_b_x"] = s("x") },
		"header attribute":         func(m map[string]types.AttributeValue) { m[structure.HeaderAttr] = s("x") },
		"unserializable value":     func(m map[string]types.AttributeValue) { m["eN"] = n("1e999") },
		"invalid UTF-8 in a value": func(m map[string]types.AttributeValue) { m["sS"] = s("\xff") },
		"empty attribute name":     func(m map[string]types.AttributeValue) { m[""] = s("x") },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			item, _ := testItem(true)
			mutate(item)
			if _, err := e.EncryptItem(context.Background(), item); !errors.Is(err, structure.ErrInvalidItem) {
				t.Fatalf("got %v, want ErrInvalidItem", err)
			}
		})
	}
}

// TestNewRefusesConfigs checks the configurations DB-ESDK refuses.
func TestNewRefusesConfigs(t *testing.T) {
	kr := rawAESKeyring(t, 1)
	base := func() structure.Config {
		return structure.Config{TableName: "t", PartitionKey: "pk", Keyring: kr,
			Actions: map[string]structure.Action{"pk": structure.SignOnly, "x": structure.EncryptAndSign}}
	}
	tests := map[string]func(*structure.Config){
		"no keyring":                  func(c *structure.Config) { c.Keyring = nil },
		"no table name":               func(c *structure.Config) { c.TableName = "" },
		"no partition key":            func(c *structure.Config) { c.PartitionKey = "" },
		"partition key encrypted":     func(c *structure.Config) { c.Actions["pk"] = structure.EncryptAndSign },
		"partition key not in v2 ctx": func(c *structure.Config) { c.Actions["t"] = structure.SignAndIncludeInEncryptionContext },
		"sort key unconfigured":       func(c *structure.Config) { c.SortKey = "sk" },
		"reserved attribute":          func(c *structure.Config) { c.Actions["aws_dbe_x"] = structure.SignOnly },
		"DO_NOTHING but signed":       func(c *structure.Config) { c.Actions["y"] = structure.DoNothing },
		"unsigned but not DO_NOTHING": func(c *structure.Config) { c.UnsignedAttributes = []string{"x"} },
		"prefix unsigns a signed one": func(c *structure.Config) { c.UnsignedPrefix = "x" },
		"invalid action":              func(c *structure.Config) { c.Actions["y"] = 0 },
		"unknown suite":               func(c *structure.Config) { c.Suite = 0x6702 },
		"reserved context prefix":     func(c *structure.Config) { c.TableName = "aws-crypto-t" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			c := base()
			mutate(&c)
			if _, err := structure.New(c); !errors.Is(err, structure.ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := structure.New(base()); err != nil {
		t.Fatalf("the base configuration must be valid: %v", err)
	}
}

// TestConcurrentUse shares one Encryptor and keyring between goroutines
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	item, actions := smallItem()
	e := newEncryptor(t, actions, suite.SymSig, multi{rawAESKeyring(t, 1), &keywrap.StaticBranchKey{Key: staticBranchKey(t)}})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				enc, err := e.EncryptItem(context.Background(), item)
				if err == nil {
					_, err = e.DecryptItem(context.Background(), enc)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestEachRecipientDecrypts writes under two keyrings and reads under each
// alone: each recipient's tag is found, whichever EDK it unwraps.
func TestEachRecipientDecrypts(t *testing.T) {
	item, actions := smallItem()
	aes, branch := rawAESKeyring(t, 1), &keywrap.StaticBranchKey{Key: staticBranchKey(t)}
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		enc, err := newEncryptor(t, actions, id, multi{aes, branch}).EncryptItem(context.Background(), item)
		if err != nil {
			t.Fatal(err)
		}
		for _, kr := range []structure.Keyring{aes, branch} {
			dec, err := newEncryptor(t, actions, id, kr).DecryptItem(context.Background(), enc)
			if err != nil {
				t.Fatalf("%v, %T: %v", id, kr, err)
			}
			assertSameItem(t, "second recipient", dec, item)
		}
	}
}
