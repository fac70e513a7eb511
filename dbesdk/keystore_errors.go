package dbesdk

import (
	"fmt"

	"github.com/dynacrypt/dynacrypt"
)

// The kinds of failure of a [KeyStore] and the [HierarchicalKeyring]. Their
// errors wrap them, and the SDK's or KMS's error when there is one: test
// with errors.Is, and find an exception such as
// *types.ConditionalCheckFailedException with errors.As. Each wraps the
// dynacrypt kind a service maps to a response as it maps a Store's errors.
var (
	// ErrBranchKeyNotFound means the key store holds no record of the
	// branch key asked for: it was never created, or its records were
	// deleted (which is how a DB-ESDK branch key is shredded). It wraps
	// dynacrypt.ErrKeyGone, never dynacrypt.ErrIntegrity. A version
	// missing from a branch key that exists is not this but tampering
	// (the key store never deletes one version alone): ErrInvalidRecord.
	ErrBranchKeyNotFound = fmt.Errorf("%w: DB-ESDK branch key not found (never created, or its records deleted)", dynacrypt.ErrKeyGone)

	// ErrInvalidRecord means a key store record is not as DB-ESDK writes
	// it (see [KeyStore]), or a version an item names is missing from a
	// branch key that exists. Records refused so cost no KMS request. It
	// wraps dynacrypt.ErrIntegrity: the key store was altered.
	ErrInvalidRecord = fmt.Errorf("%w: DB-ESDK key store record not valid", dynacrypt.ErrIntegrity)

	// ErrBranchKeyExists is the failure of [KeyStore.Create] for an id
	// that has records already. It wraps dynacrypt.ErrExists.
	ErrBranchKeyExists = fmt.Errorf("%w: DB-ESDK branch key exists", dynacrypt.ErrExists)

	// ErrRotateConflict means [KeyStore.Rotate] found the branch:ACTIVE
	// record replaced, by a concurrent rotation, between reading it and
	// writing the new version's; the rotation did not happen and left
	// nothing behind. It wraps dynacrypt.ErrConflict.
	ErrRotateConflict = fmt.Errorf("%w: concurrent rotations of the DB-ESDK branch key", dynacrypt.ErrConflict)
)

// invalidRecord returns an error wrapping ErrInvalidRecord that says which
// record and what is wrong with it.
func invalidRecord(typ, format string, args ...any) error {
	return fmt.Errorf("%w: %s record: %s", ErrInvalidRecord, typ, fmt.Sprintf(format, args...))
}
