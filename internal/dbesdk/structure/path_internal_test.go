package structure

import (
	"bytes"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestFieldsInCanonicalPathOrder checks serializeFields' shortcut (name
// length in UTF-16 code units, then name bytes) against the definition:
// canonical paths in byte order.
func TestFieldsInCanonicalPathOrder(t *testing.T) {
	names := []string{"a", "b", "ab", "abc", "é", "z\U00010002", "\uFF61", "\U00010002", "\U00010002abc", "abc\U00010002",
		"\uD000", "\uFE4C", "\U00020002", "\U00010001\U00010001", "RecNum", "Junk", "Stuff", "aws"}
	item := map[string]types.AttributeValue{}
	for _, name := range names {
		item[name] = &types.AttributeValueMemberS{Value: name}
	}
	e := &Encryptor{cfg: Config{TableName: "t\u00e9"}}
	sc := getScratch()
	defer sc.release()
	if err := e.serializeFields(sc, item, ErrInvalidItem, 0, func(string) (Action, error) { return SignOnly, nil }); err != nil {
		t.Fatal(err)
	}
	if len(sc.fields) != len(names) {
		t.Fatalf("%d fields for %d attributes", len(sc.fields), len(names))
	}
	if !slices.IsSortedFunc(sc.fields, func(a, b field) int { return bytes.Compare(a.path, b.path) }) {
		t.Errorf("fields not in canonical path order")
	}
	for _, f := range sc.fields {
		if want := appendPath(nil, "t\u00e9", f.name, utf16Len(f.name)); !bytes.Equal(f.path, want) {
			t.Errorf("path of %q", f.name)
		}
	}
	if utf16Len("a\U00010002\u00e9") != 4 {
		t.Error("a surrogate pair counts two code units")
	}
}
