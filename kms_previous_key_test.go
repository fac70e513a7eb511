package dynacrypt_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// gatedKMS holds its first n Decrypt requests until all n have arrived, so
// that n readers are known to be in flight together: a synchronisation, not
// a timing.
type gatedKMS struct {
	dynacrypt.KMSClient
	mu      sync.Mutex
	waiting int
	n       int
	open    chan struct{}
}

func (g *gatedKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	g.mu.Lock()
	if g.waiting < g.n {
		g.waiting++
		if g.waiting == g.n {
			close(g.open)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.KMSClient.Decrypt(ctx, in, opts...)
}

// TestConcurrentColdReadsUnderPreviousKeyByARN: a reader that has resolved
// no alias yet (a process just started) reads, Burst at once, items under
// its previous key. Configured by key ARN, as KMSCipher's doc advises, the
// previous key is known at once: each read is one KMS request, and none is
// refused or charged. (Configured by an alias, each such read is first
// tried under the current key, and the unwrap limit counts that request
// too: reads together may then be refused with ErrUnwrapLimited, and use
// the limit up, until one of them has resolved the alias. A KMS rejection
// under the wrong key cannot be told from one of a forgery.)
func TestConcurrentColdReadsUnderPreviousKeyByARN(t *testing.T) {
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	n := dynacrypt.DefaultUnwrapBurst
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.AliasARN(testrig.KeyB))), dynacrypt.WithRootKeyMaxItems(1))
	for i := range 2 * n {
		if err := writer.Put(context.Background(), &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	readerClient, _ := testrig.KMS(t)
	gated := &gatedKMS{KMSClient: readerClient, n: n, open: make(chan struct{})}
	cipher := dynacrypt.NewKMSCipher(gated, testrig.AliasARN(testrig.KeyA)).WithPreviousKeys(testrig.KeyARN(testrig.KeyBID))
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = reader.Get(context.Background(), User{ID: userID(i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent cold read %d under the previous key: %v", i, err)
		}
	}
	// Later cold reads, one at a time.
	for i := n; i < 2*n; i++ {
		if _, err := reader.Get(context.Background(), User{ID: userID(i)}); errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			t.Errorf("a later cold read %d: %v (the reads before used up the limit)", i, err)
		} else if err != nil {
			t.Fatal(err)
		}
	}
}
