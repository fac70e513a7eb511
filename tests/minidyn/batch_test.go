package minidyn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/truora/minidyn/server"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

type Note struct {
	ID   string `dynamodbav:"id"`
	Body string `dynamodbav:"body" encrypt:"kms"`
}

func notes(t *testing.T) (*server.Server, *dynacrypt.Store[Note], string) {
	srv, db := newServer(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	s, err := dynacrypt.New[Note](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err != nil {
		t.Fatal(err)
	}
	return srv, s, table
}

// processed counts, per item ID, the sub-requests minidyn executed, while it
// leaves a random half of them unprocessed.
type processed struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *processed) match(_ int, raw map[string]*server.AttributeValue) bool {
	if rand.IntN(2) == 0 {
		return true // left unprocessed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n[*raw["id"].S]++
	return false
}

func TestBatchUnprocessedRetried(t *testing.T) {
	ctx := context.Background()
	srv, store, table := notes(t)
	const n = 137
	items := make([]*Note, n)
	keys := make([]Note, n)
	for i := range items {
		items[i] = &Note{ID: fmt.Sprintf("n%03d", i), Body: fmt.Sprint("body ", i)}
		keys[i] = Note{ID: items[i].ID}
	}

	writes := &processed{n: map[string]int{}}
	srv.EmulateUnprocessedItems(table, writes.match)
	if err := store.BatchPut(ctx, items); err != nil {
		t.Fatal(err)
	}
	reads := &processed{n: map[string]int{}}
	srv.EmulateUnprocessedItems(table, reads.match)
	got, err := store.BatchGet(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	srv.ClearUnprocessedItems()

	for i, k := range keys {
		if writes.n[k.ID] != 1 || reads.n[k.ID] != 1 {
			t.Errorf("%s written %d times, read %d times; want once each", k.ID, writes.n[k.ID], reads.n[k.ID])
		}
		if got[i] == nil || got[i].Body != items[i].Body {
			t.Errorf("%s read back as %+v", k.ID, got[i])
		}
	}
}

// TestBatchHardFailure fails the server from the second chunk of 25 on,
// with 500s: the error names the items of the second chunk as of unknown
// outcome (a 500 does not say whether the server wrote them; minidyn did
// not), and the items never sent as not written.
func TestBatchHardFailure(t *testing.T) {
	ctx := context.Background()
	srv, store, table := notes(t)
	items := make([]*Note, 60)
	for i := range items {
		items[i] = &Note{ID: fmt.Sprintf("n%02d", i), Body: "b"}
	}
	// The first sub-request of the second chunk turns failure on, so that
	// chunk and every retry of it fail.
	var seen atomic.Int64
	srv.EmulateUnprocessedItems(table, func(int, map[string]*server.AttributeValue) bool {
		if seen.Add(1) == 26 {
			srv.EmulateFailure(server.FailureConditionInternalServerError)
		}
		return false
	})
	err := store.BatchPut(ctx, items)
	srv.EmulateFailure(server.FailureConditionNone)
	srv.ClearUnprocessedItems()

	var be *dynacrypt.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("BatchPut against a failing server: %v, want a *BatchError", err)
	}
	var unknown, failed []int
	for i := 25; i < 60; i++ {
		if i < 50 {
			unknown = append(unknown, i)
		} else {
			failed = append(failed, i)
		}
	}
	if !slices.Equal(be.Unknown, unknown) || !slices.Equal(be.Failed, failed) || !errors.Is(err, dynacrypt.ErrOutcomeUnknown) {
		t.Fatalf("%v: unknown %v, failed %v; want 25 to 49 unknown, 50 to 59 failed", err, be.Unknown, be.Failed)
	}
	t.Log(err)
	keys := make([]Note, len(items))
	for i := range items {
		keys[i] = Note{ID: items[i].ID}
	}
	got, err := store.BatchGet(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if written := g != nil; written != (i < 25) {
			t.Errorf("item %d written: %v", i, written)
		}
	}
}

// TestSingleOpFailure: a server error on Get is wrapped with the table and
// operation, and the next call works.
func TestSingleOpFailure(t *testing.T) {
	ctx := context.Background()
	srv, store, table := notes(t)
	if err := store.Put(ctx, &Note{ID: "a", Body: "secret body"}); err != nil {
		t.Fatal(err)
	}
	srv.EmulateFailure(server.FailureConditionInternalServerError)
	_, err := store.Get(ctx, Note{ID: "a"})
	srv.EmulateFailure(server.FailureConditionNone)
	var oe *dynacrypt.OpError
	if !errors.As(err, &oe) || oe.Op != "Get" || oe.Table != table {
		t.Fatalf("Get against a failing server: %v", err)
	}
	if got, err := store.Get(ctx, Note{ID: "a"}); err != nil || got.Body != "secret body" {
		t.Fatalf("Get after the failure cleared: %+v, %v", got, err)
	}
}
