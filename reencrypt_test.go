package dynacrypt_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// LegacyUser is the article's record, as the Store sees it.
type LegacyUser struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

func TestLegacyMigration(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	k, _ := testrig.KMS(t)
	const n = 30
	for i := 0; i < n; i++ {
		if err := testrig.ArticleUserPut(ctx, db, k, table, testrig.KeyA, userID(i), "user", "token-"+userID(i)); err != nil {
			t.Fatal(err)
		}
	}
	cipher := dynacrypt.NewKMSCipher(k, testrig.KeyA)
	plain := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}
	modern := mustNew[LegacyUser](t, db, table, plain...)
	migrating := mustNew[LegacyUser](t, db, table, append(plain, dynacrypt.WithLegacyKMS(k, testrig.KeyA))...)

	if _, err := modern.Get(ctx, LegacyUser{ID: userID(0)}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("legacy item without the legacy option: %v, want ErrIntegrity", err)
	}
	for i := 0; i < n; i++ {
		u, err := migrating.Get(ctx, LegacyUser{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != "token-"+userID(i) || u.Version != 0 {
			t.Fatalf("legacy read of %s: %+v, %v", userID(i), u, err)
		}
	}
	// Update writes a legacy item back in the new format.
	u, err := migrating.Update(ctx, LegacyUser{ID: userID(0)}, func(u *LegacyUser) error { u.Username = "renamed"; return nil })
	if err != nil || u.Version != 1 {
		t.Fatalf("Update of a legacy item: %+v, %v", u, err)
	}
	if _, ok := rawGet(t, db, table, userID(0))[hdr]; !ok {
		t.Fatal("Update left the item in the legacy format")
	}

	// A legacy writer still running changes an item while it is being
	// migrated: the migration must not overwrite that change.
	if _, err := migrating.Update(ctx, LegacyUser{ID: userID(1)}, func(u *LegacyUser) error {
		if u.Username == "user" {
			if err := testrig.ArticleUserPut(ctx, db, k, table, testrig.KeyA, userID(1), "old-code", "token-new"); err != nil {
				return err
			}
		}
		u.Username = "migrated:" + u.Username
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, err := modern.Get(ctx, LegacyUser{ID: userID(1)}, dynacrypt.ConsistentRead()); err != nil || u.Username != "migrated:old-code" || u.Token != "token-new" {
		t.Fatalf("concurrent legacy write lost: %+v, %v", u, err)
	}

	progress, err := migrating.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 3})
	if err != nil {
		t.Fatal(err)
	}
	if progress.Scanned != n || progress.Rewritten != n-2 || progress.Skipped != 2 || progress.Failed != 0 {
		t.Errorf("walk: %+v, want %d scanned, %d rewritten, 2 skipped", progress, n, n-2)
	}
	for i := 2; i < n; i++ {
		u, err := modern.Get(ctx, LegacyUser{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != "token-"+userID(i) || u.Version != 1 || u.Username != "user" {
			t.Fatalf("after the walk, %s: %+v, %v", userID(i), u, err)
		}
	}
}

// Balance is what the concurrent walk test updates.
type Balance struct {
	ID      string `dynamodbav:"id"`
	Owner   string `dynamodbav:"owner" encrypt:"kms"`
	Count   int    `dynamodbav:"count"`
	Version int64  `dynamodbav:"version"`
}

// TestReencryptUnderLoad rotates 5,000 items from key A to key B while
// another goroutine keeps updating random items, killing the first walk
// halfway and resuming it from its checkpoint.
func TestReencryptUnderLoad(t *testing.T) {
	const n = 5000
	ctx := context.Background()
	db, table := usersTable(t)
	k, _ := testrig.KMS(t)
	opts := func(c dynacrypt.Cipher) []dynacrypt.Option {
		return []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(c), dynacrypt.WithUpdateAttempts(100)}
	}
	underA := mustNew[Balance](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.KeyA))...)
	parallel(t, n, func(i int) error { return underA.Put(ctx, &Balance{ID: userID(i), Owner: "owner-" + userID(i)}) })

	// As a rotation goes: the application moves to key B, with A as a
	// previous key so old items stay readable, then the walk runs, while
	// the application keeps updating.
	rotated := dynacrypt.NewKMSCipher(k, testrig.KeyB).WithPreviousKeys(testrig.KeyA)
	walker := mustNew[Balance](t, db, table, opts(rotated)...)
	app := mustNew[Balance](t, db, table, opts(rotated)...)

	stop := make(chan struct{})
	var updates sync.WaitGroup
	want := make([]atomic.Int64, n)
	updates.Add(1)
	go func() {
		defer updates.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			i := rand.IntN(n)
			if _, err := app.Update(ctx, Balance{ID: userID(i)}, func(b *Balance) error { b.Count++; return nil }); err != nil {
				t.Errorf("concurrent update: %v", err)
				return
			}
			want[i].Add(1)
		}
	}()

	// First walk: cancelled once half the table is done.
	walkCtx, cancel := context.WithCancel(ctx)
	var checkpoint string
	_, err := walker.Reencrypt(walkCtx, dynacrypt.ReencryptOptions{Segments: 4, Progress: func(p dynacrypt.ReencryptProgress) {
		checkpoint = p.Checkpoint
		if p.Scanned >= n/2 {
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted walk: %v, want context.Canceled", err)
	}
	if checkpoint == "" {
		t.Fatal("no checkpoint reported")
	}
	progress, err := walker.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 4, Checkpoint: checkpoint})
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	updates.Wait()
	t.Logf("resumed walk: %+v", progress)

	// No update lost, nothing left under key A.
	reader := mustNew[Balance](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.KeyB))...)
	var total int64
	for i := 0; i < n; i++ {
		b, err := reader.Get(ctx, Balance{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil {
			t.Fatalf("%s after rotation, read with key B only: %v", userID(i), err)
		}
		if int64(b.Count) != want[i].Load() || b.Owner != "owner-"+userID(i) {
			t.Fatalf("%s: count %d, want %d (owner %q)", userID(i), b.Count, want[i].Load(), b.Owner)
		}
		total += want[i].Load()
	}
	t.Logf("%d concurrent updates, none lost", total)
}

// TestRotationThenDisableOldKey: after the walk to key B, disabling key A in
// KMS leaves every item readable.
func TestRotationThenDisableOldKey(t *testing.T) {
	const n = 200
	ctx := context.Background()
	db, table := usersTable(t)
	k, _ := testrig.KMS(t)
	store := func(c *dynacrypt.KMSCipher) *dynacrypt.Store[LegacyUser] {
		return mustNew[LegacyUser](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c))
	}
	underA := store(dynacrypt.NewKMSCipher(k, testrig.RotateA))
	parallel(t, n, func(i int) error { return underA.Put(ctx, &LegacyUser{ID: userID(i), Token: "token-" + userID(i)}) })

	progress, err := store(dynacrypt.NewKMSCipher(k, testrig.RotateB).WithPreviousKeys(testrig.RotateA)).
		Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil || progress.Rewritten != n {
		t.Fatalf("walk: %+v, %v", progress, err)
	}
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(testrig.RotateAID)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(testrig.RotateAID)}) })

	// Key A really is off: a fresh Store cannot encrypt under it.
	if err := store(dynacrypt.NewKMSCipher(k, testrig.RotateA)).Put(ctx, &LegacyUser{ID: "new", Token: "t"}); err == nil {
		t.Fatal("key A still encrypts after DisableKey")
	}
	reader := store(dynacrypt.NewKMSCipher(k, testrig.RotateB))
	for i := 0; i < n; i++ {
		if u, err := reader.Get(ctx, LegacyUser{ID: userID(i)}, dynacrypt.ConsistentRead()); err != nil || u.Token != "token-"+userID(i) {
			t.Fatalf("%s after disabling key A: %+v, %v", userID(i), u, err)
		}
	}
	if again, err := store(dynacrypt.NewKMSCipher(k, testrig.RotateB)).Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err != nil || again.Rewritten != 0 || again.Skipped != n {
		t.Errorf("second walk: %+v, %v; want everything skipped", again, err)
	}
}
