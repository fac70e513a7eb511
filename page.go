package dynacrypt

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// Page is one page of items and the cursor of the next.
type Page[T any] struct {
	Items []*T
	// Next resumes right after the last item of this page (or the last
	// item reported, with ReportFailures); it is empty when there are no
	// more items. A non-empty Next leads to an empty page only when a
	// Filter removed every item after this page's, or every item after
	// them was reported.
	Next string
}

// QueryPage returns up to size items of a Query, starting after cursor (""
// for the first page), for APIs that hand out pages. The cursor is opaque,
// URL-safe and signed: it works in another process with the same table and
// Cipher, shows no encrypted data (it holds the last item's key attributes),
// and an edited or forged cursor, or one from another query, gives
// ErrInvalidCursor (a LookupPage cursor is of another query for a probe of
// other values, even values with the same beacon). Paging needs a Cipher,
// whose root keys sign the cursors.
//
// With ReportFailures, an item that fails takes its place in the page as
// the stored item it is, so that a page holds size items and reports in
// all, and a page of forged items costs no more than one of good ones; the
// reports go out once the page is made, before the call returns. A cursor
// of such a listing resumes no listing without ReportFailures, nor the
// reverse: it may stand past an item that failed, which a listing that
// ends at such items would otherwise never see.
func (s *Store[T]) QueryPage(ctx context.Context, key T, cursor string, size int, opts ...QueryOption) (*Page[T], error) {
	r, err := s.queryRequest(&key, queryConfigOf(opts))
	if err != nil {
		return nil, s.fail("Query", err)
	}
	return s.page(ctx, r, cursor, size)
}

// ScanPage is QueryPage for a Scan (Segment may be used, Parallel not).
func (s *Store[T]) ScanPage(ctx context.Context, cursor string, size int, opts ...QueryOption) (*Page[T], error) {
	qc := queryConfigOf(opts)
	if qc.parallel != 0 {
		return nil, s.fail("Scan", errors.New("Parallel does not apply to ScanPage"))
	}
	r, err := s.scanRequest(qc)
	if err != nil {
		return nil, s.fail("Scan", err)
	}
	return s.page(ctx, r, cursor, size)
}

func (s *Store[T]) page(ctx context.Context, r *request, cursor string, size int) (*Page[T], error) {
	if s.codec.ring == nil {
		return nil, s.fail(r.op, errors.New("paging needs a Cipher to sign cursors"))
	}
	if size <= 0 {
		return nil, s.fail(r.op, fmt.Errorf("page size %d: must be positive", size))
	}
	var start map[string]types.AttributeValue
	if cursor != "" {
		var err error
		if start, err = s.openCursor(ctx, cursor, r); err != nil {
			return nil, s.fail(r.op, err)
		}
	}
	page := &Page[T]{Items: make([]*T, 0, size)}
	// With ReportFailures, a reported item takes its place in the page as
	// the item read it is: a page is size items and reports. The reports
	// go out once the page is made, so that a page that fails reports
	// nothing.
	var reports []*ItemError
	taken := 0
	done := func(next map[string]types.AttributeValue) (*Page[T], error) {
		if next != nil {
			var err error
			if page.Next, err = s.sealCursor(ctx, next, r); err != nil {
				return nil, s.fail(r.op, err)
			}
		}
		for _, report := range reports {
			r.qc.report(report)
		}
		return page, nil
	}
	for {
		// One item more than the page needs tells, without another
		// request, whether the page ends the listing.
		items, next, err := r.fetch(ctx, s.db, start, size-taken+1)
		if err != nil {
			return nil, s.fail(r.op, err)
		}
		var last map[string]types.AttributeValue // start key after the last item taken
		for _, av := range items {
			if taken == size {
				return done(last)
			}
			last = s.startKeyAfter(av, r.qc.index)
			item, err := s.decodeMatch(ctx, av, r)
			switch {
			case err != nil:
				report := s.itemFailure(r, av, err)
				if report == nil {
					return nil, s.fail(r.op, err)
				}
				reports = append(reports, report)
				taken++
			case item != nil:
				page.Items = append(page.Items, item)
				taken++
			}
		}
		if next == nil {
			return done(nil)
		}
		if taken == size {
			// DynamoDB stopped on a filter or its 1 MB limit: there may
			// be more, after the items it evaluated.
			return done(next)
		}
		start = next
	}
}

