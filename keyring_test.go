package dynacrypt

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingCipher counts calls to an AESCipher and can hold Decrypt calls
// until released.
type countingCipher struct {
	*AESCipher
	encrypts, decrypts atomic.Int64
	hold               chan struct{} // if set, Decrypt waits for it to close
}

func (c *countingCipher) Encrypt(ctx context.Context, p []byte, ec map[string]string) ([]byte, error) {
	c.encrypts.Add(1)
	return c.AESCipher.Encrypt(ctx, p, ec)
}

func (c *countingCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	c.decrypts.Add(1)
	if c.hold != nil {
		<-c.hold
	}
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// testRing returns a keyring with a settable clock.
func testRing(t *testing.T, opts ...Option) (*keyring, *countingCipher, *time.Time) {
	aes, err := NewAESCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &countingCipher{AESCipher: aes}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	k, err := newKeyring(c, "t", &cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	k.now = func() time.Time { return now }
	return k, c, &now
}

func TestKeyringWriteBounds(t *testing.T) {
	k, c, now := testRing(t, WithRootKeyMaxItems(3), WithRootKeyMaxAge(time.Minute))
	ctx := context.Background()
	var wrapped [][]byte
	for i := 0; i < 7; i++ {
		_, w, err := k.forWrite(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wrapped = append(wrapped, w)
	}
	if c.encrypts.Load() != 3 {
		t.Errorf("7 writes at 3 per root: %d roots, want 3", c.encrypts.Load())
	}
	if !bytes.Equal(wrapped[0], wrapped[2]) || bytes.Equal(wrapped[2], wrapped[3]) {
		t.Error("root keys did not change every 3 writes")
	}
	*now = now.Add(time.Minute)
	if _, w, _ := k.forWrite(ctx); bytes.Equal(w, wrapped[6]) || c.encrypts.Load() != 4 {
		t.Error("an expired root key was used for writing")
	}
}

func TestKeyringReadCache(t *testing.T) {
	k, c, now := testRing(t, WithRootKeyMaxAge(time.Minute))
	ctx := context.Background()
	root, wrapped, err := k.forWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The writer's root is readable without a Decrypt.
	got, err := k.forRead(ctx, wrapped)
	if err != nil || !bytes.Equal(got, root) || c.decrypts.Load() != 0 {
		t.Fatalf("read of the writer's root: %v, %d decrypts", err, c.decrypts.Load())
	}
	*now = now.Add(time.Minute)
	if got, err := k.forRead(ctx, wrapped); err != nil || !bytes.Equal(got, root) || c.decrypts.Load() != 1 {
		t.Fatalf("read after expiry: %v, %d decrypts, want 1", err, c.decrypts.Load())
	}
	if _, err := k.forRead(ctx, wrapped); err != nil || c.decrypts.Load() != 1 {
		t.Fatalf("read after re-caching: %v, %d decrypts, want still 1", err, c.decrypts.Load())
	}
}

// TestKeyringSingleflight: concurrent misses for one wrapped key make one
// Decrypt, and a caller whose context ends stops waiting without failing
// the others.
func TestKeyringSingleflight(t *testing.T) {
	writer, _, _ := testRing(t)
	_, wrapped, err := writer.forWrite(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reader, c, _ := testRing(t)
	c.hold = make(chan struct{})

	ctx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error)
	go func() { _, err := reader.forRead(ctx, wrapped); impatient <- err }()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := reader.forRead(context.Background(), wrapped)
			errs <- err
		}()
	}
	cancel()
	if err := <-impatient; err != context.Canceled {
		t.Errorf("cancelled reader: %v, want context.Canceled", err)
	}
	close(c.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := c.decrypts.Load(); n != 1 {
		t.Errorf("17 concurrent reads of one root key made %d Decrypt calls, want 1", n)
	}
}

func TestKeyringWithoutCache(t *testing.T) {
	k, c, _ := testRing(t, WithoutKeyCache())
	ctx := context.Background()
	_, w1, _ := k.forWrite(ctx)
	_, w2, _ := k.forWrite(ctx)
	k.forRead(ctx, w1)
	k.forRead(ctx, w1)
	if bytes.Equal(w1, w2) || c.encrypts.Load() != 2 || c.decrypts.Load() != 2 {
		t.Errorf("uncached: %d encrypts, %d decrypts, want 2 and 2", c.encrypts.Load(), c.decrypts.Load())
	}
}
