package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/walkcheckpoint"
)

// walk is the re-encryption walk of Store.Reencrypt and Items.Reencrypt:
// parallel Scan segments (or a Query of one tenant's partition), each item
// rewritten if needed, progress and a checkpoint after every page.
func (r *rewriter) walk(ctx context.Context, opts ReencryptOptions) (ReencryptProgress, error) {
	if !r.codec.seals() {
		return ReencryptProgress{}, errors.New("re-encryption needs a Cipher")
	}
	scope, err := r.scopeOf(opts.Tenant)
	if err != nil {
		return ReencryptProgress{}, err
	}
	segments, err := segmentsOf(opts, scope)
	if err != nil {
		return ReencryptProgress{}, err
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	n := segments.last - segments.first + 1
	w := &walkState{opts: opts, scope: scope, segments: segments, starts: make([]map[string]types.AttributeValue, n), done: make([]bool, n)}
	// Refused before any request, a KMS request included.
	if opts.Checkpoint != "" {
		if err := w.resume(opts.Checkpoint); err != nil {
			return ReencryptProgress{}, err
		}
	}
	// A Cipher that learns its current key from its key service (a
	// KMSCipher configured by alias) tells current items only once it has
	// wrapped under that key: make the write root the walk needs anyway.
	// (A tenant Store's Cipher learns each tenant's key as it rewrites.)
	if r.current != nil && r.codec.tenantAttr == "" && !r.codec.writesFormat {
		if r.fresh != nil {
			if err := r.fresh.refresh(ctx, ""); err != nil {
				return ReencryptProgress{}, fmt.Errorf("reading the current key: %w", err)
			}
		}
		if _, err := r.codec.ring.ForWrite(ctx, ""); err != nil {
			return ReencryptProgress{}, fmt.Errorf("wrapping root key: %w", err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		if w.done[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.walkSegment(ctx, w, i)
		}()
	}
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = ctx.Err()
	}
	return w.progress, w.err
}

// walkState is the shared state of a walk's segments.
type walkState struct {
	opts     ReencryptOptions
	scope    walkScope
	segments segmentRange // the segments walked; starts and done hold one entry each, from the first on
	mu       sync.Mutex
	progress ReencryptProgress
	starts   []map[string]types.AttributeValue // per segment: where to go on
	done     []bool
	err      error // the first failure
}

// walkSegment walks segment w.segments.first+seg to its end, or until ctx
// is done.
func (r *rewriter) walkSegment(ctx context.Context, w *walkState, seg int) {
	total, segment, limit := int32(w.segments.total), int32(w.segments.first+seg), int32(min(w.opts.PageSize, 1<<30))
	w.mu.Lock()
	start := w.starts[seg]
	w.mu.Unlock()
	// After a page with a failure the checkpoint stays before it, so that a
	// resumed walk tries its items again.
	frozen := false
	for ctx.Err() == nil {
		items, next, err := r.read(ctx, w.scope, segment, total, limit, start)
		if err != nil {
			w.fail(err)
			return
		}
		var page ReencryptProgress
		for _, raw := range items {
			page.Scanned++
			promoted, rewritten, err := r.reencryptItem(ctx, raw)
			switch {
			case err != nil:
				page.Failed++
				w.fail(err)
				if w.opts.Failed != nil {
					w.opts.Failed(r.codec.keyOf(raw), err)
				}
			case rewritten:
				page.Rewritten++
			default:
				page.Skipped++
			}
			if promoted {
				page.Promoted++
				if w.opts.Promoted != nil {
					w.opts.Promoted(r.codec.keyOf(raw))
				}
			}
		}
		frozen = frozen || page.Failed > 0 || ctx.Err() != nil
		start = next
		w.report(seg, page, start, !frozen)
		if start == nil {
			return
		}
	}
}

func (w *walkState) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// report adds a finished page to the counts and, with advance, moves the
// segment's checkpoint past it.
func (w *walkState) report(seg int, page ReencryptProgress, next map[string]types.AttributeValue, advance bool) {
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

func (w *walkState) checkpoint() string {
	st := walkcheckpoint.State{Tenant: w.scope.tenant, Segments: w.segments.total, First: w.segments.first,
		Done: w.done, Starts: make([][]byte, len(w.starts))}
	for i, start := range w.starts {
		if start != nil {
			st.Starts[i], _ = canonical.Append(nil, &types.AttributeValueMemberM{Value: start})
		}
	}
	return st.Encode()
}

// resume sets the walk's segments where checkpoint says, if it is of the
// same walk: of the same tenant and segments. Resumed by another share,
// or with another total, it would count as done segments no walk read.
func (w *walkState) resume(checkpoint string) error {
	st, err := walkcheckpoint.Decode(checkpoint)
	if err != nil {
		return err
	}
	if st.Tenant != w.scope.tenant {
		return fmt.Errorf("checkpoint is from a walk of %s, not of %s: it would skip what that walk did", walkOf(st.Tenant), walkOf(w.scope.tenant))
	}
	if got := (segmentRange{st.First, st.Last(), st.Total()}); got != w.segments {
		return fmt.Errorf("checkpoint is of %s, this walk is of %s: each share resumes from its own checkpoint", got, w.segments)
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

// walkOf names what a walk of tenant reads, for errors.
func walkOf(tenant string) string {
	if tenant == "" {
		return "the whole table"
	}
	return fmt.Sprintf("tenant %q", tenant)
}
