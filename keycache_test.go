package dynacrypt_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
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

// TestForgedKeys: 1,000 forged cursors and 1,000 items with forged headers,
// sent at once, cost a handful of KMS requests, while valid reads go on
// working; expired cursors cost none.
func TestForgedKeys(t *testing.T) {
	const n = 1000
	ctx := context.Background()
	db, table := usersTable(t)
	client, requests := testrig.KMS(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	parallel(t, n, func(i int) error { return users.Put(ctx, &User{ID: userID(i), Token: "token-" + userID(i)}) })
	// Valid pages skip the attacker's items.
	genuine := dynacrypt.Filter(expression.Name("id").BeginsWith("user-"))
	page, err := users.ScanPage(ctx, "", 10, genuine)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	// The attacker's items: n more, each with its own forged wrapped key.
	parallel(t, n, func(i int) error {
		raw := rawGet(t, db, table, userID(i))
		raw["id"] = &types.AttributeValueMemberS{Value: "forged-" + userID(i)}
		raw[hdr] = &types.AttributeValueMemberB{Value: forgeWrapped(t, raw[hdr].(*types.AttributeValueMemberB).Value)}
		rawPut(t, db, table, raw)
		return nil
	})
	raw, err := base64.RawURLEncoding.DecodeString(page.Next)
	if err != nil {
		t.Fatal(err)
	}

	// A reader process that has read before: its root key is cached.
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	if _, err := reader.Get(ctx, User{ID: userID(0)}); err != nil {
		t.Fatal(err)
	}
	before := requests.Requests()
	stop := make(chan struct{})
	var valid sync.WaitGroup
	var validReads atomic.Int64
	valid.Add(1)
	go func() {
		defer valid.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u, err := reader.Get(ctx, User{ID: userID(i % n)})
			if err != nil || u.Token != "token-"+userID(i%n) {
				t.Errorf("valid read during the attack: %+v, %v", u, err)
				return
			}
			if _, err := reader.ScanPage(ctx, page.Next, 10, genuine); err != nil {
				t.Errorf("valid cursor during the attack: %v", err)
				return
			}
			validReads.Add(1)
		}
	}()
	var refusedCursors, refusedItems atomic.Int64
	parallel(t, n, func(i int) error {
		_, err := reader.ScanPage(ctx, base64.RawURLEncoding.EncodeToString(forgeWrapped(t, raw)), 10, genuine)
		if !errors.Is(err, dynacrypt.ErrInvalidCursor) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			return fmt.Errorf("forged cursor: %v", err)
		}
		refusedCursors.Add(1)
		_, err = reader.Get(ctx, User{ID: "forged-" + userID(i)})
		if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			return fmt.Errorf("forged header: %v", err)
		}
		refusedItems.Add(1)
		return nil
	})
	close(stop)
	valid.Wait()
	got := requests.Requests() - before
	t.Logf("%d forged cursors and %d forged headers: %d KMS requests; %d valid reads meanwhile",
		refusedCursors.Load(), refusedItems.Load(), got, validReads.Load())
	// A burst of 5 per source, and a refill or two if the machine is slow.
	if got > 2*dynacrypt.DefaultUnwrapBurst+4 {
		t.Errorf("%d forged cursors and %d forged headers made %d KMS requests, want at most %d",
			n, n, got, 2*dynacrypt.DefaultUnwrapBurst+4)
	}
	if validReads.Load() == 0 {
		t.Error("no valid read completed during the attack")
	}

	// Expired cursors are refused before their key is looked at.
	brief := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)), dynacrypt.WithCursorTTL(time.Millisecond))
	short, err := brief.ScanPage(ctx, "", 10, genuine)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	before = requests.Requests()
	if _, err := fresh.ScanPage(ctx, short.Next, 10, genuine); !errors.Is(err, dynacrypt.ErrInvalidCursor) || requests.Requests() != before {
		t.Errorf("expired cursor: %v after %d KMS requests, want ErrInvalidCursor after none", err, requests.Requests()-before)
	}
}
