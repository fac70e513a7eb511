package dynacrypt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// largeFormatItem is an item of about 230 KB whose encrypted attributes
// are long values of every kind the in-place sealing and the owned
// decoding handle: a string of multi-byte text, a binary, a list of pages
// and a map of the other types. It is the same on every run.
func largeFormatItem() map[string]types.AttributeValue {
	r := rand.New(rand.NewPCG(24, 24))
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString([]string{"notes ", "é", "€", "𝄞", "\n"}[r.IntN(5)])
		}
		return b.String()
	}
	scan := make([]byte, 60<<10)
	for i := range scan {
		scan[i] = byte(r.Uint32())
	}
	blobs := [][]byte{scan[:5000], scan[5000:9000]}
	slices.SortFunc(blobs, bytes.Compare) // as DynamoDB returns a set
	pages := make([]types.AttributeValue, 50)
	for i := range pages {
		pages[i] = &types.AttributeValueMemberS{Value: text(1000)}
	}
	return map[string]types.AttributeValue{
		"id":    &types.AttributeValueMemberS{Value: "doc-1"},
		"title": &types.AttributeValueMemberS{Value: "a large record"},
		"body":  &types.AttributeValueMemberS{Value: text(120 << 10)},
		"scan":  &types.AttributeValueMemberB{Value: scan},
		"pages": &types.AttributeValueMemberL{Value: pages},
		"meta": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"n":     &types.AttributeValueMemberN{Value: "-12.5"},
			"ok":    &types.AttributeValueMemberBOOL{Value: true},
			"none":  &types.AttributeValueMemberNULL{Value: true},
			"tags":  &types.AttributeValueMemberSS{Value: []string{"a", "b", text(3000)}},
			"nums":  &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
			"blobs": &types.AttributeValueMemberBS{Value: blobs},
		}},
		"count":   &types.AttributeValueMemberN{Value: "42"},
		"version": &types.AttributeValueMemberN{Value: "3"},
	}
}

// largeFormatCodec encrypts largeFormatItem's long attributes, in table
// "users" as FORMAT.md's vectors do.
func largeFormatCodec(t *testing.T, root []byte) *codec {
	c := vectorCodec()
	c.encrypted = map[string]*itemcrypt.Field{}
	for _, name := range []string{"body", "scan", "pages", "meta", "count"} {
		c.encrypted[name] = itemcrypt.NewField(name)
	}
	cfg := defaultConfig()
	var err error
	if c.ring, err = newRing(fixedCipher{root}, "users", &cfg, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// storedDigest is SHA-256 over a stored item's attributes, by name in
// ascending order, each name and canonical value.
func storedDigest(t *testing.T, item map[string]types.AttributeValue) string {
	h := sha256.New()
	for _, name := range canonical.SortedKeys(item) {
		enc, err := canonical.Append(canonical.AppendName(nil, name), item[name])
		if err != nil {
			t.Fatal(err)
		}
		h.Write(enc)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestLargeItemsKeepTheirFormat: a large item sealed with fixed keys,
// salt and nonce is stored as the same bytes, in both suites, as before
// large items were encoded where they are sealed and opened into buffers
// their values own (the digests were computed by the code of commit
// a51e9c0, which did neither): so each code reads what the other writes.
// It then opens to the item it was.
func TestLargeItemsKeepTheirFormat(t *testing.T) {
	v := formatVectors(t)
	root, wrapped := v["root"], v["wrapped"]
	key, err := itemcrypt.NewItemKey(root, "users")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		suite string
		seal  func(c *codec, item map[string]types.AttributeValue) error
		want  string
	}{
		{"suite 1", func(c *codec, item map[string]types.AttributeValue) error {
			return c.sealWith(root, wrapped, seq(0xa0, 16), item)
		}, "34905ce44fc74ea86743c886f4918fe3d66f890bbae6497bd1c1e69a2d957dc5"},
		{"suite 2", func(c *codec, item map[string]types.AttributeValue) error {
			return c.sealV2(key, wrapped, seq(0xb0, 12), item)
		}, "ff3821048007351b9a9260fdce270fc6d3862459d41922493a71124146c9e5ec"},
	} {
		c := largeFormatCodec(t, root)
		item := largeFormatItem()
		if err := tc.seal(c, item); err != nil {
			t.Fatalf("%s: %v", tc.suite, err)
		}
		digest := storedDigest(t, item)
		if digest != tc.want {
			t.Errorf("%s: stored item's SHA-256 is %s, the code before wrote %s", tc.suite, digest, tc.want)
		}
		stored := maps.Clone(item)
		if err := c.open(context.Background(), item, false); err != nil {
			t.Fatalf("%s: open: %v", tc.suite, err)
		}
		delete(item, DefaultHeaderAttribute)
		if !reflect.DeepEqual(item, largeFormatItem()) {
			t.Errorf("%s: the large item did not open to what was sealed", tc.suite)
		}
		if storedDigest(t, stored) != digest {
			t.Errorf("%s: opening changed the stored item's bytes", tc.suite)
		}
	}
}
