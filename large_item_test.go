package dynacrypt

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/benchitem"
)

// newMemStore returns a Store of T keyed by "id", with the AES cipher,
// over an in-memory DB, which keeps the items it is given and returns
// them, as a DB wrapper or fake may: their ciphertexts are shared with it.
func newMemStore[T any](tb testing.TB) (*Store[T], *benchitem.MemDB) {
	tb.Helper()
	c, err := NewAESCipher(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	db := benchitem.NewMemDB()
	s, err := New[T](db, "docs", WithPartitionKey("id"), WithCipher(c))
	if err != nil {
		tb.Fatal(err)
	}
	return s, db
}

// allocatedPerCall returns the bytes f allocates per call, over calls
// after a first one that fills the root key cache and the pools.
func allocatedPerCall(f func()) float64 {
	f()
	const calls = 8
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / calls
}

// TestLargeItemPutGetAllocatesTwoCopies: a Put and a Get of an item whose
// bulk is one encrypted field allocate what they must, the stored
// ciphertext and the returned plaintext, and not the further copies of the
// value that made large items several times slower than the cipher.
func TestLargeItemPutGetAllocatesTwoCopies(t *testing.T) {
	s, _ := newMemStore[largeItem](t)
	ctx := context.Background()
	item := &largeItem{ID: "doc", Body: largeText(390 << 10)}
	putGet := func() {
		if err := s.Put(ctx, item); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, largeItem{ID: item.ID})
		if err != nil || got.Body != item.Body {
			t.Fatalf("Get: %v", err)
		}
	}
	if copies := allocatedPerCall(putGet) / float64(len(item.Body)); copies > 2.5 {
		t.Errorf("a Put and a Get of a %d-byte field allocate %.2f times its size, want at most 2.5", len(item.Body), copies)
	}
}

// TestGetLeavesTheStoredCiphertext: Get decrypts into memory of its own,
// not into the ciphertext the DB returned, which the DB may keep.
func TestGetLeavesTheStoredCiphertext(t *testing.T) {
	s, db := newMemStore[largeItem](t)
	ctx := context.Background()
	item := &largeItem{ID: "doc", Body: largeText(100 << 10)}
	if err := s.Put(ctx, item); err != nil {
		t.Fatal(err)
	}
	held, err := db.GetItem(ctx, &dynamodb.GetItemInput{Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "doc"}}})
	if err != nil {
		t.Fatal(err)
	}
	stored := held.Item["body"].(*types.AttributeValueMemberB).Value
	want := bytes.Clone(stored)
	for range 2 {
		got, err := s.Get(ctx, largeItem{ID: "doc"})
		if err != nil || got.Body != item.Body {
			t.Fatalf("Get: %v", err)
		}
	}
	if !bytes.Equal(stored, want) {
		t.Error("Get changed the ciphertext the DB holds")
	}
}

// TestDecryptedValuesOutliveLaterReads: what Get returns is the caller's
// for good; no later Put or Get reuses its memory.
func TestDecryptedValuesOutliveLaterReads(t *testing.T) {
	s, _ := newMemStore[largeItem](t)
	ctx := context.Background()
	first := &largeItem{ID: "a", Body: largeText(100 << 10)}
	if err := s.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, largeItem{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	kept := got.Body
	other := &largeItem{ID: "b", Body: string(bytes.Repeat([]byte{'z'}, len(first.Body)))}
	for range 20 {
		if err := s.Put(ctx, other); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, largeItem{ID: "b"}); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	if kept != first.Body {
		t.Error("a later Put or Get changed the value an earlier Get returned")
	}
}

// pagedItem is a document kept as a list of pages, encrypted.
type pagedItem struct {
	ID    string   `dynamodbav:"id"`
	Pages []string `dynamodbav:"pages" encrypt:"kms"`
}

// TestPutSizesTheSealedBufferOnce: the buffer a Put encodes and seals the
// encrypted values in is sized for them from the start, for values of
// every type: grown step by step, it was allocated and copied several
// times over for a large list.
func TestPutSizesTheSealedBufferOnce(t *testing.T) {
	s, _ := newMemStore[pagedItem](t)
	ctx := context.Background()
	page := largeText(1000)
	item := &pagedItem{ID: "doc", Pages: make([]string, 400)}
	for i := range item.Pages {
		item.Pages[i] = page
	}
	size := len(page) * len(item.Pages)
	put := func() {
		if err := s.Put(ctx, item); err != nil {
			t.Fatal(err)
		}
	}
	if copies := allocatedPerCall(put) / float64(size); copies > 1.5 {
		t.Errorf("a Put of %d bytes of pages allocates %.2f times their size, want at most 1.5", size, copies)
	}
}
