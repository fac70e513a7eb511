package dynacrypt

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// The kinds of failure. Store methods return them wrapped, in an *OpError
// or a *BatchError: test with errors.Is.
var (
	// ErrNotFound means no item has the given key.
	ErrNotFound = errors.New("item not found")

	// ErrConflict means a write condition failed: the version in the table
	// is not the one the write expected, the item already exists, or it
	// changed concurrently. Re-read and retry, or use [Store.Update], which
	// does both.
	ErrConflict = errors.New("conflict")

	// ErrExists is the ErrConflict of a create (Put of version 0, or with
	// IfNotExists) of an item that exists: an HTTP service's 409.
	ErrExists = fmt.Errorf("%w: item exists", ErrConflict)

	// ErrStale is the ErrConflict of a write at version v (Put, Delete,
	// Update with IfVersion) of an item now at another version: an HTTP
	// service's 412. A write at version v of an item that is gone wraps
	// ErrConflict and ErrNotFound instead (404).
	ErrStale = fmt.Errorf("%w: stale version", ErrConflict)

	// ErrOutcomeUnknown means a write may or may not have happened: an
	// attempt of it got no definite answer (the connection failed after the
	// request was sent, or the server answered 5xx), and what the Store saw
	// afterwards does not show whether that attempt landed. It never wraps
	// ErrConflict: nothing says another writer got there first, and
	// [Store.Update] does not call fn again. Re-read the item to learn
	// what is stored, and decide from it; writing again blindly may apply a
	// change twice. A Delete whose item is now gone says so too: the error
	// also wraps ErrNotFound (the item is gone, by this call or another).
	ErrOutcomeUnknown = errors.New("outcome unknown: the write may or may not have happened")

	// ErrIntegrity means a stored item failed verification: its signature
	// does not match, an encrypted value does not decrypt, its root key does
	// not unwrap under this table's encryption context, or it has no valid
	// header. The item was changed, moved, or written by something else.
	ErrIntegrity = errors.New("integrity check failed")

	// ErrKeyGone means an item's root key did not unwrap because the key
	// that protects it does not exist: with a key store, its branch key was
	// deleted (crypto-shredding), or never created. It is told apart from ErrIntegrity,
	// which it never wraps, but proves nothing about the item: whoever can
	// delete keys can make a read end so. A Cipher's errors wrap it only
	// when it found the key gone without a call it is billed for. The
	// Store counts it against WithUnwrapLimit when finding it took a
	// request, since forged items can name key after made-up key, unless
	// the Cipher marks it as not to be counted (a keystore version known
	// shredded: see Cipher). A tenant whose branch key does not exist holds
	// no items: a write for it fails with ErrKeyGone, while reads find
	// nothing (Get gives ErrNotFound, Query and Lookup no item) unless items
	// of it remain from before a deletion, which read as ErrKeyGone.
	ErrKeyGone = errors.New("key gone (deleted)")

	// ErrInvalidCursor means a page cursor was altered, forged, truncated,
	// expired, or made for another query, table or Store configuration.
	ErrInvalidCursor = errors.New("invalid cursor")

	// ErrUnwrapLimited means a root key was not unwrapped, and no Cipher
	// call made, because too many wrapped keys from the same source (item
	// headers, or page cursors) failed to unwrap recently: someone is
	// feeding the Store forged keys. Cached root keys keep serving reads;
	// retry later. See [WithUnwrapLimit].
	ErrUnwrapLimited = keyring.ErrLimited

	// ErrNotVouched means an item without a header (a legacy or a
	// plaintext item) was not written back in the current format, because
	// no manifest vouches for it: with LegacyUnverified, writing it would
	// sign whatever anyone who can write the table put there. Update of
	// such an item fails with it, and so does Reencrypt. Nothing was
	// written; once the Store has a manifest ([LegacyManifest]), the same
	// write succeeds if the manifest lists the item.
	ErrNotVouched = errors.New("item without a header not vouched for by a manifest")
)

