package dbesdk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// dbesdkUsers returns a table and a versioned Store of Users over it that
// writes DB-ESDK's format with a raw AES keyring.
func dbesdkUsers(t *testing.T, opts ...dynacrypt.Option) (*dynacrypt.Store[User], string) {
	db, table := usersTable(t)
	base := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dbesdk.Format(rawAES(t, newKey(t)))}
	return mustNew[User](t, db, table, append(base, opts...)...), table
}

// TestVersionsOnDBESDKItems: optimistic locking works on DB-ESDK items as
// on dynacrypt's: a create of an existing item, a write or delete at a
// stale version fail with the errors that say so.
func TestVersionsOnDBESDKItems(t *testing.T) {
	store, _ := dbesdkUsers(t)
	ctx := context.Background()
	u := &User{ID: "u1", Username: "ana", Token: "t1"}
	if err := store.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, &User{ID: "u1"}); !errors.Is(err, dynacrypt.ErrExists) {
		t.Fatalf("create of an existing item: %v, want ErrExists", err)
	}
	stale := *u
	u.Token = "t2"
	if err := store.Put(ctx, u); err != nil || u.Version != 2 {
		t.Fatalf("write at version 1: %v, version %d", err, u.Version)
	}
	if err := store.Put(ctx, &stale); !errors.Is(err, dynacrypt.ErrStale) {
		t.Fatalf("write at a stale version: %v, want ErrStale", err)
	}
	if err := store.Delete(ctx, stale); !errors.Is(err, dynacrypt.ErrStale) {
		t.Fatalf("delete at a stale version: %v, want ErrStale", err)
	}
	if got, err := store.Get(ctx, User{ID: "u1"}); err != nil || *got != *u {
		t.Fatalf("got %+v, %v; want %+v", got, err, u)
	}
	if err := store.Delete(ctx, *u); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, User{ID: "u1"}); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
}

// TestUpdateOnDBESDKItems: concurrent Updates of a DB-ESDK item are all
// applied, once each, on a Store without a version attribute too, whose
// condition is on aws_dbe_head as read (unique to its write); IfVersion
// refuses a stale version.
func TestUpdateOnDBESDKItems(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
			db, table := usersTable(t)
			opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dbesdk.Format(rawAES(t, newKey(t)), dbesdk.WithSuite(dbesdk.SuiteSymSig))}
			if versioned {
				opts = append(opts, dynacrypt.WithVersion("version"))
			}
			store := mustNew[Counter](t, db, table, opts...)
			ctx := context.Background()
			if err := store.Put(ctx, &Counter{ID: "c", Secret: "s"}); err != nil {
				t.Fatal(err)
			}
			const writers, each = 4, 5
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						_, err := store.Update(ctx, Counter{ID: "c"}, func(c *Counter) error {
							c.N++
							c.Applied = append(c.Applied, fmt.Sprintf("%d-%d", w, i))
							return nil
						})
						if err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			got, err := store.Get(ctx, Counter{ID: "c"})
			if err != nil {
				t.Fatal(err)
			}
			if got.N != writers*each || len(got.Applied) != writers*each || got.Secret != "s" {
				t.Fatalf("counter %d with %d applied, secret %q; want %d", got.N, len(got.Applied), got.Secret, writers*each)
			}
			if _, ok := testrig.RawGet(t, db, table, "c")["aws_dbe_head"]; !ok {
				t.Fatal("the updated item is not in DB-ESDK's format")
			}
			if versioned {
				if _, err := store.Update(ctx, Counter{ID: "c"}, func(c *Counter) error { return nil }, dynacrypt.IfVersion(got.Version-1)); !errors.Is(err, dynacrypt.ErrStale) {
					t.Fatalf("IfVersion of a stale version: %v, want ErrStale", err)
				}
			}
		})
	}
}

// Counter is an item Updates increment.
type Counter struct {
	ID      string   `dynamodbav:"id"`
	N       int      `dynamodbav:"n"`
	Applied []string `dynamodbav:"applied"`
	Secret  string   `dynamodbav:"secret" encrypt:"kms"`
	Version int64    `dynamodbav:"version"`
}

