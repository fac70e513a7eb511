package dynacrypt_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

type Account struct {
	ID      string `dynamodbav:"id"`
	Balance int    `dynamodbav:"balance" encrypt:"kms"`
	Log     string `dynamodbav:"log" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// TestNoLostUpdates runs concurrent read-modify-write increments through
// two Stores, each with its own key cache, and checks every one landed.
func TestNoLostUpdates(t *testing.T) {
	for _, tc := range []struct {
		name                string
		versioned           bool
		goroutines, perEach int
	}{
		{"versioned", true, 16, 50},
		{"header-conditioned", false, 8, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, table := usersTable(t)
			cipher := newAES(t)
			opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher),
				dynacrypt.WithUpdateAttempts(1000)}
			if tc.versioned {
				opts = append(opts, dynacrypt.WithVersion("version"))
			}
			stores := []*dynacrypt.Store[Account]{mustNew[Account](t, db, table, opts...), mustNew[Account](t, db, table, opts...)}
			ctx := context.Background()
			if err := stores[0].Put(ctx, &Account{ID: "acct", Log: "start"}); err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			errs := make(chan error, tc.goroutines*tc.perEach)
			for g := 0; g < tc.goroutines; g++ {
				wg.Add(1)
				go func(store *dynacrypt.Store[Account]) {
					defer wg.Done()
					for i := 0; i < tc.perEach; i++ {
						_, err := store.Update(ctx, Account{ID: "acct"}, func(a *Account) error {
							a.Balance++
							return nil
						})
						if err != nil {
							errs <- err
						}
					}
				}(stores[g%2])
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("update failed: %v", err)
			}
			got, err := stores[1].Get(ctx, Account{ID: "acct"}, dynacrypt.ConsistentRead())
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.goroutines * tc.perEach; got.Balance != want {
				t.Errorf("balance %d after %d increments: updates were lost", got.Balance, want)
			}
			if tc.versioned && got.Version != int64(tc.goroutines*tc.perEach+1) {
				t.Errorf("version %d, want %d", got.Version, tc.goroutines*tc.perEach+1)
			}
		})
	}
}

func TestUpdateSemantics(t *testing.T) {
	db, table := usersTable(t)
	store := mustNew[Account](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithUpdateAttempts(2))
	ctx := context.Background()

	if _, err := store.Update(ctx, Account{ID: "missing"}, func(*Account) error { return nil }); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Errorf("Update of a missing item: %v, want ErrNotFound", err)
	}
	if err := store.Put(ctx, &Account{ID: "a", Balance: 5}); err != nil {
		t.Fatal(err)
	}

	errStop := errors.New("stop")
	if _, err := store.Update(ctx, Account{ID: "a"}, func(a *Account) error { a.Balance = 0; return errStop }); err != errStop {
		t.Errorf("fn error came back as %v, want it unchanged", err)
	}
	if _, err := store.Update(ctx, Account{ID: "a"}, func(a *Account) error { a.ID = "b"; return nil }); err == nil {
		t.Error("Update let fn change the key")
	}
	if _, err := store.Update(ctx, Account{ID: "a"}, func(a *Account) error { a.Version = 99; a.Balance++; return nil }); err != nil {
		t.Errorf("Update with fn touching the version: %v", err)
	}

	// Every attempt races with a write made inside fn: Update must give up
	// with ErrConflict after its bound, and write nothing of its own.
	calls := 0
	_, err := store.Update(ctx, Account{ID: "a"}, func(a *Account) error {
		calls++
		if _, err := store.Update(ctx, Account{ID: "a"}, func(b *Account) error {
			b.Log = "interloper " + strconv.Itoa(calls)
			return nil
		}); err != nil {
			return err
		}
		a.Balance = -1
		return nil
	})
	if !errors.Is(err, dynacrypt.ErrConflict) || calls != 2 {
		t.Fatalf("Update that always loses: %v after %d calls, want ErrConflict after 2", err, calls)
	}
	got, err := store.Get(ctx, Account{ID: "a"}, dynacrypt.ConsistentRead())
	if err != nil {
		t.Fatal(err)
	}
	if got.Balance != 6 || got.Log != "interloper 2" {
		t.Errorf("after the lost race: %+v, want balance 6 and the interloper's log", got)
	}
	if _, err := store.Update(ctx, Account{ID: "a"}, func(a *Account) error { return nil }); err != nil {
		t.Errorf("no-op update: %v", err)
	}
}

func TestUpdateCancelled(t *testing.T) {
	db, table := usersTable(t)
	store := mustNew[Account](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(newAES(t)))
	ctx, cancel := context.WithCancel(context.Background())
	if err := store.Put(ctx, &Account{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err := store.Update(ctx, Account{ID: "a"}, func(a *Account) error { a.Balance++; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a cancelled context: %v, want context.Canceled", err)
	}
	got, err := store.Get(context.Background(), Account{ID: "a"}, dynacrypt.ConsistentRead())
	if err != nil || got.Balance != 0 {
		t.Fatalf("after a cancelled update: %+v, %v", got, err)
	}
}

// addView counts a view of item id as another writer does: UpdateItem
// ADD on the unsigned attribute, no version, no header change.
func addView(t *testing.T, db *dynamodb.Client, table, id string) {
	t.Helper()
	if _, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: &table,
		Key:                       map[string]types.AttributeValue{"id": strAV(id)},
		UpdateExpression:          aws.String("ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#v": "views"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Error(err)
	}
}

// unversionedCounted is countedDoc without a version.
type unversionedCounted struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	Views int    `dynamodbav:"views"`
}

// TestUpdateKeepsConcurrentUnsignedChange: WithUnsignedAttributes is "for
// attributes other writers change, such as counters updated with UpdateItem
// ADD", and Update promises "no update is ever lost". Another writer counts
// a view between Update's read and its write, which changes neither the
// version nor the header. Update's write is conditioned on the unsigned
// attributes as read, in an unversioned Store and a versioned one (with and
// without IfVersion) alike: the view is kept (or the Update refused as a
// conflict), never put back to the value read.
func TestUpdateKeepsConcurrentUnsignedChange(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("unsigned-update")
	racing := &racingDB{Client: db}
	var raced sync.Map
	racing.before = func(in *dynamodb.PutItemInput) {
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		if _, done := raced.LoadOrStore(id, true); !done {
			addView(t, db, table, id) // between Update's read and its write
		}
	}

	// An unversioned Store.
	unv := mustNew[unversionedCounted](t, racing, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views"))
	raced.Store("unversioned", true)
	if err := unv.Put(ctx, &unversionedCounted{ID: "unversioned", Token: "t", Views: 1}); err != nil {
		t.Fatal(err)
	}
	raced.Delete("unversioned")
	if _, err := unv.Update(ctx, unversionedCounted{ID: "unversioned"}, func(u *unversionedCounted) error { u.Token = "t2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, db, table, "unversioned")["views"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "2"}) {
		t.Errorf("unversioned Update lost a concurrent ADD: views %v, want 2", got)
	}

	// A versioned Store: Update and Update with IfVersion.
	ver := mustNew[countedDoc](t, racing, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views"))
	for _, c := range []struct {
		id   string
		opts []dynacrypt.UpdateOption
	}{{"versioned", nil}, {"if-version", []dynacrypt.UpdateOption{dynacrypt.IfVersion(1)}}} {
		raced.Store(c.id, true)
		if err := ver.Put(ctx, &countedDoc{ID: c.id, Token: "t", Views: 1}); err != nil {
			t.Fatal(err)
		}
		raced.Delete(c.id)
		_, err := ver.Update(ctx, countedDoc{ID: c.id}, func(u *countedDoc) error { u.Token = "t2"; return nil }, c.opts...)
		got := rawGet(t, db, table, c.id)["views"]
		switch {
		case err != nil && (errors.Is(err, dynacrypt.ErrConflict) || errors.Is(err, dynacrypt.ErrStale)):
			t.Logf("%s: Update refused (%v), views %v: safe", c.id, err, got)
		case err != nil:
			t.Fatalf("%s: %v", c.id, err)
		case !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "2"}):
			t.Errorf("%s: a versioned Store's Update overwrote a concurrent UpdateItem ADD of the unsigned counter: views %v, want 2",
				c.id, got)
		}
	}
}
