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
