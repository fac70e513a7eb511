package structure

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// TestLayoutSerializesAsTheGeneralPath checks the shortcut of items whose
// attributes are all configured (paths and order worked out at New)
// against the general path, which sorts each item's attributes and builds
// their paths: the same fields, paths and values, on both sides of a round
// trip, and the general path's errors for items it does not cover.
func TestLayoutSerializesAsTheGeneralPath(t *testing.T) {
	names := []string{"pk", "a", "b", "ab", "abc", "é", "z\U00010002", "\uFF61", "\U00010002", "abc\U00010002", "\uFE4C", "RecNum"}
	actions := map[string]Action{"skip": DoNothing}
	item := map[string]types.AttributeValue{"skip": &types.AttributeValueMemberS{Value: "not signed"}}
	for i, name := range names {
		actions[name] = []Action{SignOnly, EncryptAndSign}[i%2]
		item[name] = &types.AttributeValueMemberS{Value: strings.Repeat(name, i+1)}
	}
	actions["pk"] = SignOnly
	e, err := New(Config{TableName: "t\u00e9", PartitionKey: "pk", Actions: actions, UnsignedAttributes: []string{"skip"},
		Suite: suite.SymSig, Keyring: plainKeyring{signingKey: make([]byte, suite.KeySize)}})
	if err != nil {
		t.Fatal(err)
	}
	general := *e
	general.layout.fast = false
	stored := maps.Clone(item)
	stored[HeaderAttr], stored[FooterAttr] = &types.AttributeValueMemberB{}, &types.AttributeValueMemberB{}

	for _, c := range []struct {
		name  string
		item  map[string]types.AttributeValue
		extra int
	}{
		{"encrypting", item, 0},
		{"decrypting", stored, 2},
		{"without some attributes", without(item, "a", "é", "skip"), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			fast, slow := getScratch(), getScratch()
			defer fast.release()
			defer slow.release()
			action := func(name string) (Action, error) {
				if a, ok := general.configured(name); ok {
					return a, nil
				}
				return DoNothing, nil // the header and footer
			}
			if ok, err := e.serializeKnown(fast, c.item, ErrInvalidItem, c.extra); !ok || err != nil {
				t.Fatalf("the shortcut did not take a configured item: %v, %v", ok, err)
			}
			if err := general.serializeFields(slow, c.item, ErrInvalidItem, c.extra, action); err != nil {
				t.Fatal(err)
			}
			if len(fast.fields) != len(slow.fields) {
				t.Fatalf("%d fields, the general path %d", len(fast.fields), len(slow.fields))
			}
			for i, f := range fast.fields {
				g := slow.fields[i]
				if f.name != g.name || f.action != g.action || f.typ != g.typ || !bytes.Equal(f.value, g.value) || !bytes.Equal(f.path, g.path) {
					t.Errorf("field %d: %q %v, the general path's %q %v", i, f.name, f.action, g.name, g.action)
				}
			}
		})
	}

	t.Run("unconfigured attribute", func(t *testing.T) {
		sc := getScratch()
		defer sc.release()
		odd := maps.Clone(item)
		odd["unconfigured"] = &types.AttributeValueMemberS{Value: "x"}
		if ok, _ := e.serializeKnown(sc, odd, ErrInvalidItem, 0); ok || len(sc.fields)+len(sc.present) != 0 {
			t.Fatal("the shortcut took an item with an unconfigured attribute, or left state behind")
		}
		odd["a"] = &types.AttributeValueMemberS{Value: "\xff"} // not UTF-8: not serializable
		_, err := e.EncryptItem(t.Context(), odd)
		if !errors.Is(err, ErrInvalidItem) || !strings.Contains(err.Error(), "no crypto action") {
			t.Fatalf("got %v, want the unconfigured attribute refused", err)
		}
	})
}

func without(item map[string]types.AttributeValue, names ...string) map[string]types.AttributeValue {
	out := maps.Clone(item)
	for _, name := range names {
		delete(out, name)
	}
	return out
}
