package keyring_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// spend sends n forged wrapped keys never seen before to k's Cursors
// source, and returns how many the Cipher was asked to unwrap.
func spend(t *testing.T, k *keyring.Ring, c *countingCipher, keys [][]byte) int64 {
	t.Helper()
	before := c.decrypts.Load()
	for _, w := range keys {
		if _, _, err := k.ForRead(context.Background(), w, "", keyring.Cursors); err == nil {
			t.Fatal("a forged key unwrapped")
		}
	}
	return c.decrypts.Load() - before
}

// TestRefillKeepsItsPhase: used-up places come back one per Refill, counted
// from when the first was used up, not from when the last came back late:
// 15 s bring back one place, 5 s more a second.
func TestRefillKeepsItsPhase(t *testing.T) {
	k, c, now := testRing(t, nil)
	keys := forged(20)
	if n := spend(t, k, c, keys[:10]); n != 5 {
		t.Fatalf("10 forged keys: %d Decrypts, want the burst, 5", n)
	}
	*now = now.Add(15 * time.Second)
	if n := spend(t, k, c, keys[10:13]); n != 1 {
		t.Errorf("15 s later: %d Decrypts, want 1", n)
	}
	*now = now.Add(5 * time.Second)
	if n := spend(t, k, c, keys[13:16]); n != 1 {
		t.Errorf("20 s after the burst was spent: %d more Decrypts, want 1", n)
	}
	*now = now.Add(9 * time.Second)
	if n := spend(t, k, c, keys[16:]); n != 0 {
		t.Errorf("9 s later: %d Decrypts, want none", n)
	}
}

// requestsCipher makes its Decrypt ask for as many further key service
// requests as extra, as a Cipher trying several keys would, and fails.
type requestsCipher struct {
	*countingCipher
	extra int
}

func (c requestsCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	c.decrypts.Add(1)
	for range c.extra {
		if err := keyring.AnotherRequest(ctx); err != nil {
			return nil, err
		}
		c.decrypts.Add(1)
	}
	return nil, dynacrypt.ErrIntegrity
}

// TestAnotherRequestTakesAPlace: each further request of one Decrypt takes a
// place of the limit, so a Cipher making 3 requests per call is refused
// once the burst of 5 requests is spent; outside a limited call, further
// requests are allowed.
func TestAnotherRequestTakesAPlace(t *testing.T) {
	var c *countingCipher
	k, _, _ := testRing(t, func(cfg *keyring.Config) {
		c = cfg.Cipher.(*countingCipher)
		cfg.Cipher = requestsCipher{c, 2}
	})
	var limited int
	for _, w := range forged(10) {
		_, _, err := k.ForRead(context.Background(), w, "", keyring.Cursors)
		if errors.Is(err, keyring.ErrLimited) {
			limited++
		}
	}
	if n := c.decrypts.Load(); n != 5 || limited != 9 {
		t.Errorf("10 forged keys, 3 requests each: %d requests and %d refused as limited; want 5 and 9", n, limited)
	}
	if err := keyring.AnotherRequest(context.Background()); err != nil {
		t.Errorf("AnotherRequest outside a limited call: %v", err)
	}
}
