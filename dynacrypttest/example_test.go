package dynacrypttest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// The fake Cipher stands in for KMS in unit tests: it counts calls, checks
// the encryption context, and fails on demand.
func ExampleCipher() {
	c := dynacrypttest.NewCipher()
	ctx := context.Background()
	users := map[string]string{dynacrypt.TableContextKey: "users"}

	wrapped, _ := c.Encrypt(ctx, []byte("root"), users)
	plain, _ := c.Decrypt(ctx, wrapped, users)
	fmt.Println(string(plain), c.Encrypts(), c.Decrypts())

	_, err := c.Decrypt(ctx, wrapped, map[string]string{dynacrypt.TableContextKey: "orders"})
	fmt.Println(errors.Is(err, dynacrypttest.ErrContextMismatch), errors.Is(err, dynacrypt.ErrIntegrity))

	c.FailDecrypt(dynacrypttest.ErrInjected)
	_, err = c.Decrypt(ctx, wrapped, users)
	fmt.Println(err)
	// Output:
	// root 1 1
	// true true
	// dynacrypttest: injected failure
}

// Each fake has its own key, as each KMS key does: a fake with another key
// cannot unwrap a root key (so a Store using it reads no item and resumes no
// cursor of the writer's), while fakes made with the same key can, each
// counting its own calls.
func ExampleNewCipherWithKey() {
	ctx := context.Background()
	notes := map[string]string{dynacrypt.TableContextKey: "notes"}
	writer := dynacrypttest.NewCipherWithKey("tenant-a")
	wrapped, _ := writer.Encrypt(ctx, []byte("root key"), notes)

	other := dynacrypttest.NewCipherWithKey("tenant-b")
	_, err := other.Decrypt(ctx, wrapped, notes)
	fmt.Println(errors.Is(err, dynacrypttest.ErrWrongKey), errors.Is(err, dynacrypt.ErrIntegrity))

	_, err = dynacrypttest.NewCipher().Decrypt(ctx, wrapped, notes) // a random key of its own
	fmt.Println(errors.Is(err, dynacrypttest.ErrWrongKey))

	same := dynacrypttest.NewCipherWithKey("tenant-a")
	plain, err := same.Decrypt(ctx, wrapped, notes)
	fmt.Println(string(plain), err, same.Decrypts(), writer.Decrypts())
	// Output:
	// true true
	// true
	// root key <nil> 1 0
}
