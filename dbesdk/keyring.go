package dbesdk

import (
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
)

// A Keyring wraps the data key of each item a Store writes in DB-ESDK's
// format, and unwraps it when the item is read: the role of DB-ESDK's
// keyrings, whose encrypted data keys it reads and writes byte for byte.
// Make one with a constructor of this package; a Keyring is safe for
// concurrent use.
type Keyring struct {
	k    structure.Keyring
	kind string // what it is, for errors: "raw AES keyring ns/name"
}

// RawAESKeyring returns a keyring over a local AES key of 16, 24 or 32 bytes,
// as DB-ESDK's raw AES keyring: items it wraps name the key by namespace and
// name, which must match those of the other services' keyring. The
// namespace "aws-kms" is reserved. Use it where the key is managed outside
// KMS; it makes no request.
func RawAESKeyring(namespace, name string, key []byte) (*Keyring, error) {
	k, err := keywrap.NewRawAES(namespace, name, key)
	if err != nil {
		return nil, fmt.Errorf("dbesdk: RawAESKeyring: %w", err)
	}
	return &Keyring{k: k, kind: "raw AES keyring " + namespace + "/" + name}, nil
}
