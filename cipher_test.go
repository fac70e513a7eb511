package dynacrypt_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

var (
	usersCtx  = map[string]string{dynacrypt.TableContextKey: "users", "tenant": "t1"}
	ordersCtx = map[string]string{dynacrypt.TableContextKey: "orders", "tenant": "t1"}
)

// checkCipher runs the Cipher contract on c. Altered bytes are taken from
// the ends: local-kms does not authenticate the key ARN it writes into the
// middle of its blobs (AWS KMS does); the item signature covers them anyway.
func checkCipher(t *testing.T, c dynacrypt.Cipher) []byte {
	t.Helper()
	ctx := context.Background()
	root := bytes.Repeat([]byte{7}, 32)
	wrapped, err := c.Encrypt(ctx, root, usersCtx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, root) {
		t.Error("ciphertext contains the plaintext")
	}
	again, err := c.Encrypt(ctx, root, usersCtx)
	if err != nil || bytes.Equal(again, wrapped) {
		t.Errorf("two encryptions of the same key are equal (%v)", err)
	}
	sameCtx := map[string]string{"tenant": "t1", dynacrypt.TableContextKey: "users"}
	if got, err := c.Decrypt(ctx, wrapped, sameCtx); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Decrypt: %x, %v", got, err)
	}
	for name, tc := range map[string]struct {
		ct []byte
		ec map[string]string
	}{
		"other context": {wrapped, ordersCtx},
		"extra pair":    {wrapped, map[string]string{dynacrypt.TableContextKey: "users", "tenant": "t1", "x": "y"}},
		"empty context": {wrapped, nil},
		"last byte":     {flip(wrapped, len(wrapped)-1), usersCtx},
		"tag byte":      {flip(wrapped, len(wrapped)-8), usersCtx},
		"first byte":    {flip(wrapped, 0), usersCtx},
		"truncated":     {wrapped[:len(wrapped)-1], usersCtx},
		"empty":         {nil, usersCtx},
	} {
		if got, err := c.Decrypt(ctx, tc.ct, tc.ec); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s: Decrypt gave %x, %v; want ErrIntegrity", name, got, err)
		}
	}
	return wrapped
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestAESCipher(t *testing.T) {
	c := newAES(t)
	wrapped := checkCipher(t, c)
	if len(wrapped) != 32+29 {
		t.Errorf("AES ciphertext of 32 bytes is %d bytes, want 61", len(wrapped))
	}
	if _, err := newAES(t).Decrypt(context.Background(), wrapped, usersCtx); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("Decrypt with another key: %v, want ErrIntegrity", err)
	}
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := dynacrypt.NewAESCipher(make([]byte, n)); err == nil {
			t.Errorf("NewAESCipher accepted a %d-byte key", n)
		}
	}
}

func TestKMSCipher(t *testing.T) {
	client, requests := testrig.KMS(t)
	c := dynacrypt.NewKMSCipher(client, testrig.KeyA)
	wrapped := checkCipher(t, c)
	if id, ok := c.WrappingKey(wrapped); !ok || id != testrig.KeyA || c.KeyID() != testrig.KeyA {
		t.Errorf("WrappingKey = %q, %v", id, ok)
	}

	_, err := c.Decrypt(context.Background(), wrapped, ordersCtx)
	var invalid *kmstypes.InvalidCiphertextException
	if !errors.As(err, &invalid) {
		t.Errorf("wrong context: %v does not wrap KMS's InvalidCiphertextException", err)
	}

	// A ciphertext under a key the cipher does not list never reaches KMS
	// once the cipher knows its keys: an alias, from its first Encrypt.
	onlyB := dynacrypt.NewKMSCipher(client, testrig.KeyB)
	if _, err := onlyB.Encrypt(context.Background(), make([]byte, 32), usersCtx); err != nil {
		t.Fatal(err)
	}
	before := requests.Requests()
	if _, err := onlyB.Decrypt(context.Background(), wrapped, usersCtx); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("key not listed: %v, want ErrIntegrity", err)
	}
	if requests.Requests() != before {
		t.Error("a ciphertext under an unlisted key was sent to KMS")
	}
	if _, ok := onlyB.WrappingKey(wrapped); ok {
		t.Error("WrappingKey claims a key the cipher does not list")
	}
	withA := onlyB.WithPreviousKeys(testrig.KeyA)
	if got, err := withA.Decrypt(context.Background(), wrapped, usersCtx); err != nil || len(got) != 32 {
		t.Errorf("with key A as a previous key: %v", err)
	}
	if onlyB.KeyID() != testrig.KeyB || withA.KeyID() != testrig.KeyB {
		t.Error("WithPreviousKeys changed the encrypting key")
	}
}

// panicking is a Cipher with a bug: every call panics, with a value that
// could hold key material.
type panicking struct{}

func (panicking) Encrypt(context.Context, []byte, map[string]string) ([]byte, error) {
	panic("SECRET key material")
}

func (panicking) Decrypt(context.Context, []byte, map[string]string) ([]byte, error) {
	panic("SECRET key material")
}

// TestBrokenCiphers: a Cipher that would fail on first use is refused at
// New, and a Cipher that panics fails the call that used it, rather than
// kill the process from a goroutine no recover could reach.
func TestBrokenCiphers(t *testing.T) {
	pk := dynacrypt.WithPartitionKey("id")
	for name, c := range map[string]dynacrypt.Cipher{
		"nil":                   nil,
		"nil *AESCipher":        (*dynacrypt.AESCipher)(nil),
		"KMSCipher, nil client": dynacrypt.NewKMSCipher(nil, testrig.KeyA),
		"KMSCipher, no key":     dynacrypt.NewKMSCipher(kms.New(kms.Options{Region: "us-east-1"}), ""),
	} {
		if err := newErr[User](pk, dynacrypt.WithCipher(c)); err == nil || !strings.Contains(err.Error(), "WithCipher") {
			t.Errorf("%s: New gave %v, want an error naming WithCipher", name, err)
		}
	}

	ctx := context.Background()
	db, table := usersTable(t)
	if err := mustNew[User](t, db, table, pk, dynacrypt.WithCipher(newAES(t))).Put(ctx, &User{ID: "u", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	buggy := mustNew[User](t, db, table, pk, dynacrypt.WithCipher(panicking{}))
	err := buggy.Put(ctx, &User{ID: "v", Token: "t"})
	var pe *keyring.PanicError
	if !errors.As(err, &pe) || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Put with a panicking Cipher: %v; want a PanicError without the panic value", err)
	}
	if _, err := buggy.Get(ctx, User{ID: "u"}); !errors.As(err, &pe) {
		t.Errorf("Get with a panicking Cipher: %v; want a PanicError", err)
	}
}
