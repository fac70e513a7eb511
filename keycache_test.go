package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// parallel runs f(i) for i in [0, n) on a few goroutines and fails the test
// on the first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func userID(i int) string { return fmt.Sprintf("user-%04d", i) }

// TestKMSEconomy counts requests at the KMS client, against local-kms.
func TestKMSEconomy(t *testing.T) {
	const n = 1000
	ctx := context.Background()
	db, table := usersTable(t)
	client, requests := testrig.KMS(t)
	cipher := dynacrypt.NewKMSCipher(client, testrig.KeyA)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))

	parallel(t, n, func(i int) error {
		return users.Put(ctx, &User{ID: userID(i), Username: "u", Token: "token-" + userID(i)})
	})
	parallel(t, n, func(i int) error {
		u, err := users.Get(ctx, User{ID: userID(i)})
		if err == nil && u.Token != "token-"+userID(i) {
			err = fmt.Errorf("%s: token %q", userID(i), u.Token)
		}
		return err
	})
	if got := requests.Requests(); got > 2 {
		t.Errorf("%d Puts and %d Gets made %d KMS requests, want at most 2", n, n, got)
	}
	t.Logf("%d Puts + %d Gets with default caching: %d KMS requests", n, n, requests.Requests())

	// A second process: a new Store with an empty cache reads items written
	// under several root keys.
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher), dynacrypt.WithRootKeyMaxItems(100))
	parallel(t, n, func(i int) error {
		_, err := writer.Update(ctx, User{ID: userID(i)}, func(u *User) error { u.Username = "v2"; return nil })
		return err
	})
	roots := map[string]bool{}
	for i := 0; i < n; i++ {
		h := rawGet(t, db, table, userID(i))[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value
		roots[string(h[20:len(h)-32])] = true
	}
	if len(roots) < n/100 {
		t.Fatalf("%d distinct root keys for %d writes at 100 per root", len(roots), n)
	}
	client2, requests2 := testrig.KMS(t)
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client2, testrig.KeyA)))
	parallel(t, n, func(i int) error {
		_, err := reader.Get(ctx, User{ID: userID(i)})
		return err
	})
	if got := requests2.Requests(); got > int64(len(roots)) {
		t.Errorf("fresh reader of %d items under %d root keys made %d KMS requests", n, len(roots), got)
	}
	t.Logf("fresh reader: %d items, %d root keys, %d KMS requests", n, len(roots), requests2.Requests())
}

func TestWithoutKeyCache(t *testing.T) {
	const n = 50
	ctx := context.Background()
	db, table := usersTable(t)
	client, requests := testrig.KMS(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)), dynacrypt.WithoutKeyCache())
	parallel(t, n, func(i int) error { return users.Put(ctx, &User{ID: userID(i), Token: "t"}) })
	if got := requests.Requests(); got != n {
		t.Errorf("%d uncached writes made %d KMS requests, want %d", n, got, n)
	}
	parallel(t, n, func(i int) error { _, err := users.Get(ctx, User{ID: userID(i)}); return err })
	if got := requests.Requests(); got != 2*n {
		t.Errorf("%d uncached writes and reads made %d KMS requests, want %d", n, got, 2*n)
	}
}

func TestRootKeyRotationBounds(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	fake := dynacrypttest.NewCipher()
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(fake), dynacrypt.WithRootKeyMaxItems(10))
	for i := 0; i < 35; i++ {
		if err := users.Put(ctx, &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := fake.Encrypts(); got != 4 {
		t.Errorf("35 writes at 10 per root key made %d root keys, want 4", got)
	}
	if got := fake.Decrypts(); got != 0 {
		t.Errorf("writes made %d Decrypt calls, want 0", got)
	}
}

func TestCipherFailures(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	fake := dynacrypttest.NewCipher()
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(fake))

	fake.FailEncrypt(dynacrypttest.ErrInjected)
	if err := users.Put(ctx, &User{ID: "u", Token: "t"}); !errors.Is(err, dynacrypttest.ErrInjected) {
		t.Fatalf("Put with a failing cipher: %v", err)
	}
	fake.FailEncrypt(nil)
	if err := users.Put(ctx, &User{ID: "u", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(fake))
	fake.FailDecrypt(dynacrypttest.ErrInjected)
	if _, err := fresh.Get(ctx, User{ID: "u"}); !errors.Is(err, dynacrypttest.ErrInjected) {
		t.Fatalf("Get with a failing cipher: %v", err)
	}
	fake.FailDecrypt(nil)
	if u, err := fresh.Get(ctx, User{ID: "u"}); err != nil || u.Token != "t" {
		t.Fatalf("Get after the failure cleared: %+v, %v", u, err)
	}
}
