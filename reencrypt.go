package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/header"
)

// ReencryptOptions configure Store.Reencrypt and Items.Reencrypt.
type ReencryptOptions struct {
	// Segments is how many parallel Scan segments walk the table (4 if 0,
	// at most 1,000,000): a walk reads its segments at once, each a Scan
	// of its own paging through its part of the table.
	Segments int
	// Share, if set, limits the walk to some of the Segments, so that
	// processes on several machines walk the table once between them,
	// each a share (see SegmentShare), each resumable from its own
	// checkpoint. It needs Segments, the same in every share. A walk of one
	// tenant that Queries its partition (see Tenant) has no segments, and
	// refuses a share.
	Share *SegmentShare
	// PageSize is how many items each Scan request reads (100 if 0): the
	// grain of progress reports and checkpoints.
	PageSize int
	// Checkpoint resumes an interrupted walk from the Checkpoint of its last
	// progress report. It must come from a walk with the same Segments and
	// Share (and Tenant): each share resumes from its own.
	Checkpoint string
	// Progress, if set, is called after each page of each segment, one call
	// at a time.
	Progress func(ReencryptProgress)
	// Promoted, if set, is called with the key attributes of every item
	// without a header (a legacy or a plaintext item: see WithLegacyKMS and
	// WithPlaintextItems) the walk wrote back in the current format, so
	// that the promotions can be logged and checked against the manifest's
	// source. Calls may come from several goroutines at once.
	Promoted func(key map[string]types.AttributeValue)
	// Failed, if set, is called with the key attributes of every item the
	// walk could not rewrite, and why, so that each can be looked at. The
	// walk goes on; the error Reencrypt returns describes the first. Calls
	// may come from several goroutines at once.
	Failed func(key map[string]types.AttributeValue, err error)
	// All rewrites every item the walk reads, not only those that need it:
	// each gets the walker's current root key, a fresh salt and fresh
	// ciphertexts. It is for a suspected compromise of root keys (or of the
	// current wrapping key, once rotated), which a walk that skips items
	// under the current key would leave in use. For root keys no earlier
	// write used, walk with a Store or Items made for the walk: a new one
	// makes its root key on its first write. A resumed walk with All skips
	// only what its Checkpoint says was done.
	All bool
	// Tenant, if set, limits the walk to the items of one tenant, for a
	// Store or Items declared WithTenantAttribute: after one tenant's
	// branch key is rotated, say, the other tenants' items are left as
	// they are, their version attributes (their clients' ETags) too.
	// Where the tenant attribute is the table's partition key, the walk
	// Queries that partition, one page at a time (Segments does not
	// apply); otherwise it Scans the whole table, as a walk of every
	// tenant does, with a filter on the tenant attribute, so that it
	// reads (and DynamoDB bills) every item but rewrites only the
	// tenant's. Its checkpoints resume a walk of the same tenant only, and
	// a whole-table walk's checkpoints resume no walk of a tenant.
	Tenant string
}

// ReencryptProgress counts a walk's items so far.
type ReencryptProgress struct {
	Scanned   int64 // items read
	Rewritten int64 // items written back in the current format, under the current key
	Promoted  int64 // of those, items without a header (see ReencryptOptions.Promoted)
	Skipped   int64 // items already current, or deleted meanwhile
	Failed    int64 // items that could not be rewritten; see the error
	// Checkpoint resumes the walk after every item counted here.
	Checkpoint string
}

// rewriteAttempts bounds how often Reencrypt retries an item that keeps
// changing under it.
const rewriteAttempts = 10

