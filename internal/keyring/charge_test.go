package keyring_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// TestGenuineKeyInForgeryHoldsItsPlace: a forgery that carries a genuine
// wrapped key unwraps; its place stays held until the caller, having found
// the cursor forged, settles the Hold, and then stays used up. So however
// the forgeries interleave, a limit of 1 allows one Decrypt: the next
// forgery waits for the place while the first is checked, and finds it
// used up.
func TestGenuineKeyInForgeryHoldsItsPlace(t *testing.T) {
	k, c, _ := testRing(t, func(cfg *keyring.Config) { cfg.Limit = keyring.Limit{Burst: 1, Refill: time.Hour} })
	writer, _, _ := testRing(t, func(cfg *keyring.Config) { cfg.NoCache = true })
	ctx := context.Background()
	var genuine [][]byte
	for range 10 {
		r, err := writer.ForWrite(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		genuine = append(genuine, r.Wrapped())
	}
	first, hold, err := k.ForRead(ctx, genuine[0], "", keyring.Cursors)
	if err != nil || first == nil || hold == nil {
		t.Fatalf("a genuine key: %v, hold %v", err, hold)
	}
	// While the first is being checked, the others wait for its place.
	var wg sync.WaitGroup
	results := make(chan error, len(genuine)-1)
	for _, w := range genuine[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, h, err := k.ForRead(ctx, w, "", keyring.Cursors)
			h.Settle(false) // each is a forgery too
			results <- err
		}()
	}
	time.Sleep(10 * time.Millisecond) // let them queue; the assertion below does not depend on it
	hold.Settle(false)                // the first cursor's MAC failed
	wg.Wait()
	close(results)
	limited := 0
	for err := range results {
		if err != nil {
			limited++
		}
	}
	if n := c.decrypts.Load(); n != 1 || limited != len(genuine)-1 {
		t.Errorf("10 forgeries with genuine wrapped keys under a limit of 1: %d Decrypts, %d refused; want 1 and 9", n, limited)
	}
}

// TestHoldSettledGenuineGivesPlaceBack: a genuine item settles its Hold as
// genuine and its place comes back at once; a Hold nobody settles comes
// back after HoldTimeout, never used up.
func TestHoldSettledGenuineGivesPlaceBack(t *testing.T) {
	k, c, _ := testRing(t, func(cfg *keyring.Config) { cfg.Limit = keyring.Limit{Burst: 1, Refill: time.Hour} })
	writer, _, _ := testRing(t, func(cfg *keyring.Config) { cfg.NoCache = true })
	ctx := context.Background()
	for i := range 5 {
		r, err := writer.ForWrite(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		_, hold, err := k.ForRead(ctx, r.Wrapped(), "", keyring.Items)
		if err != nil {
			t.Fatalf("genuine key %d under a limit of 1: %v", i, err)
		}
		hold.Settle(true)
	}
	if n := c.decrypts.Load(); n != 5 {
		t.Errorf("%d Decrypts, want 5", n)
	}
}