// startKeyAfter returns the start key that resumes a request right after a
// stored item: its table keys and, on an index, the index's keys, as the
// LastEvaluatedKey DynamoDB would give.
func (s *Store[T]) startKeyAfter(item map[string]types.AttributeValue, index string) map[string]types.AttributeValue {
	key := s.codec.keyOf(item)
	if index != "" {
		for _, f := range s.indexes[index] {
			key[f.Attr] = item[f.Attr]
		}
	}
	return key
}

// sealCursor encodes a start key as a cursor of request r: the signed part
// of a header (format version, suite, salt, wrapped root key), the expiry
// (Unix seconds, 8 bytes big endian), the canonical encoding of the start
// key as a map, then an HMAC-SHA-256 over all of it. The HMAC key derives
// from the root key, the salt, the logical table name and the request
// (cursorInfo), as item keys do.
func (s *Store[T]) sealCursor(ctx context.Context, start map[string]types.AttributeValue, r *request) (string, error) {
	root, err := s.codec.ring.ForWrite(ctx, "")
	if err != nil {
		return "", fmt.Errorf("wrapping root key: %w", err)
	}
	var salt [header.SaltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	buf, err := header.AppendSigned(nil, header.SuiteV1, salt[:], root.Wrapped())
	if err != nil {
		return "", err
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(s.now().Add(s.cfg.cursorTTL).Unix()))
	if buf, err = canonical.Append(buf, &types.AttributeValueMemberM{Value: start}); err != nil {
		return "", err
	}
	info, err := s.cursorInfo(root, r)
	if err != nil {
		return "", err
	}
	keys, err := derive(root, salt[:], info)
	if err != nil {
		return "", err
	}
	defer keys.Release()
	buf = append(buf, keys.MAC(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// openCursor checks a cursor and returns its start key. An expired cursor is
// refused before its root key is unwrapped; the expiry is checked again, as
// signed, after the HMAC.
func (s *Store[T]) openCursor(ctx context.Context, cursor string, r *request) (map[string]types.AttributeValue, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidCursor, why) }
	// Strict: another spelling of the same bytes is not the cursor we gave.
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return nil, bad("not base64url")
	}
	if len(b) < header.MACSize {
		return nil, bad("malformed")
	}
	signed, mac := b[:len(b)-header.MACSize], b[len(b)-header.MACSize:]
	h, rest, err := header.ParseSigned(signed)
	if err != nil || len(rest) < 8 {
		return nil, bad("malformed")
	}
	expires, startKey := time.Unix(int64(binary.BigEndian.Uint64(rest)), 0), rest[8:]
	if !s.now().Before(expires) {
		return nil, bad("expired")
	}
	root, hold, err := s.codec.ring.ForRead(ctx, h.Wrapped, "", keyring.Cursors)
	if err != nil {
		if errors.Is(err, ErrIntegrity) {
			return nil, bad("its key does not unwrap")
		}
		return nil, fmt.Errorf("unwrapping cursor key: %w", err)
	}
	info, err := s.cursorInfo(root, r)
	var keys *itemcrypt.Keys
	if err == nil {
		keys, err = derive(root, h.Salt, info)
	}
	if err != nil {
		hold.Settle(true)
		return nil, err
	}
	defer keys.Release()
	genuine := hmac.Equal(keys.MAC(signed), mac)
	hold.Settle(genuine) // a genuine wrapped key in a forged cursor uses its place up
	if !genuine {
		return nil, bad("signature does not match: edited, or made for another query")
	}
	v, err := canonical.Decode(startKey)
	m, ok := v.(*types.AttributeValueMemberM)
	if err != nil || !ok {
		return nil, bad("malformed start key")
	}
	return m.Value, nil
}

// cursorInfo returns the HKDF info of the keys of r's cursors under root:
// r's fingerprint and, for a Lookup, the tag of its probe's values under
// root, so that a cursor resumes only a lookup of the same values, not of
// others that share their beacon. The tag is keyed: the values never meet
// anything a cursor holder could test guesses against.
func (s *Store[T]) cursorInfo(root *keyring.Root, r *request) ([]byte, error) {
	fp := r.fingerprint
	if r.probe != nil {
		tag, err := itemcrypt.ProbeTag(root.Key(), s.codec.logical, r.probe)
		runtime.KeepAlive(root) // its key material is zeroed once unreachable
		if err != nil {
			return nil, err
		}
		fp = append(slices.Clip(fp), tag...)
	}
	return itemcrypt.CursorInfo(s.codec.logical, fp), nil
}
