package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// countingCipher counts calls to an AESCipher and can hold Decrypt calls
// until released.
type countingCipher struct {
	*dynacrypt.AESCipher
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

func testConfig(c keyring.Cipher) keyring.Config {
	return keyring.Config{
		Cipher:     c,
		Context:    map[string]string{"dynacrypt-table": "t"},
		MaxAge:     5 * time.Minute,
		MaxItems:   100_000,
		CacheSize:  1000,
		Invalid:    func(err error) bool { return errors.Is(err, dynacrypt.ErrIntegrity) },
		FailureTTL: time.Minute,
		Limit:      keyring.Limit{Burst: 5, Refill: 10 * time.Second},
	}
}

// testRing returns a ring over a counting AES cipher with a settable clock;
// edit changes the config first.
func testRing(t *testing.T, edit func(*keyring.Config)) (*keyring.Ring, *countingCipher, *time.Time) {
	aes, err := dynacrypt.NewAESCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &countingCipher{AESCipher: aes}
	cfg := testConfig(c)
	if edit != nil {
		edit(&cfg)
	}
	k, err := keyring.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	k.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	return k, c, &now
}

func TestWriteBounds(t *testing.T) {
	k, c, now := testRing(t, func(c *keyring.Config) { c.MaxItems, c.MaxAge = 3, time.Minute })
	ctx := context.Background()
	var wrapped [][]byte
	for i := 0; i < 7; i++ {
		r, err := k.ForWrite(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		wrapped = append(wrapped, r.Wrapped())
	}
	if c.encrypts.Load() != 3 {
		t.Errorf("7 writes at 3 per root: %d roots, want 3", c.encrypts.Load())
	}
	if !bytes.Equal(wrapped[0], wrapped[2]) || bytes.Equal(wrapped[2], wrapped[3]) {
		t.Error("root keys did not change every 3 writes")
	}
	*now = now.Add(time.Minute)
	if r, _ := k.ForWrite(ctx, ""); bytes.Equal(r.Wrapped(), wrapped[6]) || c.encrypts.Load() != 4 {
		t.Error("an expired root key was used for writing")
	}
}

// TestWriteRootFollowsCurrentKey: a root the Cipher no longer calls current
// (it learnt of a rotation) serves no more writes, however young.
func TestWriteRootFollowsCurrentKey(t *testing.T) {
	var stale atomic.Pointer[[]byte]
	k, c, _ := testRing(t, func(c *keyring.Config) {
		c.Current = func(w []byte) bool { s := stale.Load(); return s == nil || !bytes.Equal(*s, w) }
	})
	ctx := context.Background()
	first, err := k.ForWrite(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := k.ForWrite(ctx, ""); r != first || c.encrypts.Load() != 1 {
		t.Fatal("a current root key was not reused")
	}
	w := first.Wrapped()
	stale.Store(&w)
	r, err := k.ForWrite(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if r == first || c.encrypts.Load() != 2 {
		t.Errorf("a root key no longer current served a write (%d wraps)", c.encrypts.Load())
	}
}

func TestReadCache(t *testing.T) {
	k, c, now := testRing(t, func(c *keyring.Config) { c.MaxAge = time.Minute })
	ctx := context.Background()
	w, err := k.ForWrite(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	root := bytes.Clone(w.Key())
	// The writer's root is readable without a Decrypt.
	got, _, err := k.ForRead(ctx, w.Wrapped(), "", keyring.Items)
	if err != nil || !bytes.Equal(got.Key(), root) || c.decrypts.Load() != 0 {
		t.Fatalf("read of the writer's root: %v, %d decrypts", err, c.decrypts.Load())
	}
	*now = now.Add(time.Minute)
	if got, _, err := k.ForRead(ctx, w.Wrapped(), "", keyring.Items); err != nil || !bytes.Equal(got.Key(), root) || c.decrypts.Load() != 1 {
		t.Fatalf("read after expiry: %v, %d decrypts, want 1", err, c.decrypts.Load())
	}
	if _, _, err := k.ForRead(ctx, w.Wrapped(), "", keyring.Items); err != nil || c.decrypts.Load() != 1 {
		t.Fatalf("read after re-caching: %v, %d decrypts, want still 1", err, c.decrypts.Load())
	}
}

// TestSingleflight: concurrent misses for one wrapped key make one Decrypt,
// and a caller whose context ends stops waiting without failing the others.
func TestSingleflight(t *testing.T) {
	writer, _, _ := testRing(t, nil)
	w, err := writer.ForWrite(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	reader, c, _ := testRing(t, nil)
	c.hold = make(chan struct{})

	ctx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error)
	go func() { _, _, err := reader.ForRead(ctx, w.Wrapped(), "", keyring.Items); impatient <- err }()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := reader.ForRead(context.Background(), w.Wrapped(), "", keyring.Items)
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

func TestWithoutCache(t *testing.T) {
	k, c, _ := testRing(t, func(c *keyring.Config) { c.NoCache = true })
	ctx := context.Background()
	w1, _ := k.ForWrite(ctx, "")
	w2, _ := k.ForWrite(ctx, "")
	k.ForRead(ctx, w1.Wrapped(), "", keyring.Items)
	k.ForRead(ctx, w1.Wrapped(), "", keyring.Items)
	if bytes.Equal(w1.Wrapped(), w2.Wrapped()) || c.encrypts.Load() != 2 || c.decrypts.Load() != 2 {
		t.Errorf("uncached: %d encrypts, %d decrypts, want 2 and 2", c.encrypts.Load(), c.decrypts.Load())
	}
}

// forged returns n distinct wrapped keys that do not unwrap.
func forged(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("\x01forged wrapped root key number %06d, long enough to parse", i))
	}
	return out
}

// TestForgedKeysCostLittle: distinct forged wrapped keys, sent all at once
// or one by one, cost Burst Decrypts, then one per Refill; a forged key sent
// again is refused from memory; the other source and cached roots are not
// affected; honest unwraps give their place back.
func TestForgedKeysCostLittle(t *testing.T) {
	k, c, now := testRing(t, nil)
	ctx := context.Background()
	good, err := k.ForWrite(ctx, "") // cached: reads of it need no Decrypt
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var integrity, limited atomic.Int64
	var seenInvalid atomic.Pointer[[]byte] // a key the Cipher refused
	for _, w := range forged(1000) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := k.ForRead(ctx, w, "", keyring.Cursors)
			switch {
			case errors.Is(err, dynacrypt.ErrIntegrity):
				integrity.Add(1)
				seenInvalid.Store(&w)
			case errors.Is(err, keyring.ErrLimited):
				limited.Add(1)
			default:
				t.Errorf("forged key: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := c.decrypts.Load(); n != 5 || integrity.Load() != 5 || limited.Load() != 995 {
		t.Fatalf("1000 concurrent forged keys: %d Decrypts, %d integrity errors, %d limited; want 5, 5, 995",
			n, integrity.Load(), limited.Load())
	}
	// Cached roots keep serving, and the items' source is untouched.
	if _, _, err := k.ForRead(ctx, good.Wrapped(), "", keyring.Cursors); err != nil {
		t.Fatalf("cached root during the attack: %v", err)
	}
	writer, _, _ := testRing(t, nil)
	other, _ := writer.ForWrite(ctx, "")
	_, hold, err := k.ForRead(ctx, other.Wrapped(), "", keyring.Items)
	if err != nil || c.decrypts.Load() != 6 {
		t.Fatalf("an uncached item root during a cursor attack: %v (%d decrypts)", err, c.decrypts.Load())
	}
	hold.Settle(true)
	// A forged key seen before is refused from memory, without a Decrypt.
	if _, _, err := k.ForRead(ctx, *seenInvalid.Load(), "", keyring.Items); !errors.Is(err, dynacrypt.ErrIntegrity) || c.decrypts.Load() != 6 {
		t.Fatalf("a forged key seen before: %v, %d decrypts, want no new one", err, c.decrypts.Load())
	}
	// One place comes back per Refill.
	*now = now.Add(10 * time.Second)
	more := forged(1003)[1000:] // never seen

	for _, w := range more {
		k.ForRead(ctx, w, "", keyring.Cursors)
	}
	if n := c.decrypts.Load(); n != 7 {
		t.Fatalf("after one refill, 3 more forged keys made %d Decrypts in all, want 7", n)
	}
	// Once refilled, honest unwraps run again, and do not use places up.
	*now = now.Add(time.Hour)
	fresh, _, _ := testRing(t, func(c *keyring.Config) { c.NoCache = true })
	before := c.decrypts.Load()
	for i := 0; i < 20; i++ {
		w, err := fresh.ForWrite(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		_, hold, err := k.ForRead(ctx, w.Wrapped(), "", keyring.Cursors)
		if err != nil {
			t.Fatalf("honest unwrap %d after the attack: %v", i, err)
		}
		hold.Settle(true) // the cursor it opened was genuine

	}
	if n := c.decrypts.Load() - before; n != 20 {
		t.Fatalf("20 honest unwraps made %d Decrypts", n)
	}
}

// panicky panics in every call, with a string that could be a secret.
type panicky struct{ runtimeErr bool }

func (p panicky) Encrypt(context.Context, []byte, map[string]string) ([]byte, error) {
	var a []int
	if p.runtimeErr {
		_ = a[3]
	}
	panic("secret-key-material")
}

func (p panicky) Decrypt(ctx context.Context, b []byte, ec map[string]string) ([]byte, error) {
	return p.Encrypt(ctx, b, ec)
}

// TestCipherPanics: a panic in the Cipher, which runs in a goroutine of its
// own, becomes an error of the call; its value shows only if it is a runtime
// error.
func TestCipherPanics(t *testing.T) {
	for _, rt := range []bool{false, true} {
		k, err := keyring.New(testConfig(panicky{runtimeErr: rt}))
		if err != nil {
			t.Fatal(err)
		}
		_, werr := k.ForWrite(context.Background(), "")
		_, _, rerr := k.ForRead(context.Background(), []byte("wrapped"), "", keyring.Items)
		for _, err := range []error{werr, rerr} {
			var pe *keyring.PanicError
			if !errors.As(err, &pe) || strings.Contains(err.Error(), "secret") || (rt && !strings.Contains(err.Error(), "index out of range")) {
				t.Errorf("runtime error %v: %v", rt, err)
			}
		}
	}
}

// TestKeyZeroedWhenUnreachable: a root key's bytes are cleared once no one
// holds its Root.
func TestKeyZeroedWhenUnreachable(t *testing.T) {
	k, _, _ := testRing(t, func(c *keyring.Config) { c.NoCache = true })
	r, err := k.ForWrite(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	key := r.Key() // the material itself, not the Root
	if bytes.Equal(key, make([]byte, keyring.KeySize)) {
		t.Fatal("fresh root key is all zeros")
	}
	r = nil
	for i := 0; i < 100 && !bytes.Equal(key, make([]byte, keyring.KeySize)); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if !bytes.Equal(key, make([]byte, keyring.KeySize)) {
		t.Error("root key material not zeroed after its Root became unreachable")
	}
	_ = r
}

// TestLocalUnwrapsUnlimited: once forged keys have spent a source's limit,
// an unwrap that Config.Local says makes no key service call still goes
// through, and is reported as not made by the key service (nothing to
// charge); without Local it is limited.
func TestLocalUnwrapsUnlimited(t *testing.T) {
	ctx := context.Background()
	writer, _, _ := testRing(t, nil)
	genuine, err := writer.ForWrite(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, local := range []bool{false, true} {
		k, c, _ := testRing(t, func(cfg *keyring.Config) {
			if local {
				cfg.Local = func(w []byte) bool { return bytes.Equal(w, genuine.Wrapped()) }
			}
		})
		for _, w := range forged(5) {
			if _, _, err := k.ForRead(ctx, w, "", keyring.Items); !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Fatalf("forged key: %v", err)
			}
		}
		_, hold, err := k.ForRead(ctx, genuine.Wrapped(), "", keyring.Items)
		switch {
		case !local && !errors.Is(err, keyring.ErrLimited):
			t.Errorf("without Local, a genuine key once the limit is spent: %v, want ErrLimited", err)
		case local && (err != nil || hold != nil):
			t.Errorf("with Local, a genuine key once the limit is spent: %v (hold %v), want it unwrapped, holding no place", err, hold)
		case local && c.decrypts.Load() != 6:
			t.Errorf("%d Decrypts, want 6", c.decrypts.Load())
		}
	}
}

// TestWriteGivesUpOnRootsNeverCurrent: a Cipher whose UnderCurrentKey calls
// none of the roots its Encrypt wraps current (the two disagree: a bug of a
// custom Cipher, or a key store that keeps rolling back) would have a write
// wrap root after root without end, a KMS request each. The write gives up
// after a few and says why.
func TestWriteGivesUpOnRootsNeverCurrent(t *testing.T) {
	k, c, _ := testRing(t, func(cfg *keyring.Config) { cfg.Current = func([]byte) bool { return false } })
	done := make(chan error, 1)
	go func() {
		_, err := k.ForWrite(context.Background(), "")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not current") {
			t.Errorf("ForWrite: %v, want an error saying the roots are not current", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ForWrite still wrapping roots after 10 s: %d so far", c.encrypts.Load())
	}
	if n := c.encrypts.Load(); n > 10 {
		t.Errorf("%d roots wrapped before giving up, want a few", n)
	}
}
