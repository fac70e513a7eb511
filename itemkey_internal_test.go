package dynacrypt

// Internals of suite 2's item key: derived once per root key and logical
// table, and the bounded cost of diagnosing a forged item.

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestItemKeyDerivedPerLogicalTable: Root.Derived caches one suite-2 item
// key per root key. A Root shared by the codecs of two logical tables (none
// of the Store's are) gives each the item key of its own table, under
// concurrent first use too (run with -race), so an item sealed under one
// logical table never opens under the other, whichever derived first.
func TestItemKeyDerivedPerLogicalTable(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	aes, err := NewAESCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	for round := 0; round < 20; round++ {
		ring, err := newRing(aes, "t1", &cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		c1 := newCodec([]string{"id"}, []string{"a"}, nil, "t1", DefaultHeaderAttribute, nil, ring)
		c2 := newCodec([]string{"id"}, []string{"a"}, nil, "t2", DefaultHeaderAttribute, nil, ring)
		root, err := ring.ForWrite(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(c *codec) {
				defer wg.Done()
				k, err := c.itemKey(root)
				if err != nil || k.Table() != c.logical {
					t.Errorf("codec of %q got the item key of %q (%v)", c.logical, k.Table(), err)
				}
			}([]*codec{&c1, &c2}[g%2])
		}
		wg.Wait()
		// Sealed under one logical table, never opened under the other,
		// whichever derived first.
		item := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u"}, "a": &types.AttributeValueMemberS{Value: "SEALED-SECRET"}}
		if err := c1.seal(ctx, item); err != nil {
			t.Fatal(err)
		}
		other := map[string]types.AttributeValue{}
		for k, v := range item {
			other[k] = v
		}
		if err := c2.open(ctx, other, false); !errors.Is(err, ErrIntegrity) {
			t.Errorf("item of logical table t1 opened as t2: %v, %v; want ErrIntegrity", other, err)
		}
		if err := c1.open(ctx, item, false); err != nil || item["a"].(*types.AttributeValueMemberS).Value != "SEALED-SECRET" {
			t.Errorf("genuine: %v, %v", item, err)
		}
	}
}

// TestUndeclaredTriesBounded: someone who writes the table forges a suite-2
// item with many binary attributes, whose tag fails; diagnosing which
// attribute might be an undeclared ciphertext costs diagnoseUndeclared at
// most maxUndeclaredProbes+1 AES-GCM opens, whatever their number (without
// the bound, 380 kB split into 8 binaries took 1.3 ms, against 0.1 ms for
// one open).
func TestUndeclaredTriesBounded(t *testing.T) {
	names := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = string(rune('a'+i%26)) + strconv.Itoa(i)
		}
		return out
	}
	for _, tc := range []struct{ candidates, tries int }{{0, 0}, {1, 1}, {2, 3}, {8, 9}, {9, 0}, {1000, 0}} {
		if got := len(undeclaredTries(names(tc.candidates))); got != tc.tries {
			t.Errorf("%d candidates: %d tries, want %d", tc.candidates, got, tc.tries)
		}
	}
}
