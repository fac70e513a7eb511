package dynacrypt_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// throttleAttempts is how many attempts the throttled client's retryer makes
// per request.
const throttleAttempts = 3

// throttledUsers is a versioned and an unversioned Store of Users over a
// client whose requests DynamoDB (dynalite behind a testrig.Throttler)
// answers with ProvisionedThroughputExceededException when told to.
func throttledUsers(t *testing.T) (versioned, plain *dynacrypt.Store[User], throttle *testrig.Throttler) {
	db, throttle := testrig.ThrottledDynamoDB(t, throttleAttempts)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	c := newAES(t)
	versioned = mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c))
	plain = mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c))
	return versioned, plain, throttle
}

// checkThrottled checks that err reports throttling of op: it wraps the SDK's
// exception, is not mistaken for a conflict, and quotes no secret.
func checkThrottled(t *testing.T, err error, op string, secrets ...string) {
	t.Helper()
	var ptee *types.ProvisionedThroughputExceededException
	if !errors.As(err, &ptee) {
		t.Fatalf("%s while throttled: %v, want a ProvisionedThroughputExceededException", op, err)
	}
	if errors.Is(err, dynacrypt.ErrConflict) {
		t.Errorf("%s while throttled reported a conflict: %v", op, err)
	}
	if !strings.Contains(err.Error(), op) {
		t.Errorf("%s while throttled: %q does not name the operation", op, err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%s error quotes a secret: %q", op, err)
		}
	}
}

// TestThrottling: throttled answers that the SDK's retries absorb change
// nothing; when the retries run out, the call fails with the SDK's exception
// and has written nothing.
func TestThrottling(t *testing.T) {
	ctx := context.Background()
	users, _, throttle := throttledUsers(t)

	throttle.Throttle(throttleAttempts - 1)
	u := &User{ID: "u1", Username: "ana", Token: "secret-token-1"}
	if err := users.Put(ctx, u); err != nil || u.Version != 1 {
		t.Fatalf("Put throttled %d times: %v (version %d)", throttleAttempts-1, err, u.Version)
	}
	if throttle.Throttled() != throttleAttempts-1 {
		t.Fatalf("%d requests throttled, want %d", throttle.Throttled(), throttleAttempts-1)
	}

	throttle.Throttle(throttleAttempts)
	v := &User{ID: "u2", Username: "bo", Token: "secret-token-2"}
	err := users.Put(ctx, v)
	checkThrottled(t, err, "Put", "secret-token-2")
	t.Log(err)
	if v.Version != 0 {
		t.Errorf("failed Put changed the caller's version to %d", v.Version)
	}
	if _, err := users.Get(ctx, User{ID: "u2"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Errorf("after a throttled Put: %v, want ErrNotFound", err)
	}

	throttle.Throttle(throttleAttempts)
	_, err = users.Get(ctx, User{ID: "u1"})
	checkThrottled(t, err, "Get")

	// Update: the read succeeds, the write is throttled until the retries
	// run out. fn runs once (throttling is not a conflict to retry), and
	// the stored item is as before.
	calls := 0
	_, err = users.Update(ctx, User{ID: "u1"}, func(u *User) error {
		calls++
		u.Token = "secret-token-new"
		throttle.Throttle(throttleAttempts)
		return nil
	})
	checkThrottled(t, err, "Update", "secret-token-new", "secret-token-1")
	if calls != 1 {
		t.Errorf("Update called fn %d times, want 1", calls)
	}
	got, err := users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead())
	if err != nil || got.Version != 1 || got.Token != "secret-token-1" {
		t.Fatalf("after a throttled Update: %+v, %v; want version 1 as before", got, err)
	}
}