// TestLostAnswersOnDBESDKItems: a Put and an Update whose first attempt
// landed and whose answer was lost are recognised as the Store's own by
// the item's aws_dbe_head, unique to the write: the Put succeeds, and the
// Update is applied once.
func TestLostAnswersOnDBESDKItems(t *testing.T) {
	db, proxy := testrig.FaultyDynamoDB(t, 3)
	direct := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, direct, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	key := newKey(t)
	for _, versioned := range []bool{true, false} {
		opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dbesdk.Format(rawAES(t, key))}
		if versioned {
			opts = append(opts, dynacrypt.WithVersion("version"))
		}
		store := mustNew[Counter](t, db, table, opts...)
		ctx := context.Background()
		id := fmt.Sprintf("lost-%v", versioned)
		proxy.SetPlan(testrig.Nth("PutItem", 1, testrig.LoseAnswer))
		if err := store.Put(ctx, &Counter{ID: id, Secret: "s"}, dynacrypt.IfNotExists()); err != nil {
			t.Fatalf("versioned %v: Put whose answer was lost: %v", versioned, err)
		}
		calls := 0
		proxy.SetPlan(testrig.Nth("PutItem", 1, testrig.LoseAnswer))
		if _, err := store.Update(ctx, Counter{ID: id}, func(c *Counter) error { calls++; c.N++; return nil }); err != nil {
			t.Fatalf("versioned %v: Update whose answer was lost: %v", versioned, err)
		}
		proxy.SetPlan(nil)
		got, err := store.Get(ctx, Counter{ID: id}, dynacrypt.ConsistentRead())
		if err != nil || got.N != 1 || calls != 1 {
			t.Fatalf("versioned %v: counter %+v after %d calls, %v; want 1 after 1", versioned, got, calls, err)
		}
	}
	if proxy.Injected() != 4 {
		t.Fatalf("%d faults injected, want 4", proxy.Injected())
	}
}

// Event is an item of a table with a sort key.
type Event struct {
	Stream string `dynamodbav:"stream"`
	Seq    int    `dynamodbav:"seq"`
	Kind   string `dynamodbav:"kind"`
	Body   string `dynamodbav:"body" encrypt:"kms"`
}

// TestQueriesOnDBESDKItems: Query, Scan, their pages and cursors, and a
// Filter on a signed attribute work on DB-ESDK items. Cursors are
// dynacrypt's, signed with the Cipher's root keys: a Store without a
// Cipher refuses to page, saying so.
func TestQueriesOnDBESDKItems(t *testing.T) {
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("stream"), SortKey: dynacrypttest.N("seq")})
	kr := rawAES(t, newKey(t))
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("stream"), dynacrypt.WithSortKey("seq"), dbesdk.Format(kr)}
	store := mustNew[Event](t, db, table, append(opts, dynacrypt.WithCipher(newAESCipher(t)))...)
	ctx := context.Background()
	var want []*Event
	for i := range 25 {
		e := &Event{Stream: "s1", Seq: i, Kind: []string{"a", "b"}[i%2], Body: fmt.Sprintf("body %d", i)}
		want = append(want, e)
		if err := store.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Event
	for e, err := range store.Query(ctx, Event{Stream: "s1"}, dynacrypt.SortKeyGreaterThanEqual(5)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if !equalEvents(got, want[5:]) {
		t.Fatalf("Query returned %d events, want 20 in order", len(got))
	}
	scanned := 0
	for e, err := range store.Scan(ctx, dynacrypt.Parallel(3)) {
		if err != nil || e.Body != want[e.Seq].Body {
			t.Fatalf("Scan: %+v, %v", e, err)
		}
		scanned++
	}
	if scanned != 25 {
		t.Fatalf("Scan returned %d, want 25", scanned)
	}

	// Pages of 10 through cursors, filtered on a signed attribute.
	got, cursor := nil, ""
	for pages := 1; ; pages++ {
		page, err := store.QueryPage(ctx, Event{Stream: "s1"}, cursor, 5, dynacrypt.Filter(kindIs("a")))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if cursor = page.Next; cursor == "" || pages > 10 {
			break
		}
	}
	var kindA []*Event
	for _, e := range want {
		if e.Kind == "a" {
			kindA = append(kindA, e)
		}
	}
	if !equalEvents(got, kindA) {
		t.Fatalf("QueryPage returned %d events, want %d", len(got), len(kindA))
	}
	page, err := store.ScanPage(ctx, "", 10)
	if err != nil || len(page.Items) != 10 || page.Next == "" {
		t.Fatalf("ScanPage: %d items, next %q, %v", len(page.Items), page.Next, err)
	}
	if _, err := store.ScanPage(ctx, page.Next[:len(page.Next)-2]+"AA", 10); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Fatalf("a forged cursor: %v, want ErrInvalidCursor", err)
	}

	noCipher := mustNew[Event](t, db, table, opts...)
	if _, err := noCipher.ScanPage(ctx, "", 10); err == nil || errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("ScanPage without a Cipher: %v, want an error that says paging needs one", err)
	}
}

