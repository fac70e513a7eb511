package dynacrypt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
)

// ReencryptOptions configure Store.Reencrypt.
type ReencryptOptions struct {
	// Segments is how many parallel Scan segments walk the table (4 if 0).
	Segments int
	// PageSize is how many items each Scan request reads (100 if 0): the
	// grain of progress reports and checkpoints.
	PageSize int
	// Checkpoint resumes an interrupted walk from the Checkpoint of its last
	// progress report. It must come from a walk with the same Segments.
	Checkpoint string
	// Progress, if set, is called after each page of each segment, one call
	// at a time.
	Progress func(ReencryptProgress)
	// Promoted, if set, is called with the key attributes of every legacy
	// item the walk wrote back in the current format (see WithLegacyKMS),
	// so that the promotions can be logged and checked against the
	// manifest's source. Calls may come from several goroutines at once.
	Promoted func(key map[string]types.AttributeValue)
}

// ReencryptProgress counts a walk's items so far.
type ReencryptProgress struct {
	Scanned   int64 // items read
	Rewritten int64 // items written back in the current format, under the current key
	Promoted  int64 // of those, legacy items (see ReencryptOptions.Promoted)
	Skipped   int64 // items already current, or deleted meanwhile
	Failed    int64 // items that could not be rewritten; see the error
	// Checkpoint resumes the walk after every item counted here.
	Checkpoint string
}

// rewriteAttempts bounds how often Reencrypt retries an item that keeps
// changing under it.
const rewriteAttempts = 10

// Reencrypt walks the whole table with a parallel Scan and rewrites every
// item that needs it: items that lack a beacon declared after they were
// written, items of the legacy per-field KMS format that the
// manifest lists (with [WithLegacyKMS] and [LegacyManifest]; with
// [LegacyUnverified] it refuses to run), and items whose root key is wrapped
// under a key other than the Cipher's current one (for a Cipher that is a
// [CurrentKeyChecker], such as a [KMSCipher] with previous keys). Each item is decrypted and re-encrypted as stored, every
// attribute kept, with a version attribute incremented, and written on
// condition that it has not changed since it was read: a concurrent change is
// never overwritten; the item is read again and rewritten if still needed.
//
// The walk is idempotent, so running it again after an interruption finishes
// the job; passing the last progress Checkpoint skips what was done. Failed
// items are counted and the walk goes on; the error returned then describes
// the first failure.
func (s *Store[T]) Reencrypt(ctx context.Context, opts ReencryptOptions) (ReencryptProgress, error) {
	if s.codec.ring == nil {
		return ReencryptProgress{}, s.fail("Reencrypt", errors.New("re-encryption needs a Cipher"))
	}
	if s.codec.legacy != nil && s.codec.legacy.manifest == nil {
		return ReencryptProgress{}, s.fail("Reencrypt", errUnverifiedLegacy)
	}
	// A Cipher that learns its current key from its key service (a
	// KMSCipher configured by alias) tells current items only once it has
	// wrapped under that key: make the write root the walk needs anyway.
	// (A tenant Store's Cipher learns each tenant's key as it rewrites.)
	if _, ok := s.cfg.cipher.(CurrentKeyChecker); ok && s.cfg.tenantAttr == "" {
		if _, err := s.codec.ring.ForWrite(ctx, ""); err != nil {
			return ReencryptProgress{}, s.fail("Reencrypt", fmt.Errorf("wrapping root key: %w", err))
		}
	}
	n := opts.Segments
	if n <= 0 {
		n = 4
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	w := &walk{opts: opts, starts: make([]map[string]types.AttributeValue, n), done: make([]bool, n)}
	if opts.Checkpoint != "" {
		if err := w.resume(opts.Checkpoint); err != nil {
			return ReencryptProgress{}, s.fail("Reencrypt", err)
		}
	}
	var wg sync.WaitGroup
	for seg := 0; seg < n; seg++ {
		if w.done[seg] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.walkSegment(ctx, w, seg)
		}()
	}
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = ctx.Err()
	}
	if w.err != nil {
		return w.progress, s.fail("Reencrypt", w.err)
	}
	return w.progress, nil
}

// walk is the shared state of a Reencrypt call.
type walk struct {
	opts     ReencryptOptions
	mu       sync.Mutex
	progress ReencryptProgress
	starts   []map[string]types.AttributeValue // per segment: where to go on
	done     []bool
	err      error // the first failure
}

func (s *Store[T]) walkSegment(ctx context.Context, w *walk, seg int) {
	total, segment, limit := int32(len(w.starts)), int32(seg), int32(min(w.opts.PageSize, 1<<30))
	w.mu.Lock()
	start := w.starts[seg]
	w.mu.Unlock()
	// After a page with a failure the checkpoint stays before it, so that a
	// resumed walk tries its items again.
	frozen := false
	for ctx.Err() == nil {
		out, err := s.db.Scan(ctx, &dynamodb.ScanInput{
			TableName: &s.table, Segment: &segment, TotalSegments: &total,
			ExclusiveStartKey: start, ConsistentRead: aws.Bool(true), Limit: &limit,
		})
		if err != nil {
			w.fail(err)
			return
		}
		var page ReencryptProgress
		for _, raw := range out.Items {
			page.Scanned++
			promoted, rewritten, err := s.reencryptItem(ctx, raw)
			switch {
			case err != nil:
				page.Failed++
				w.fail(err)
			case rewritten:
				page.Rewritten++
			default:
				page.Skipped++
			}
			if promoted {
				page.Promoted++
				if w.opts.Promoted != nil {
					w.opts.Promoted(s.codec.keyOf(raw))
				}
			}
		}
		frozen = frozen || page.Failed > 0 || ctx.Err() != nil
		start = out.LastEvaluatedKey
		w.report(seg, page, start, !frozen)
		if start == nil {
			return
		}
	}
}