// TestBatchThrottling: a batch whose requests are throttled beyond the
// retries names exactly the items it did not write.
func TestBatchThrottling(t *testing.T) {
	ctx := context.Background()
	versioned, plain, throttle := throttledUsers(t)
	// written reports, for each key, whether the item is in the table.
	written := func(keys []User) []bool {
		throttle.Throttle(0)
		return stored(t, plain, keys)
	}

	t.Run("BatchWriteItem absorbed", func(t *testing.T) {
		items, keys := batchOf("a", 60)
		throttle.Throttle(throttleAttempts - 1)
		if err := plain.BatchPut(ctx, items); err != nil {
			t.Fatal(err)
		}
		if w := written(keys); slices.Contains(w, false) {
			t.Errorf("items missing after an absorbed throttle: %v", w)
		}
	})
	t.Run("BatchWriteItem exhausted", func(t *testing.T) {
		items, keys := batchOf("b", 60)
		throttle.Throttle(throttleAttempts)
		err := plain.BatchPut(ctx, items)
		checkThrottled(t, err, "BatchPut", "secret-b")
		var be *dynacrypt.BatchError
		if !errors.As(err, &be) || len(be.Failed) != 60 {
			t.Fatalf("BatchPut with its first request throttled out: %v, want all 60 items reported", err)
		}
		if w := written(keys); slices.Contains(w, true) {
			t.Errorf("items written although reported failed: %v", w)
		}
	})
	t.Run("conditional puts", func(t *testing.T) {
		// A versioned Store sends one conditional request per item, 8 at a
		// time; which items run out of retries depends on scheduling, so
		// the check is that the error names exactly those not written.
		items, keys := batchOf("c", 40)
		throttle.Throttle(40)
		err := versioned.BatchPut(ctx, items)
		var failed []int
		if err != nil {
			checkThrottled(t, err, "BatchPut", "secret-c")
			var be *dynacrypt.BatchError
			if !errors.As(err, &be) {
				t.Fatalf("BatchPut: %v, want a *BatchError", err)
			}
			failed = be.Failed
		}
		for i, w := range written(keys) {
			if w == slices.Contains(failed, i) {
				t.Errorf("item %d: written %v, reported failed %v", i, w, !w)
			}
			wantVersion := int64(0) // a failed put leaves the caller's version
			if w {
				wantVersion = 1
			}
			if items[i].Version != wantVersion {
				t.Errorf("item %d: written %v, caller's version %d", i, w, items[i].Version)
			}
		}
		t.Logf("40 conditional puts, 40 throttled answers: %d items failed", len(failed))
	})
}

// TestKMSThrottling: KMS answering ThrottlingException. A throttled wrap or
// unwrap fails the call with KMS's error, is never mistaken for tampering,
// and is not remembered: the next call asks KMS again.
func TestKMSThrottling(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	client, throttle := testrig.ThrottledKMS(t, throttleAttempts)
	store := func() *dynacrypt.Store[User] {
		return mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	}
	isThrottling := func(err error) bool {
		var api smithy.APIError
		return errors.As(err, &api) && api.ErrorCode() == "ThrottlingException"
	}

	writer := store()
	throttle.Throttle(throttleAttempts - 1)
	if err := writer.Put(ctx, &User{ID: "u1", Token: "secret-1"}); err != nil {
		t.Fatalf("Put with KMS throttled %d times: %v", throttleAttempts-1, err)
	}

	writer = store() // an empty key cache: the next Put must wrap a root key
	throttle.Throttle(throttleAttempts)
	err := writer.Put(ctx, &User{ID: "u2", Token: "secret-2"})
	if !isThrottling(err) || errors.Is(err, dynacrypt.ErrIntegrity) || strings.Contains(err.Error(), "secret-2") {
		t.Fatalf("Put with KMS throttled out: %v, want KMS's ThrottlingException", err)
	}
	if err := writer.Put(ctx, &User{ID: "u2", Token: "secret-2"}); err != nil {
		t.Fatalf("Put once KMS answers again: %v", err)
	}

	reader := store()
	throttle.Throttle(throttleAttempts)
	_, err = reader.Get(ctx, User{ID: "u1"})
	if !isThrottling(err) || errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("Get with KMS throttled out: %v, want KMS's ThrottlingException and no integrity error", err)
	}
	if u, err := reader.Get(ctx, User{ID: "u1"}); err != nil || u.Token != "secret-1" {
		t.Fatalf("Get once KMS answers again: %+v, %v", u, err)
	}
	t.Logf("%d KMS requests throttled", throttle.Throttled())
}
