package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestKeyText: keys in failure reports, from attacker-written items: JSON
// where they are valid, numbers normalised, anything else quoted.
func TestKeyText(t *testing.T) {
	for _, c := range []struct {
		key  map[string]types.AttributeValue
		want string
	}{
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u1"}, "seq": &types.AttributeValueMemberN{Value: "+05"}}, `{"id":"u1","seq":5}`},
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a\x1b[2K\nb"}}, `{"id":"a\u001b[2K\nb"}`},
		{map[string]types.AttributeValue{"seq": &types.AttributeValueMemberN{Value: "1\x1b[1A\n"}}, `{"seq":invalid number "1\x1b[1A\n"}`},
		{map[string]types.AttributeValue{"id": nil}, `{"id":missing}`},
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberB{Value: []byte{0xff}}}, `{"id":"/w=="}`},
		{map[string]types.AttributeValue{"id": &types.AttributeValueMemberM{}}, `{"id":not a key type}`},
	} {
		if got := keyText(c.key); got != c.want {
			t.Errorf("keyText(%v) = %s, want %s", c.key, got, c.want)
		}
	}
}

// TestPrintable: what a terminal acts on is escaped, the rest left alone.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		`key {"id":"é"}: failed`:     `key {"id":"é"}: failed`,
		"a\x1b[1Ab\r\nc\td":          `a\x1b[1Ab\r\nc\td`,
		"\x7f\u009b31m\u202e\u2028x": `\x7f\u009b31m\u202e\u2028x`,
		"bad \xff\xfe utf-8":         `bad \xff\xfe utf-8`,
		"":                           "",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReportEscapesAttackerWrittenKeys: someone who writes the table gives
// items that fail keys meant for the operator's terminal: tenant strings
// with ESC sequences, BEL, C1 CSI, bidi overrides, line breaks, invalid
// UTF-8. The walk's report and its summary of the first failure show them
// escaped: no control character reaches the terminal raw, and no line is
// forged.
func TestReportEscapesAttackerWrittenKeys(t *testing.T) {
	ctx := context.Background()
	db, table, walk := keyATable(t, 7)
	src, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{"tenant": &types.AttributeValueMemberS{Value: "t0"}, "seq": &types.AttributeValueMemberN{Value: "0"}}})
	if err != nil || src.Item == nil {
		t.Fatal(err)
	}
	evil := []string{
		"\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "\u009b31m", "a\u202ecod.exe", "x\ny: 0 failed\r", "\xff\xfe\x9b", "\u2028\u2029", "\x7f",
	}
	for i, k := range evil {
		f := map[string]types.AttributeValue{}
		for name, v := range src.Item {
			f[name] = v
		}
		f["tenant"] = &types.AttributeValueMemberS{Value: k}
		f["seq"] = &types.AttributeValueMemberN{Value: "1" + strings.Repeat("0", i)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: f}); err != nil {
			t.Fatalf("key %q: %v", k, err)
		}
	}
	o := runBinary(t, "", append(walk, "-segments", "1")...)
	if o.code != exitItems {
		t.Fatalf("walk: %s", o)
	}
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\u2028", "\x7f"} {
		if strings.Contains(o.stderr, bad) || strings.Contains(o.stdout, bad) {
			t.Errorf("the report holds %q raw", bad)
		}
	}
	if strings.Count(o.stderr, "\n") > len(evil)+6 {
		t.Errorf("the report has forged lines (more than %d):\n%s", len(evil)+6, o.stderr)
	}
}