func equalEvents(a, b []*Event) bool {
	return slices.EqualFunc(a, b, func(x, y *Event) bool { return *x == *y })
}

// TestBatchesOnDBESDKItems: BatchPut, BatchGet and BatchDelete on DB-ESDK
// items, on Stores with and without a version attribute.
func TestBatchesOnDBESDKItems(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
			db, table := usersTable(t)
			opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dbesdk.Format(rawAES(t, newKey(t)))}
			if versioned {
				opts = append(opts, dynacrypt.WithVersion("version"))
			}
			store := mustNew[User](t, db, table, opts...)
			ctx := context.Background()
			var items []*User
			var keys []User
			for i := range 30 {
				items = append(items, &User{ID: fmt.Sprintf("b%02d", i), Username: "user", Token: fmt.Sprintf("token %d", i)})
				keys = append(keys, User{ID: items[i].ID})
			}
			if err := store.BatchPut(ctx, items); err != nil {
				t.Fatal(err)
			}
			got, err := store.BatchGet(ctx, append(keys, User{ID: "missing"}))
			if err != nil {
				t.Fatal(err)
			}
			for i, u := range got[:30] {
				if u == nil || *u != *items[i] {
					t.Fatalf("item %d: %+v, want %+v", i, u, items[i])
				}
			}
			if got[30] != nil {
				t.Fatal("a missing key read an item")
			}
			if _, ok := testrig.RawGet(t, db, table, "b07")["aws_dbe_head"]; !ok {
				t.Fatal("BatchPut did not write DB-ESDK's format")
			}
			if err := store.BatchDelete(ctx, keys); err != nil {
				t.Fatal(err)
			}
			if got, err := store.BatchGet(ctx, keys); err != nil || slices.ContainsFunc(got, func(u *User) bool { return u != nil }) {
				t.Fatalf("after BatchDelete: %v", err)
			}
		})
	}
}

// TestSkipDecryptionOnDBESDKItems: SkipDecryption reads a DB-ESDK item's
// plaintext fields without asking the keyring, its encrypted ones left
// zero, as for dynacrypt's items.
func TestSkipDecryptionOnDBESDKItems(t *testing.T) {
	db, table := usersTable(t)
	remote, kr := newRemote(t, newKey(t))
	store := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dbesdk.Format(kr))
	ctx := context.Background()
	if err := store.Put(ctx, &User{ID: "u1", Username: "ana", Token: "secret"}); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, User{ID: "u1"}, dynacrypt.SkipDecryption())
	if err != nil {
		t.Fatal(err)
	}
	if *got != (User{ID: "u1", Username: "ana", Version: 1}) || remote.unwraps.Load() != 0 {
		t.Fatalf("got %+v after %d unwraps; want the plaintext fields after none", got, remote.unwraps.Load())
	}
}

// kindIs is the filter kind = k.
func kindIs(k string) expression.ConditionBuilder {
	return expression.Name("kind").Equal(expression.Value(k))
}

// rawItem returns the stored form of u under store.
func rawItem(t testing.TB, store *dynacrypt.Store[User], u *User) map[string]types.AttributeValue {
	t.Helper()
	av, err := store.MarshalItem(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return av
}
