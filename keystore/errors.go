package keystore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dynacrypt/dynacrypt"
)

// The kinds of failure. Errors of this package wrap them (and the SDK's or
// KMS's error, when there is one): test with errors.Is, and use errors.As to
// find an [*Error] or an exception such as
// *types.ConditionalCheckFailedException. Each wraps the dynacrypt kind a
// service maps to a response as it maps a Store's errors; a branch key not
// found is dynacrypt.ErrKeyGone, never dynacrypt.ErrNotFound, so that an
// item whose key is gone does not pass for one that does not exist.
var (
	// ErrBranchKeyNotFound means the key store holds no material of the
	// branch key asked for: it was never created, or it was deleted. After
	// [KeyStore.Delete] (crypto-shredding) this is what reading an item it
	// protected returns (as ErrBranchKeyShredded), so that "the key is
	// gone" can be told from tampering: it never wraps
	// dynacrypt.ErrIntegrity. It does not prove an item genuine either:
	// anyone who can write the key store or the item's table can make a
	// read end this way, as they can delete the records. Treat it as
	// "unreadable", not as proof of a shredding. It wraps
	// dynacrypt.ErrKeyGone. Finding a key gone costs key store reads, never
	// a KMS request; a Store counts it against its unwrap limit, unless the
	// version was found shredded.
	ErrBranchKeyNotFound = fmt.Errorf("%w: branch key not found (never created, or deleted)", dynacrypt.ErrKeyGone)

	// ErrBranchKeyShredded means the version of a branch key asked for was
	// deleted by [KeyStore.Delete], which leaves a record of each version
	// without its material. It wraps ErrBranchKeyNotFound (and so
	// dynacrypt.ErrKeyGone). Unlike a key that has no record at all, which
	// forged items can name at will, it names a key that existed: a
	// Cipher's refusal of it is not charged to a Store's unwrap limit, so
	// the items of shredded tenants never stop the cold reads of others.
	ErrBranchKeyShredded = fmt.Errorf("%w: the version was shredded", ErrBranchKeyNotFound)

	// ErrBranchKeyExists is the failure of [KeyStore.Create] for an id
	// that has records already. Create never overwrites a branch key. An
	// id whose Create failed midway (no branch:ACTIVE record, but a
	// beacon key) is reported so too: Delete it, then Create it again. It
	// wraps dynacrypt.ErrExists (and so dynacrypt.ErrConflict), as a
	// Store's create of an existing item does: an HTTP service's 409 for
	// both.
	ErrBranchKeyExists = fmt.Errorf("%w: branch key exists", dynacrypt.ErrExists)

	// ErrInvalidRecord means a key store record is not as this package
	// writes it: an attribute missing or of the wrong type, a version that
	// does not match its sort key, a branch:ACTIVE record that differs from
	// the record of the version it names, a kms-arn naming another KMS key.
	// Such a record is refused before any KMS request (but for a kms-arn
	// read by a key store configured with an alias it has not resolved
	// yet: KMS's answer tells). It wraps dynacrypt.ErrIntegrity: the key
	// store was altered.
	ErrInvalidRecord = fmt.Errorf("%w: key store record not valid", dynacrypt.ErrIntegrity)

	// ErrRotateConflict means [KeyStore.Rotate] lost the race to replace
	// the branch:ACTIVE record to concurrent rotations more times than it
	// tries. Its new version stays in the table, readable and unused. It
	// wraps dynacrypt.ErrConflict.
	ErrRotateConflict = fmt.Errorf("%w: concurrent rotations of the branch key", dynacrypt.ErrConflict)
)

// Error reports a failed operation on a branch key: which operation, which
// branch key id, which version when one is concerned, and the cause, which
// errors.Is and errors.As see through. It never holds key material.
type Error struct {
	// Op is the operation: "Create", "Rotate", "Delete", "Versions",
	// "ActiveBranchKey", "BranchKeyVersion", "BeaconKey", "Encrypt" or
	// "Decrypt".
	Op      string
	ID      string // the branch key id, if known
	Version string // the version, if one is concerned
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("keystore: ")
	b.WriteString(e.Op)
	if e.ID != "" {
		fmt.Fprintf(&b, " branch key %q", e.ID)
	}
	if e.Version != "" {
		b.WriteString(" version ")
		b.WriteString(e.Version)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// localError marks an error decided without a request (see Cipher.Decrypt).
type localError struct{ error }

func (e localError) Unwrap() error { return e.error }

// Local reports that the refusal is not to be charged to a Store's unwrap
// limit: it cost no key store or KMS request, or found a version shredded.
func (localError) Local() bool { return true }

func local(err error) error { return localError{err} }

// opError wraps err in an *Error, unless it is one already: errors of the
// key store reach the Cipher with their operation and id said.
func opError(op, id, version string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Op: op, ID: id, Version: version, Err: err}
}

// integrity returns an error wrapping dynacrypt.ErrIntegrity.
func integrity(format string, args ...any) error {
	return fmt.Errorf("%w: %s", dynacrypt.ErrIntegrity, fmt.Sprintf(format, args...))
}

// invalidRecord returns an error wrapping ErrInvalidRecord that says which
// record and what is wrong with it.
func invalidRecord(typ, format string, args ...any) error {
	return fmt.Errorf("%w: %s record: %s", ErrInvalidRecord, typ, fmt.Sprintf(format, args...))
}
