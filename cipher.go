package dynacrypt

import (
	"context"
	"sort"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// A Cipher wraps and unwraps the root keys that item keys derive from. The
// Store calls it rarely: once per new root key when writing and once per
// root key it has not cached when reading.
//
// Encrypt returns a ciphertext of plaintext bound to encryptionContext.
// Decrypt returns the plaintext only if ciphertext came from Encrypt with an
// equal encryptionContext (same keys and values, any order). When the
// ciphertext is not authentic under that context (altered, bound to another
// context, or made under a key the Cipher does not accept) Decrypt returns an
// error that wraps ErrIntegrity. Both must be safe for concurrent use and
// must not retain or modify their arguments. Errors must not contain the
// plaintext.
//
// The Store passes the context {"dynacrypt-table": <table name>}.
type Cipher interface {
	Encrypt(ctx context.Context, plaintext []byte, encryptionContext map[string]string) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
}

// TableContextKey is the encryption context key under which the Store passes
// its table name to the Cipher. A KMS key policy can match it with the
// kms:EncryptionContext:dynacrypt-table condition key to limit a role to
// some tables.
const TableContextKey = "dynacrypt-table"

// appendContext appends an encryption context in canonical form: pairs in
// ascending key order, each key and value length-prefixed.
func appendContext(dst []byte, ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		dst = canonical.AppendName(dst, k)
		dst = canonical.AppendName(dst, ec[k])
	}
	return dst
}