func (w *walk) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// report adds a finished page to the counts and, with advance, moves the
// segment's checkpoint past it.
func (w *walk) report(seg int, page ReencryptProgress, next map[string]types.AttributeValue, advance bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.progress.Scanned += page.Scanned
	w.progress.Rewritten += page.Rewritten
	w.progress.Promoted += page.Promoted
	w.progress.Skipped += page.Skipped
	w.progress.Failed += page.Failed
	if advance {
		w.starts[seg], w.done[seg] = next, next == nil
		w.progress.Checkpoint = w.checkpoint()
	}
	if w.opts.Progress != nil {
		w.opts.Progress(w.progress)
	}
}

// checkpointState is the JSON inside a checkpoint: per segment, whether it
// is done and the canonical encoding of its next start key.
type checkpointState struct {
	Done   []bool   `json:"done"`
	Starts [][]byte `json:"starts"`
}

func (w *walk) checkpoint() string {
	st := checkpointState{Done: w.done, Starts: make([][]byte, len(w.starts))}
	for i, start := range w.starts {
		if start != nil {
			st.Starts[i], _ = canonical.Append(nil, &types.AttributeValueMemberM{Value: start})
		}
	}
	b, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (w *walk) resume(checkpoint string) error {
	var st checkpointState
	b, err := base64.RawURLEncoding.DecodeString(checkpoint)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || len(st.Done) != len(w.done) || len(st.Starts) != len(w.starts) {
		return fmt.Errorf("checkpoint is not from a walk of %d segments", len(w.done))
	}
	copy(w.done, st.Done)
	for i, enc := range st.Starts {
		if enc == nil {
			continue
		}
		v, err := canonical.Decode(enc)
		m, ok := v.(*types.AttributeValueMemberM)
		if err != nil || !ok {
			return errors.New("checkpoint is malformed")
		}
		w.starts[i] = m.Value
	}
	return nil
}

// needsRewrite reports whether a stored item is legacy or wrapped under an
// older key.
func (s *Store[T]) needsRewrite(raw map[string]types.AttributeValue) (bool, error) {
	if s.codec.isLegacy(raw) {
		return true, nil
	}
	hv, ok := raw[s.codec.headerAttr].(*types.AttributeValueMemberB)
	if !ok {
		return false, integrity("item has no %s header", s.codec.headerAttr)
	}
	h, err := header.Parse(hv.Value)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if s.codec.beacons.missing(raw) {
		return true, nil // a beacon declared after the item was written
	}
	checker, ok := s.cfg.cipher.(CurrentKeyChecker)
	return ok && !checker.UnderCurrentKey(h.Wrapped), nil
}

// reencryptItem rewrites one stored item if it needs it, retrying while
// concurrent writers change it, and says whether it promoted a legacy item.
func (s *Store[T]) reencryptItem(ctx context.Context, raw map[string]types.AttributeValue) (promoted, rewritten bool, err error) {
	for attempt := 1; ; attempt++ {
		needed, err := s.needsRewrite(raw)
		if err != nil || !needed {
			return false, false, err
		}
		legacy := s.codec.isLegacy(raw)
		err = s.rewrite(ctx, raw)
		if !errors.Is(err, ErrConflict) {
			return legacy && err == nil, err == nil, err
		}
		if attempt == rewriteAttempts {
			return false, false, fmt.Errorf("item changed %d times while being re-encrypted: %w", attempt, err)
		}
		// Changed meanwhile: read it again.
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: s.codec.keyOf(raw), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return false, false, err
		}
		if out.Item == nil {
			return false, false, nil // deleted meanwhile
		}
		raw = out.Item
	}
}

// rewrite decrypts a stored item and writes it back under the current root
// key, on condition that it is unchanged.
func (s *Store[T]) rewrite(ctx context.Context, raw map[string]types.AttributeValue) error {
	read := &readState{header: raw[s.codec.headerAttr]}
	if s.codec.isLegacy(raw) {
		read.legacy = raw
	}
	av := maps.Clone(raw)
	if err := s.codec.open(ctx, av, false); err != nil {
		return err
	}
	if s.version != nil {
		v := uint64(0)
		if n, ok := av[s.version.Attr].(*types.AttributeValueMemberN); ok {
			var err error
			if v, err = strconv.ParseUint(n.Value, 10, 64); err != nil {
				return fmt.Errorf("version %q: %w", n.Value, err)
			}
		}
		av[s.version.Attr] = versionValue(v + 1)
	}
	if err := s.codec.seal(ctx, av); err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: av}
	var cond condition
	read.condition(s.codec.headerAttr, &cond)
	cond.apply(&in.ConditionExpression, &in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	if _, err := s.db.PutItem(ctx, in); err != nil {
		return s.conflict(ctx, err, changed, nil)
	}
	return nil
}