// Reencrypt walks the whole table with a parallel Scan (or one tenant's
// items: see ReencryptOptions.Tenant; or a share of the Scan's segments,
// one of several processes': see ReencryptOptions.Share) and rewrites every
// item that needs it: items that lack a beacon declared after they were
// written, items without a header that the manifest lists (legacy
// per-field KMS items with [WithLegacyKMS], plaintext items with
// [WithPlaintextItems], and [LegacyManifest]; with [LegacyUnverified] it
// refuses to run, with ErrNotVouched), and items whose root key is wrapped
// under a key other than the Cipher's current one (for a Cipher that is a
// [CurrentKeyChecker], such as a [KMSCipher] with previous keys), and items
// in another [Suite] than the Store writes (so a walk moves a table written
// before Suite2 to it), and items of the other item format when the Store
// has one ([WithItemFormat]: a Store that writes DB-ESDK's format rewrites
// dynacrypt's items in it, and the reverse, and DB-ESDK items of another
// suite than it writes); with ReencryptOptions.All, every item. Each item is decrypted and re-encrypted
// as stored, every attribute kept, with a version attribute incremented,
// and written on condition that it has not changed since it was read: a
// concurrent change is never overwritten; the item is read again and
// rewritten if still needed. A rewritten item's version is a new one, so
// clients that hold the old (as an ETag, say) find their copy stale.
//
// An item with a binary attribute that is not declared encrypted but opens
// as an encrypted one (its encrypt tag was dropped, say) fails and is left
// as it is: rewritten, it would keep a ciphertext whose root key it loses.
//
// The walk is idempotent, so running it again after an interruption finishes
// the job; passing the last progress Checkpoint skips what was done. Failed
// items are counted and the walk goes on; the error returned then describes
// the first failure.
func (s *Store[T]) Reencrypt(ctx context.Context, opts ReencryptOptions) (ReencryptProgress, error) {
	if err := s.codec.checkWritesBack(); err != nil {
		return ReencryptProgress{}, s.fail("Reencrypt", err)
	}
	// The walk refuses items with an encrypted attribute T does not
	// declare; the Store's reads do not look for them.
	codec := s.codec
	codec.checkUndeclared = true
	r := &rewriter{db: s.db, table: s.table, codec: &codec, current: underCurrentKey(s.cfg.cipher),
		fresh: newFreshKeys(s.cfg.cipher, &codec), all: opts.All}
	if s.version != nil {
		r.versionAttr = s.version.Attr
	}
	progress, err := r.walk(ctx, opts)
	if err != nil {
		return progress, s.fail("Reencrypt", err)
	}
	return progress, nil
}

// Reencrypt is Store.Reencrypt for a table without a Go type, through db:
// it rewrites every item whose root key is wrapped under a key other than
// the Cipher's current one or that is in another [Suite] or item format
// ([WithItemFormat]) than it writes, the items without a header its
// manifest lists, or
// with ReencryptOptions.All every item, and
// increments the version attribute if WithVersion names one. Items keeps no
// client, so the walk is given one. Its errors are OpErrors of operation
// "Reencrypt". An attribute left out of WithEncryptedAttributes is caught:
// the items it is encrypted in fail and stay as they are.
func (it *Items) Reencrypt(ctx context.Context, db DB, opts ReencryptOptions) (ReencryptProgress, error) {
	if db == nil || isNilPointer(db) {
		return ReencryptProgress{}, newOpError("Reencrypt", it.table, errors.New("nil DB"))
	}
	if err := it.codec.checkWritesBack(); err != nil {
		return ReencryptProgress{}, newOpError("Reencrypt", it.table, err)
	}
	r := &rewriter{db: db, table: it.table, codec: &it.codec, current: underCurrentKey(it.cipher),
		fresh: newFreshKeys(it.cipher, &it.codec), versionAttr: it.version, all: opts.All}
	progress, err := r.walk(ctx, opts)
	if err != nil {
		return progress, newOpError("Reencrypt", it.table, err)
	}
	return progress, nil
}

// rewriter rewrites the stored items of one table in the current format,
// under the current key: what a re-encryption walk needs of a Store or of
// Items.
type rewriter struct {
	db          DB
	table       string
	codec       *codec
	current     func(wrapped []byte) bool // the Cipher's UnderCurrentKey; nil if it has none
	fresh       *freshKeys                // nil if the Cipher does not cache its current key
	versionAttr string                    // incremented by every rewrite; "" for none
	all         bool                      // rewrite every item, needed or not
}

// needsRewrite reports whether a stored item is legacy, lacks a beacon, is
// in another suite than the codec writes, or is wrapped under an older key;
// with all, whether it is an item at all.
func (r *rewriter) needsRewrite(raw map[string]types.AttributeValue) (bool, error) {
	if r.codec.isLegacy(raw) {
		return true, nil
	}
	if r.codec.isFormat(raw) {
		if !r.codec.writesFormat || r.all || r.codec.beacons.missing(raw) {
			return true, nil
		}
		outdated, err := r.codec.format.Outdated(raw)
		if err != nil {
			return false, fmt.Errorf("%w: %w", ErrIntegrity, err)
		}
		return outdated, nil
	}
	if r.codec.writesFormat {
		return true, nil
	}
	hv, ok := raw[r.codec.headerAttr].(*types.AttributeValueMemberB)
	if !ok {
		return false, integrity("item has no %s header", r.codec.headerAttr)
	}
	h, err := header.Parse(hv.Value)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if r.all || r.codec.beacons.missing(raw) || h.Suite != r.codec.suite {
		return true, nil
	}
	return r.current != nil && !r.current(h.Wrapped), nil
}

