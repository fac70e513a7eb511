package dynacrypttest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

var notes = map[string]string{dynacrypt.TableContextKey: "notes"}

// TestCipherOwnKey: two fakes from NewCipher have different keys, as two KMS
// keys would, so neither reads what the other wrote.
func TestCipherOwnKey(t *testing.T) {
	ctx := context.Background()
	a, b := dynacrypttest.NewCipher(), dynacrypttest.NewCipher()
	wrapped, err := a.Encrypt(ctx, []byte("root key"), notes)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := b.Decrypt(ctx, wrapped, notes)
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("another fake decrypted to %q, %v; want an error wrapping ErrIntegrity", plain, err)
	}
	if plain, err := a.Decrypt(ctx, wrapped, notes); err != nil || string(plain) != "root key" {
		t.Fatalf("the writer decrypted to %q, %v", plain, err)
	}
}

// TestCipherWithKey: fakes made with the same key read each other's
// ciphertexts and keep their own counters; another key is refused with
// ErrWrongKey.
func TestCipherWithKey(t *testing.T) {
	ctx := context.Background()
	writer, reader := dynacrypttest.NewCipherWithKey("k1"), dynacrypttest.NewCipherWithKey("k1")
	wrapped, err := writer.Encrypt(ctx, []byte("root key"), notes)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := reader.Decrypt(ctx, wrapped, notes); err != nil || string(plain) != "root key" {
		t.Fatalf("a fake with the same key decrypted to %q, %v", plain, err)
	}
	if w, r := [2]int64{writer.Encrypts(), writer.Decrypts()}, [2]int64{reader.Encrypts(), reader.Decrypts()}; w != [2]int64{1, 0} || r != [2]int64{0, 1} {
		t.Errorf("counters (encrypts, decrypts): writer %v, reader %v; want [1 0] and [0 1]", w, r)
	}
	for _, other := range []*dynacrypttest.Cipher{dynacrypttest.NewCipherWithKey("k2"), dynacrypttest.NewCipher()} {
		_, err := other.Decrypt(ctx, wrapped, notes)
		if !errors.Is(err, dynacrypttest.ErrWrongKey) || !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("another key: %v; want ErrWrongKey wrapping ErrIntegrity", err)
		}
	}
}

// TestCipherDeterministic: with a given key, Encrypt gives the same bytes for
// the same input, in every run; that is what keeps recorded items readable.
func TestCipherDeterministic(t *testing.T) {
	ctx := context.Background()
	one, _ := dynacrypttest.NewCipherWithKey("k1").Encrypt(ctx, []byte("root key"), notes)
	two, _ := dynacrypttest.NewCipherWithKey("k1").Encrypt(ctx, []byte("root key"), notes)
	other, _ := dynacrypttest.NewCipherWithKey("k2").Encrypt(ctx, []byte("root key"), notes)
	if string(one) != string(two) || string(one) == string(other) {
		t.Errorf("same key: %q and %q; other key: %q", one, two, other)
	}
}

// TestCipherRefuses: a changed, cut or foreign ciphertext and another context
// are refused with errors wrapping ErrIntegrity, as the Cipher contract asks.
func TestCipherRefuses(t *testing.T) {
	ctx := context.Background()
	c := dynacrypttest.NewCipher()
	wrapped, err := c.Encrypt(ctx, []byte("root key"), notes)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, wrapped, map[string]string{dynacrypt.TableContextKey: "orders"})
	if !errors.Is(err, dynacrypttest.ErrContextMismatch) || !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("another context: %v; want ErrContextMismatch wrapping ErrIntegrity", err)
	}
	for i := range wrapped {
		changed := append([]byte(nil), wrapped...)
		changed[i] ^= 1
		if plain, err := c.Decrypt(ctx, changed, notes); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("byte %d changed: decrypted to %q, %v; want an error wrapping ErrIntegrity", i, plain, err)
		}
	}
	for _, bad := range [][]byte{nil, wrapped[:len(wrapped)-1], []byte("root key")} {
		if _, err := c.Decrypt(ctx, bad, notes); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Decrypt(%q): %v; want an error wrapping ErrIntegrity", bad, err)
		}
	}
	if n := c.Decrypts(); n != int64(len(wrapped))+4 {
		t.Errorf("Decrypts() = %d, want %d", n, len(wrapped)+4)
	}
}

// TestCipherFailures: FailEncrypt and FailDecrypt inject errors until reset,
// and a cancelled context is honoured.
func TestCipherFailures(t *testing.T) {
	ctx := context.Background()
	c := dynacrypttest.NewCipher()
	c.FailEncrypt(dynacrypttest.ErrInjected)
	if _, err := c.Encrypt(ctx, []byte("k"), notes); !errors.Is(err, dynacrypttest.ErrInjected) {
		t.Errorf("FailEncrypt: %v", err)
	}
	c.FailEncrypt(nil)
	wrapped, err := c.Encrypt(ctx, []byte("k"), notes)
	if err != nil {
		t.Fatal(err)
	}
	c.FailDecrypt(dynacrypttest.ErrInjected)
	if _, err := c.Decrypt(ctx, wrapped, notes); !errors.Is(err, dynacrypttest.ErrInjected) {
		t.Errorf("FailDecrypt: %v", err)
	}
	c.FailDecrypt(nil)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Decrypt(cancelled, wrapped, notes); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Decrypt: %v", err)
	}
	if _, err := c.Encrypt(cancelled, []byte("k"), notes); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Encrypt: %v", err)
	}
	if e, d := c.Encrypts(), c.Decrypts(); e != 3 || d != 2 {
		t.Errorf("Encrypts, Decrypts = %d, %d; want 3, 2", e, d)
	}
}
