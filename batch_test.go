package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
)

type Note struct {
	ID   string `dynamodbav:"id"`
	Body string `dynamodbav:"body" encrypt:"kms"`
}

func TestBatchUnversioned(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	notes := mustNew[Note](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))

	for _, n := range []int{0, 1, 25, 26, 130} {
		items := make([]*Note, n)
		for i := range items {
			items[i] = &Note{ID: fmt.Sprintf("n%d-%03d", n, i), Body: fmt.Sprintf("body %d", i)}
		}
		if err := notes.BatchPut(ctx, items); err != nil {
			t.Fatalf("BatchPut of %d: %v", n, err)
		}
		// Ask for every key in reverse, with a missing key and a repeat.
		var keys []Note
		for i := n - 1; i >= 0; i-- {
			keys = append(keys, Note{ID: items[i].ID})
		}
		keys = append(keys, Note{ID: "missing"})
		if n > 0 {
			keys = append(keys, Note{ID: items[0].ID})
		}
		got, err := notes.BatchGet(ctx, keys, dynacrypt.ConsistentRead())
		if err != nil {
			t.Fatalf("BatchGet of %d: %v", len(keys), err)
		}
		if len(got) != len(keys) {
			t.Fatalf("BatchGet of %d keys gave %d results", len(keys), len(got))
		}
		for i, k := range keys {
			switch {
			case k.ID == "missing" && got[i] != nil:
				t.Errorf("missing key %d gave %+v", i, got[i])
			case k.ID != "missing" && (got[i] == nil || got[i].ID != k.ID || got[i].Body == ""):
				t.Errorf("key %d (%s) gave %+v", i, k.ID, got[i])
			}
		}
		if err := notes.BatchDelete(ctx, keys[:n]); err != nil {
			t.Fatalf("BatchDelete: %v", err)
		}
		if got, err := notes.BatchGet(ctx, keys[:n], dynacrypt.ConsistentRead()); err != nil || slices.ContainsFunc(got, func(n *Note) bool { return n != nil }) {
			t.Fatalf("after BatchDelete: %v, %v", got, err)
		}
	}

	dup := []*Note{{ID: "a", Body: "1"}, {ID: "b"}, {ID: "a", Body: "2"}}
	var be *dynacrypt.BatchError
	if err := notes.BatchPut(ctx, dup); !errors.As(err, &be) || !slices.Equal(be.Failed, []int{0, 2}) {
		t.Errorf("BatchPut with a repeated key: %v", err)
	}
}

func TestBatchVersioned(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(newAES(t)))

	items := make([]*User, 40)
	for i := range items {
		items[i] = &User{ID: fmt.Sprintf("u%02d", i), Token: "t"}
	}
	if err := users.BatchPut(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, u := range items {
		if u.Version != 1 {
			t.Fatalf("%s: version %d after BatchPut, want 1", u.ID, u.Version)
		}
	}
	// Items 3 and 17 are stale: someone updated them meanwhile.
	for _, i := range []int{3, 17} {
		if _, err := users.Update(ctx, User{ID: items[i].ID}, func(u *User) error { u.Username = "other"; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range items {
		u.Username = "batch"
	}
	err := users.BatchPut(ctx, items)
	var be *dynacrypt.BatchError
	if !errors.As(err, &be) || !slices.Equal(be.Failed, []int{3, 17}) || !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("BatchPut with stale items: %v, want a BatchError for items 3 and 17 wrapping ErrConflict", err)
	}
	got, err := users.BatchGet(ctx, []User{{ID: items[3].ID}, {ID: items[4].ID}}, dynacrypt.ConsistentRead())
	if err != nil || got[0].Username != "other" || got[1].Username != "batch" || got[1].Version != 2 {
		t.Fatalf("after a partly stale BatchPut: %+v %+v, %v", got[0], got[1], err)
	}

	// Deletes with stale versions fail; the others happen.
	keys := []User{{ID: items[0].ID, Version: 2}, {ID: items[3].ID, Version: 1}}
	if err := users.BatchDelete(ctx, keys); !errors.As(err, &be) || !slices.Equal(be.Failed, []int{1}) {
		t.Fatalf("BatchDelete with a stale version: %v", err)
	}
}

// requestCounter counts the write requests a Store sends.
type requestCounter struct {
	*dynamodb.Client
	puts, batches atomic.Int64
}

func (c *requestCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts.Add(1)
	return c.Client.PutItem(ctx, in, opts...)
}

func (c *requestCounter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batches.Add(1)
	return c.Client.BatchWriteItem(ctx, in, opts...)
}

// TestBulkLoadOverwrite: on a versioned Store, BatchPut with Overwrite loads
// through BatchWriteItem, replacing what is there, and sets each item's
// version; without it, one conditional PutItem per item.
func TestBulkLoadOverwrite(t *testing.T) {
	ctx := context.Background()
	client, table := usersTable(t)
	db := &requestCounter{Client: client}
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(newAES(t)))
	if err := users.Put(ctx, &User{ID: userID(0), Username: "old", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	const n = 60
	items := make([]*User, n)
	for i := range items {
		items[i] = &User{ID: userID(i), Username: "loaded", Token: "token-" + userID(i)}
	}
	if err := users.BatchPut(ctx, items); !errors.Is(err, dynacrypt.ErrExists) {
		t.Errorf("conditional BatchPut over an existing item: %v, want ErrExists for it", err)
	}
	if got := db.puts.Load() - 1; got != n || db.batches.Load() != 0 {
		t.Errorf("conditional BatchPut: %d PutItem and %d BatchWriteItem requests, want %d and 0", got, db.batches.Load(), n)
	}
	for _, u := range items {
		u.Version = 0
	}
	db.puts.Store(0)
	if err := users.BatchPut(ctx, items, dynacrypt.Overwrite()); err != nil {
		t.Fatal(err)
	}
	if db.puts.Load() != 0 || db.batches.Load() != 3 {
		t.Errorf("BatchPut with Overwrite: %d PutItem and %d BatchWriteItem requests, want 0 and 3", db.puts.Load(), db.batches.Load())
	}
	for i, u := range items {
		got, err := users.Get(ctx, User{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil || got.Username != "loaded" || got.Version != 1 || u.Version != 1 {
			t.Fatalf("%s after the load: %+v (caller's version %d), %v", userID(i), got, u.Version, err)
		}
	}
	if err := users.Put(ctx, &User{ID: userID(1), Token: "t"}, dynacrypt.IfNotExists(), dynacrypt.Overwrite()); err == nil {
		t.Error("IfNotExists with Overwrite accepted")
	}
}
