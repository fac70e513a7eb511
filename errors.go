package dynacrypt

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound means no item has the given key.
	ErrNotFound = errors.New("dynacrypt: item not found")

	// ErrConflict means a write condition failed: the version in the table
	// is not the one the write expected, the item already exists, or it
	// changed concurrently. Re-read and retry, or use Store.Update, which
	// does both.
	ErrConflict = errors.New("dynacrypt: conflict")

	// ErrIntegrity means a stored item failed verification: its signature
	// does not match, an encrypted value does not decrypt, its root key does
	// not unwrap under this table's encryption context, or it has no valid
	// header. The item was changed, moved, or written by something else.
	ErrIntegrity = errors.New("dynacrypt: integrity check failed")
)

// OpError is the error Store methods return. It names the operation and
// table, and wraps both the kind of failure (ErrNotFound, ErrConflict,
// ErrIntegrity, or none) and the underlying error, so errors.Is and errors.As
// find either: errors.As(err, &ccf) with a
// *types.ConditionalCheckFailedException still works.
//
// OpError messages never contain plaintext of encrypted fields.
type OpError struct {
	Op    string // "Get", "Put", "Delete", "Update"
	Table string
	Kind  error // ErrNotFound, ErrConflict, ErrIntegrity, or nil
	Err   error // the cause: an SDK, Cipher or context error, or a description
}

// Error names the operation and table, then the kind and the cause.
func (e *OpError) Error() string {
	var parts []string
	if e.Op != "" {
		parts = append(parts, "dynacrypt: "+e.Op+" "+e.Table)
	}
	if e.Kind != nil {
		parts = append(parts, kindText(e.Kind))
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// kindText is a kind's message without the package prefix, which the
// operation part of the message already gives.
func kindText(kind error) string {
	return strings.TrimPrefix(kind.Error(), "dynacrypt: ")
}

// Unwrap returns the kind and the cause.
func (e *OpError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// redactedError hides the text of an error that may quote decrypted data,
// such as a strconv error naming the string it could not parse, while
// keeping it reachable through errors.Is and errors.As.
type redactedError struct {
	what string
	err  error
}

func (e *redactedError) Error() string {
	return e.what + " (details withheld: they may quote decrypted data)"
}
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, format string, args ...any) error {
	return &redactedError{what: fmt.Sprintf(format, args...), err: err}
}
