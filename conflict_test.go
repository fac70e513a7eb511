package dynacrypt_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// kindOf returns the OpError's Kind of err, or nil.
func kindOf(err error) error {
	var oe *dynacrypt.OpError
	if errors.As(err, &oe) {
		return oe.Kind
	}
	return nil
}

// TestConflictKinds: create of an existing item, a stale version and a
// versioned write of an item that is gone are told apart (409, 412, 404),
// all still ErrConflict.
func TestConflictKinds(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	plain := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := users.Put(ctx, &User{ID: "u1", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	itemErr := func(err error) error {
		var be *dynacrypt.BatchError
		if errors.As(err, &be) {
			return be.Err
		}
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		kind error
	}{
		{"create of an existing item", users.Put(ctx, &User{ID: "u1", Token: "t"}), dynacrypt.ErrExists},
		{"IfNotExists of an existing item", plain.Put(ctx, &User{ID: "u1", Token: "t"}, dynacrypt.IfNotExists()), dynacrypt.ErrExists},
		{"stale Put", users.Put(ctx, &User{ID: "u1", Token: "t", Version: 7}), dynacrypt.ErrStale},
		{"stale Delete", users.Delete(ctx, User{ID: "u1", Version: 7}), dynacrypt.ErrStale},
		{"stale BatchPut", itemErr(users.BatchPut(ctx, []*User{{ID: "u1", Token: "t", Version: 7}})), dynacrypt.ErrStale},
		{"Put of a gone item", users.Put(ctx, &User{ID: "gone", Token: "t", Version: 3}), dynacrypt.ErrNotFound},
		{"Delete of a gone item", users.Delete(ctx, User{ID: "gone", Version: 3}), dynacrypt.ErrNotFound},
	} {
		if !errors.Is(tc.err, dynacrypt.ErrConflict) || !errors.Is(tc.err, tc.kind) {
			t.Errorf("%s: %v, want ErrConflict and %v", tc.name, tc.err, tc.kind)
		}
		for _, other := range []error{dynacrypt.ErrExists, dynacrypt.ErrStale, dynacrypt.ErrNotFound} {
			if other != tc.kind && errors.Is(tc.err, other) {
				t.Errorf("%s: %v is also %v", tc.name, tc.err, other)
			}
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(tc.err, &ccf) {
			t.Errorf("%s: %v does not wrap the SDK's exception", tc.name, tc.err)
		}
		if k := kindOf(tc.err); k != tc.kind && tc.name != "stale BatchPut" {
			t.Errorf("%s: Kind %v, want %v", tc.name, k, tc.kind)
		}
	}
}

// itemReturningDB answers a failed condition as DynamoDB does when asked
// for ReturnValuesOnConditionCheckFailure (dynalite ignores it): with the
// item as it is. It counts the GetItem requests the Store sends.
type itemReturningDB struct {
	*dynamodb.Client
	gets atomic.Int64
}

func (d *itemReturningDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.gets.Add(1)
	return d.Client.GetItem(ctx, in, opts...)
}

func (d *itemReturningDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := d.Client.PutItem(ctx, in, opts...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && in.ReturnValuesOnConditionCheckFailure == types.ReturnValuesOnConditionCheckFailureAllOld {
		key := map[string]types.AttributeValue{"id": in.Item["id"]}
		if cur, gerr := d.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: in.TableName, Key: key, ConsistentRead: aws.Bool(true)}); gerr == nil {
			ccf.Item = cur.Item
		}
	}
	return out, err
}

// TestConflictFromReturnedItem: a server that returns the item with the
// failure spares the read that tells stale from gone.
func TestConflictFromReturnedItem(t *testing.T) {
	ctx := context.Background()
	client, table := usersTable(t)
	db := &itemReturningDB{Client: client}
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := users.Put(ctx, &User{ID: "u1", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, &User{ID: "u1", Token: "t", Version: 7}); !errors.Is(err, dynacrypt.ErrStale) || db.gets.Load() != 0 {
		t.Errorf("stale Put: %v after %d GetItem requests, want ErrStale after none", err, db.gets.Load())
	}
	if err := users.Put(ctx, &User{ID: "gone", Token: "t", Version: 7}); !errors.Is(err, dynacrypt.ErrNotFound) || db.gets.Load() != 1 {
		t.Errorf("Put of a gone item: %v after %d GetItem requests, want ErrNotFound after one", err, db.gets.Load())
	}
}

// TestUpdateIfVersion: the If-Match pattern. fn runs only on the version the
// client named, at most once, and a stale version is ErrStale.
func TestUpdateIfVersion(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := users.Put(ctx, &User{ID: "u1", Username: "ana", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	rename := func(name string) func(*User) error {
		return func(u *User) error { calls++; u.Username = name; return nil }
	}
	if _, err := users.Update(ctx, User{ID: "u1"}, rename("x"), dynacrypt.IfVersion(7)); !errors.Is(err, dynacrypt.ErrStale) || calls != 0 {
		t.Errorf("If-Match 7 on version 1: %v after %d calls, want ErrStale after none", err, calls)
	}
	u, err := users.Update(ctx, User{ID: "u1"}, rename("ana.b"), dynacrypt.IfVersion(1))
	if err != nil || u.Version != 2 || u.Username != "ana.b" || calls != 1 {
		t.Fatalf("If-Match 1 on version 1: %+v, %v, %d calls", u, err, calls)
	}
	// Another writer gets in between the read and the write: no retry.
	calls = 0
	_, err = users.Update(ctx, User{ID: "u1"}, func(u *User) error {
		calls++
		if err := users.Put(ctx, &User{ID: "u1", Username: "other", Token: "t", Version: 2}); err != nil {
			return err
		}
		u.Username = "mine"
		return nil
	}, dynacrypt.IfVersion(2))
	if !errors.Is(err, dynacrypt.ErrStale) || calls != 1 {
		t.Errorf("If-Match with a concurrent write: %v after %d calls, want ErrStale after 1", err, calls)
	}
	if got, _ := users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead()); got.Username != "other" || got.Version != 3 {
		t.Errorf("the concurrent write was lost: %+v", got)
	}
	if _, err := users.Update(ctx, User{ID: "nobody"}, rename("x"), dynacrypt.IfVersion(1)); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Errorf("If-Match on a missing item: %v, want ErrNotFound", err)
	}
}
