package dbesdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestSupplierSeesWhatDBESDKSuppliersSee: for items of format versions 1
// and 2, with the tenant attribute of every type, a BranchKeyIDSupplier is
// given exactly the attributes DB-ESDK gives its
// DynamoDbKeyBranchKeyIdSupplier (the oracle's selectorContext), from the
// same encryption context.
func TestSupplierSeesWhatDBESDKSuppliersSee(t *testing.T) {
	o := testrig.NewOracle(t)
	raw := testrig.OracleRawAES("ns", "k", bytes.Repeat([]byte{1}, 32))
	for name, actions := range map[string]map[string]structure.Action{"format version 1": testActions, "format version 2": tenantActions} {
		t.Run(name, func(t *testing.T) {
			items := make([]map[string]types.AttributeValue, 10)
			for i := range items {
				items[i] = variedItem(i, "")
				if actions["tenant"] != 0 {
					items[i]["tenant"] = variedItem(i, "")["secret"] // every type in turn
				}
			}
			for i, header := range o.Headers(t, testConfig(suite.SymSig, actions, raw), items) {
				var got struct {
					EncryptionContext map[string]string          `json:"encryptionContext"`
					SelectorContext   map[string]json.RawMessage `json:"selectorContext"`
				}
				if err := json.Unmarshal(header, &got); err != nil {
					t.Fatal(err)
				}
				want := make(map[string]types.AttributeValue)
				for name, raw := range got.SelectorContext {
					av, err := export.ParseValue(raw)
					if err != nil {
						t.Fatal(err)
					}
					want[name] = av
				}
				ec := make(structure.Context, 0, len(got.EncryptionContext))
				for _, k := range slices.Sorted(maps.Keys(got.EncryptionContext)) {
					ec = append(ec, structure.Pair{Key: k, Value: got.EncryptionContext[k]})
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
