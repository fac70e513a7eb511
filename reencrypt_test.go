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