// reencryptItem rewrites one stored item if it needs it, retrying while
// concurrent writers change it, and says whether it promoted a legacy item.
func (r *rewriter) reencryptItem(ctx context.Context, raw map[string]types.AttributeValue) (promoted, rewritten bool, err error) {
	for attempt := 1; ; attempt++ {
		needed, err := r.needsRewrite(raw)
		if err == nil && !needed {
			// Current as the Cipher cached it: confirm with the key as it
			// is now.
			if needed, err = r.neededNow(ctx, raw); err != nil {
				return false, false, fmt.Errorf("reading the current key: %w", err)
			}
		}
		if err != nil || !needed {
			return false, false, err
		}
		legacy := r.codec.isLegacy(raw)
		rewritten, err := r.rewrite(ctx, raw)
		if !errors.Is(err, ErrConflict) {
			return legacy && rewritten, rewritten, err
		}
		if attempt == rewriteAttempts {
			return false, false, fmt.Errorf("item changed %d times while being re-encrypted: %w", attempt, err)
		}
		// Changed meanwhile: read it again.
		out, err := r.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &r.table, Key: r.codec.keyOf(raw), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return false, false, err
		}
		if out.Item == nil {
			return false, false, nil // deleted meanwhile
		}
		raw = out.Item
	}
}

// neededNow has the Cipher read the current key of raw's tenant afresh, if
// this walk has not yet, and says again whether raw needs a rewrite.
func (r *rewriter) neededNow(ctx context.Context, raw map[string]types.AttributeValue) (bool, error) {
	tenant, err := r.codec.tenantOf(raw)
	if r.fresh == nil || err != nil || r.fresh.refreshed(tenant) {
		return r.needsRewrite(raw)
	}
	if err := r.fresh.refresh(ctx, tenant); err != nil {
		return false, err
	}
	return r.needsRewrite(raw)
}

// rewrite decrypts a stored item and writes it back under the current root
// key, on condition that it is unchanged, and says whether it did: an item
// found current once the current key is read afresh is left as it is. A
// failed condition wraps ErrConflict.
func (r *rewriter) rewrite(ctx context.Context, raw map[string]types.AttributeValue) (bool, error) {
	read := r.codec.readStateOf(raw)
	av := maps.Clone(raw)
	if err := r.codec.open(ctx, av, false); err != nil { // refuses undeclared encrypted attributes too
		return false, err
	}
	if r.fresh != nil {
		// The item opened: its tenant's key exists, and may be read afresh.
		if needed, err := r.neededNow(ctx, raw); err != nil || !needed {
			return false, err
		}
		if hv, ok := raw[r.codec.headerAttr].(*types.AttributeValueMemberB); ok && !r.codec.writesFormat {
			h, err := header.Parse(hv.Value)
			if err == nil {
				err = r.fresh.cipher.CheckRewrap(ctx, h.Wrapped)
			}
			if err != nil {
				return false, err
			}
		}
	}
	if r.versionAttr != "" {
		v := uint64(0)
		switch n := av[r.versionAttr].(type) {
		case nil: // unversioned until now
		case *types.AttributeValueMemberN:
			var err error
			if v, err = strconv.ParseUint(n.Value, 10, 64); err != nil {
				return false, fmt.Errorf("version attribute %q is not a whole number: %w", r.versionAttr, err)
			}
		default:
			return false, fmt.Errorf("version attribute %q holds a %T, not a number: is it the version?", r.versionAttr, n)
		}
		av[r.versionAttr] = versionValue(v + 1)
	}
	if err := r.codec.seal(ctx, av); err != nil {
		return false, err
	}
	in := &dynamodb.PutItemInput{TableName: &r.table, Item: av}
	var cond condition
	read.condition(&cond)
	cond.apply(&in.ConditionExpression, &in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	_, err := r.db.PutItem(ctx, in)
	return err == nil, conditionFailed(err)
}
