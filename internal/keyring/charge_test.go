package keyring_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// TestAttack2ChargeDroppedWhenNoPlaceFree (KMS cost; second red team).
// Ring.Charge is how a forgery carrying a genuine wrapped key pays for the
// Decrypt it caused: its Decrypt succeeded, so Guard gave its place back,
// and the caller charges once the item's or cursor's MAC fails. But charge
// takes a place only if one is free: when the next forgery, waiting in
// acquire, took the place back first, the charge is dropped. A stream of
// overlapping forgeries then unwraps without end under a limit of 1 (the
// root package's TestAttack2ChargeLostUnderFlood shows the interleaving
// happening by itself under a flood). Here each forgery is charged right
// after the next one got its place.
func TestAttack2ChargeDroppedWhenNoPlaceFree(t *testing.T) {
	const n = 10
	k, _, _ := testRing(t, func(c *keyring.Config) { c.Limit = keyring.Limit{Burst: 1, Refill: time.Hour} })
	ctx := context.Background()
	var calls atomic.Int64
	started := make([]chan struct{}, n)
	gate := make([]chan struct{}, n)
	res := make([]chan error, n)
	guard := func(i int) {
		started[i], gate[i], res[i] = make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			_, err := k.Guard(ctx, keyring.Cursors, fmt.Sprint("genuine-wrapped-key-", i), func(context.Context) ([]byte, error) {
				calls.Add(1)
				close(started[i])
				<-gate[i]
				return make([]byte, keyring.KeySize), nil // a genuine key unwraps
			})
			res[i] <- err
		}()
	}
	guard(0)
	<-started[0]
	for i := 1; i < n; i++ {
		guard(i)
		time.Sleep(20 * time.Millisecond) // forgery i waits for the place
		close(gate[i-1])
		if err := <-res[i-1]; err != nil {
			t.Fatalf("unwrap %d: %v", i-1, err)
		}
		select {
		case <-started[i]:
		case err := <-res[i]:
			t.Logf("forgery %d refused without a Decrypt: %v", i, err)
			i = n
			continue
		}
		k.Charge(keyring.Cursors) // forgery i-1's HMAC failed
	}
	t.Logf("%d forgeries with genuine wrapped keys, each charged after its check failed, limit 1 per hour: %d Decrypts", n, calls.Load())
	// The place of a genuine unwrap comes back before its item or cursor
	// is checked, so one more forgery may start meanwhile; its charge is
	// then a debt the next place back pays. At most twice the burst.
	if calls.Load() > 2 {
		t.Errorf("HOLE (KMS cost): a limit of 1 let %d charged forgeries make %d Decrypts: Charge is dropped while the place is held by the next unwrap", n, calls.Load())
	}
	for i := range gate {
		if gate[i] != nil {
			select {
			case <-gate[i]:
			default:
				close(gate[i])
			}
		}
	}
}