// errGone is the conflict of a write at a version of an item that is gone.
var errGone = fmt.Errorf("%w: %w", ErrConflict, ErrNotFound)

// kinds are the kinds OpError.Kind reports, most specific first.
var kinds = []error{ErrInvalidCursor, ErrOutcomeUnknown, ErrExists, ErrStale, ErrNotFound, ErrConflict, ErrKeyGone, ErrIntegrity, ErrUnwrapLimited, ErrTableMismatch}

// kindOf returns the first of kinds that err wraps, or nil.
func kindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// OpError is the error Store methods return, as os.PathError is for file
// operations: it names the operation and table, and wraps the cause, so
// errors.Is finds the kind (ErrNotFound, ErrConflict, ErrIntegrity, ...) and
// errors.As finds the SDK's or KMS's exception, such as
// *types.ConditionalCheckFailedException.
//
// OpError messages never contain plaintext of encrypted fields.
type OpError struct {
	Op    string // "Get", "Put", "Delete", "Update", "Query", ...
	Table string
	// Kind is the kind of failure Err wraps (ErrNotFound, ErrConflict,
	// ErrIntegrity, ErrInvalidCursor, ErrUnwrapLimited), or nil for others
	// (SDK errors, cancelled contexts, invalid arguments).
	Kind error
	Err  error // the cause
}

// newOpError wraps err for op on table, unless it is an OpError already.
func newOpError(op, table string, err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	return &OpError{Op: op, Table: table, Kind: kindOf(err), Err: err}
}

// Error names the operation and table, then the cause.
func (e *OpError) Error() string {
	return "dynacrypt: " + e.Op + " " + e.Table + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// BatchError reports the items of a batch call that were not done. Failed
// holds the indexes, in the slice given to the call and in ascending order,
// of the items known not done; Unknown those of the items whose outcome is
// unknown (see [ErrOutcomeUnknown]); every other item was done. Err is the
// first failure and is wrapped, so errors.Is(err, ErrConflict) and
// errors.As on the SDK's exceptions work.
type BatchError struct {
	Op      string // "BatchGet", "BatchPut", "BatchDelete"
	Table   string
	Failed  []int
	Unknown []int // written or deleted, or not: re-read them (never for BatchGet)
	Err     error
}

func newBatchError(op, table string, failed, unknown []int, err error) *BatchError {
	sort.Ints(failed)
	sort.Ints(unknown)
	return &BatchError{Op: op, Table: table, Failed: failed, Unknown: unknown, Err: err}
}

// Error says which items were not done, which may or may not have been,
// and why.
func (e *BatchError) Error() string {
	var parts []string
	if len(e.Failed) > 0 || len(e.Unknown) == 0 {
		parts = append(parts, fmt.Sprintf("%d items not done (indexes %s)", len(e.Failed), indexList(e.Failed)))
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, fmt.Sprintf("%d items with outcome unknown (indexes %s)", len(e.Unknown), indexList(e.Unknown)))
	}
	return fmt.Sprintf("dynacrypt: %s %s: %s: %v", e.Op, e.Table, strings.Join(parts, ", "), e.Err)
}

// indexList lists the first ten indexes.
func indexList(indexes []int) string {
	idx := make([]string, 0, min(len(indexes), 10))
	for _, i := range indexes[:min(len(indexes), 10)] {
		idx = append(idx, fmt.Sprint(i))
	}
	if len(indexes) > 10 {
		idx = append(idx, "...")
	}
	return strings.Join(idx, ", ")
}

// Unwrap returns the first failure.
func (e *BatchError) Unwrap() error { return e.Err }

// panicError describes a recovered panic without its value, which may quote
// data, unless it is a runtime error.
func panicError(p any) error {
	if re, ok := p.(runtime.Error); ok {
		return re
	}
	return fmt.Errorf("a panic with a %T", p)
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
