package dynacrypt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
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
	n := opts.Segments
	if n <= 0 {
		n = 4
	}
	if scope.query {
		n = 1 // a Query has no segments
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	w := &walkState{opts: opts, scope: scope, starts: make([]map[string]types.AttributeValue, n), done: make([]bool, n)}
	if opts.Checkpoint != "" {
		if err := w.resume(opts.Checkpoint); err != nil {
			return ReencryptProgress{}, err
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
			r.walkSegment(ctx, w, seg)
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
	mu       sync.Mutex
	progress ReencryptProgress
	starts   []map[string]types.AttributeValue // per segment: where to go on
	done     []bool
	err      error // the first failure
}

func (r *rewriter) walkSegment(ctx context.Context, w *walkState, seg int) {
	total, segment, limit := int32(len(w.starts)), int32(seg), int32(min(w.opts.PageSize, 1<<30))
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

// checkpointState is the JSON inside a checkpoint: the tenant walked ("":
// every item), and per segment, whether it is done and the canonical
// encoding of its next start key.
type checkpointState struct {
	Tenant string   `json:"tenant,omitempty"`
	Done   []bool   `json:"done"`
	Starts [][]byte `json:"starts"`
}

func (w *walkState) checkpoint() string {
	st := checkpointState{Tenant: w.scope.tenant, Done: w.done, Starts: make([][]byte, len(w.starts))}
	for i, start := range w.starts {
		if start != nil {
			st.Starts[i], _ = canonical.Append(nil, &types.AttributeValueMemberM{Value: start})
		}
	}
	b, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (w *walkState) resume(checkpoint string) error {
	var st checkpointState
	b, err := base64.RawURLEncoding.DecodeString(checkpoint)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil && st.Tenant != w.scope.tenant {
		return fmt.Errorf("checkpoint is from a walk of %s, not of %s: it would skip what that walk did", walkOf(st.Tenant), walkOf(w.scope.tenant))
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

// walkOf names what a walk of tenant reads, for errors.
func walkOf(tenant string) string {
	if tenant == "" {
		return "the whole table"
	}
	return fmt.Sprintf("tenant %q", tenant)
}
