package keystore_test

import (
	"errors"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// TestErrorKinds: each failure of this package wraps the dynacrypt kind a
// service maps to a response, as it maps a Store's: an existing branch key
// is dynacrypt.ErrExists (409) as an existing item is, a lost rotation race
// ErrConflict, a record not as written ErrIntegrity. A branch key not found
// is ErrKeyGone and not ErrNotFound: reading an item whose key was shredded
// must not look like reading an item that does not exist.
func TestErrorKinds(t *testing.T) {
	all := []error{dynacrypt.ErrNotFound, dynacrypt.ErrConflict, dynacrypt.ErrExists, dynacrypt.ErrStale,
		dynacrypt.ErrIntegrity, dynacrypt.ErrKeyGone, dynacrypt.ErrInvalidCursor, dynacrypt.ErrUnwrapLimited}
	for _, c := range []struct {
		name string
		err  error
		is   []error
	}{
		{"ErrBranchKeyExists", keystore.ErrBranchKeyExists, []error{dynacrypt.ErrExists, dynacrypt.ErrConflict}},
		{"ErrRotateConflict", keystore.ErrRotateConflict, []error{dynacrypt.ErrConflict}},
		{"ErrInvalidRecord", keystore.ErrInvalidRecord, []error{dynacrypt.ErrIntegrity}},
		{"ErrBranchKeyNotFound", keystore.ErrBranchKeyNotFound, []error{dynacrypt.ErrKeyGone}},
	} {
		for _, kind := range all {
			want := false
			for _, k := range c.is {
				want = want || k == kind
			}
			if got := errors.Is(c.err, kind); got != want {
				t.Errorf("errors.Is(%s, %v) = %v, want %v", c.name, kind, got, want)
			}
		}
	}
}
