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

// What a keyring's unwrap costs, for the Store's unwrap limit
// (dynacrypt.WithUnwrapLimit), which bounds the key service requests forged
// items can cause. One contract serves every keyring, this package's and
// package structure's alike:
//
//   - Before decrypting an item, the Store asks the keyring, if it is a
//     structure.LocalKeyring, whether OnDecrypt of the EDKs of its header
//     will make no request to a key service (KMS, a key store table):
//     true when the keyring needs none (raw AES), has what it needs cached
//     (a branch key version), or will refuse the EDKs outright. Such
//     unwraps are not limited. The answer is conservative: false may still
//     end in a local refusal. A keyring that is no LocalKeyring is taken to
//     make a request every time.
//   - Every OnDecrypt error of a keyring that calls a key service has, in
//     its chain (errors.As finds it through structure's wrapping), a method
//     Local() bool, as dynacrypt.Cipher's Decrypt errors do: true when the
//     refusal made no request for this call (the EDKs were malformed, named
//     keys the keyring does not use for the item, or failed before and the
//     failure is remembered), so the Store does not charge it. A
//     multi-keyring's error answers for all its keyrings: Local only if
//     none made a request.

// unwrapsLocally reports whether k's OnDecrypt of edks will make no request
// to a key service (see above).
func (k *Keyring) unwrapsLocally(m *structure.DecryptionMaterials, edks []structure.EDK) bool {
	l, ok := k.k.(structure.LocalKeyring)
	return ok && l.UnwrapsLocally(m, edks)
}

// refusal is an OnDecrypt error of a keyring that calls a key service: it
// says whether the refusal made a request (see above).
type refusal struct {
	err   error
	local bool
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// Local reports that the refusal made no key service request, so that a
// Store does not charge it to its unwrap limit.
func (e *refusal) Local() bool { return e.local }

// refuse returns err as a refusal; local says whether no request was made.
func refuse(err error, local bool) error { return &refusal{err: err, local: local} }
