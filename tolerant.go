package dynacrypt

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keytext"
)

// ReportFailures makes a listing (Query, Scan, Lookup and their pages) go
// on past an item that fails: report is called with its key and error, and
// the item is neither yielded nor put in a page. By default a listing ends
// at such an item, with its error.
//
// An item fails when it does not verify (ErrIntegrity: changed, moved,
// forged, or another tenant's put under this one), its key is gone
// (ErrKeyGone: a shredded tenant), or, verified, it does not unmarshal into
// T (an unsigned attribute of another type). Every other error still ends
// the listing: a Cipher or key store that cannot be reached, a cancelled
// context, ErrUnwrapLimited. These say nothing of the item, which a later
// try may read, and a listing must not go past it, nor a cursor.
//
// Reports come in the listing's order, one at a time, from the goroutine
// that ranges over Query and Scan (in parallel segments too), or before
// QueryPage, ScanPage and LookupPage return. A report, like an item,
// counts toward Limit and a page's size. A Lookup's candidates of other
// tenants are dropped unread, as without the option, never reported.
func ReportFailures(report func(*ItemError)) QueryOption {
	return queryOption(func(c *queryConfig) { c.report = report })
}

// An ItemError is an item of a listing that failed: reported to the
// function given to ReportFailures. It holds the item's key attributes and
// the cause, and nothing of its encrypted attributes.
type ItemError struct {
	Op    string // "Query", "Scan" or "Lookup"
	Table string
	// Key holds the item's key attributes as stored: unverified, since
	// the item failed.
	Key map[string]types.AttributeValue
	Err error
}

// Error names the operation, the table and the item's key, then the cause.
func (e *ItemError) Error() string {
	return "dynacrypt: " + e.Op + " " + e.Table + ": item " + keytext.String(e.Key) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ItemError) Unwrap() error { return e.Err }

// itemFailure returns the report of an item that failed with err in a
// listing with ReportFailures, or nil if the listing must end with err: it
// has no ReportFailures, or err is not the item's (a Cipher that cannot be
// reached, a cancelled context, ErrUnwrapLimited), so that a later try of
// the same item may succeed, and the listing must not go past it.
func (s *Store[T]) itemFailure(r *request, av map[string]types.AttributeValue, err error) *ItemError {
	var unmarshalling *unmarshalError
	if r.qc.report == nil || !(errors.Is(err, ErrIntegrity) || errors.Is(err, ErrKeyGone) || errors.As(err, &unmarshalling)) {
		return nil
	}
	key := make(map[string]types.AttributeValue, len(s.codec.keyAttrs))
	for _, name := range s.codec.keyAttrs {
		if v, ok := av[name]; ok {
			key[name] = v
		}
	}
	return &ItemError{Op: r.op, Table: s.table, Key: key, Err: err}
}

// isReport reports whether a listing yielded err for an item it reports
// and goes on after.
func isReport(err error) bool {
	_, ok := err.(*ItemError)
	return ok
}

// reporting returns yield, but for the item failures of a listing with
// ReportFailures, which it passes to report, and goes on.
func reporting[T any](report func(*ItemError), yield func(*T, error) bool) func(*T, error) bool {
	if report == nil {
		return yield
	}
	return func(item *T, err error) bool {
		if ie, ok := err.(*ItemError); ok {
			report(ie)
			return true
		}
		return yield(item, err)
	}
}

// unmarshalError is the error of a verified item that does not unmarshal
// into the Store's type (an unsigned attribute of another type, say): the
// item's fault, which a listing with ReportFailures reports. Its text is
// the cause's.
type unmarshalError struct{ err error }

func (e *unmarshalError) Error() string { return e.err.Error() }
func (e *unmarshalError) Unwrap() error { return e.err }
