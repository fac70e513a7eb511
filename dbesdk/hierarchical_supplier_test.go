package dbesdk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// TestSupplierSeesWhatDBESDKSuppliersSee: for items of format versions 1
// and 2, with the tenant attribute of every type, a BranchKeyIDSupplier is
// given exactly the attributes DB-ESDK gives its
// DynamoDbKeyBranchKeyIdSupplier (the oracle's selectorContext), from the
// same encryption context.
func TestSupplierSeesWhatDBESDKSuppliersSee(t *testing.T) {
	o := findOracle(t)
	raw := map[string]any{"type": "raw-aes", "namespace": "ns", "name": "k", "key": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))}
	for name, actions := range map[string]map[string]structure.Action{"format version 1": testActions, "format version 2": tenantActions} {
		t.Run(name, func(t *testing.T) {
			items := make([]map[string]types.AttributeValue, 10)
			for i := range items {
				items[i] = variedItem(i, "")
				if actions["tenant"] != 0 {
					items[i]["tenant"] = variedItem(i, "")["secret"] // every type in turn
				}
			}
			out := o.run(testConfig(suite.SymSig, actions, raw), o.itemLines(items), "encrypt", "-header")
			for i, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
				var got struct {
					Header struct {
						EncryptionContext map[string]string          `json:"encryptionContext"`
						SelectorContext   map[string]json.RawMessage `json:"selectorContext"`
					} `json:"header"`
				}
				if err := json.Unmarshal(line, &got); err != nil {
					t.Fatal(err)
				}
				want := make(map[string]types.AttributeValue)
				for name, raw := range got.Header.SelectorContext {
					av, err := export.ParseValue(raw)
					if err != nil {
						t.Fatal(err)
					}
					want[name] = av
				}
				ec := make(structure.Context, 0, len(got.Header.EncryptionContext))
				for _, k := range slices.Sorted(maps.Keys(got.Header.EncryptionContext)) {
					ec = append(ec, structure.Pair{Key: k, Value: got.Header.EncryptionContext[k]})
				}
				sel, err := selectorOf(ec)
				if err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				sameItem(t, fmt.Sprintf("item %d's selector", i), sel, want)
			}
		})
	}
}

// TestBranchKeyIDFromAttribute: the supplier maps a string or number
// attribute to a branch key id, and refuses items without it.
func TestBranchKeyIDFromAttribute(t *testing.T) {
	s := BranchKeyIDFromAttribute("tenant", "tenant-")
	for _, c := range []struct {
		v    types.AttributeValue
		want string
	}{
		{&types.AttributeValueMemberS{Value: "acme"}, "tenant-acme"},
		{&types.AttributeValueMemberN{Value: "42"}, "tenant-42"},
		{&types.AttributeValueMemberB{Value: []byte("acme")}, ""},
		{nil, ""},
	} {
		key := map[string]types.AttributeValue{}
		if c.v != nil {
			key["tenant"] = c.v
		}
		got, err := s(context.Background(), key)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("%#v: %q, %v; want %q", c.v, got, err, c.want)
		}
	}
}
