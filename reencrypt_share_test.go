package dynacrypt_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// writeCounts counts the items written, by id, over the walkers of a
// table, each with its own client.
type writeCounts struct {
	mu     sync.Mutex
	writes map[string]int
}

// writeCountingDB counts the successful PutItem requests sent through it,
// and the Scan and Query requests. It sends each PutItem to its end, the
// walk's context cancelled or not, so that a write DynamoDB made is never
// taken for one it did not.
type writeCountingDB struct {
	*dynamodb.Client
	counts *writeCounts
	reads  atomic.Int64
}

func (c *writeCountingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := c.Client.PutItem(context.WithoutCancel(ctx), in, opts...)
	if err == nil {
		id, _ := in.Item["id"].(*types.AttributeValueMemberS)
		c.counts.mu.Lock()
		c.counts.writes[id.Value]++
		c.counts.mu.Unlock()
	}
	return out, err
}

func (c *writeCountingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.reads.Add(1)
	return c.Client.Scan(ctx, in, opts...)
}

func (c *writeCountingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.reads.Add(1)
	return c.Client.Query(ctx, in, opts...)
}

// shareTable makes a table of n balances under key A, and returns a
// function that makes a walker to key B with a client of its own, as a
// process of its own has, writes counted in counts.
func shareTable(t *testing.T, n int, counts *writeCounts) func() (*dynacrypt.Store[Balance], *writeCountingDB) {
	t.Helper()
	db, table := usersTable(t)
	k, _ := testrig.KMS(t)
	opts := func(c dynacrypt.Cipher) []dynacrypt.Option {
		return []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c)}
	}
	underA := mustNew[Balance](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.KeyA))...)
	all := make([]*Balance, n)
	for i := range all {
		all[i] = &Balance{ID: userID(i), Owner: "owner-" + userID(i)}
	}
	if err := underA.BatchPut(context.Background(), all, dynacrypt.Overwrite()); err != nil {
		t.Fatal(err)
	}
	return func() (*dynacrypt.Store[Balance], *writeCountingDB) {
		k, _ := testrig.KMS(t)
		db := &writeCountingDB{Client: testrig.DynamoDB(t), counts: counts}
		return mustNew[Balance](t, db, table, opts(dynacrypt.NewKMSCipher(k, testrig.KeyB).WithPreviousKeys(testrig.KeyA))...), db
	}
}

// TestWalkSharesRewriteEveryItemOnce: four walkers, each with its own
// Store and client as a process on a machine of its own, each a quarter of
// 16 segments, walk a table between them: one is interrupted after its
// first page and resumed from its checkpoint. Every item is written once,
// no more, and reads under the new key; a second walk by four shares reads
// every item once (the shares neither overlap nor miss any) and rewrites
// nothing.
func TestWalkSharesRewriteEveryItemOnce(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 400
	}
	const segments, shares = 16, 4
	ctx := context.Background()
	counts := &writeCounts{writes: map[string]int{}}
	walker := shareTable(t, n, counts)
	share := func(i int) *dynacrypt.SegmentShare {
		return &dynacrypt.SegmentShare{First: i * segments / shares, Last: (i+1)*segments/shares - 1}
	}

	var rewritten atomic.Int64
	var wg sync.WaitGroup
	var checkpoint string // of share 1, interrupted
	for i := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store, _ := walker()
			walkCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			opts := dynacrypt.ReencryptOptions{Segments: segments, Share: share(i), PageSize: 10}
			if i == 1 {
				opts.Progress = func(p dynacrypt.ReencryptProgress) {
					if p.Checkpoint != "" && checkpoint == "" {
						checkpoint = p.Checkpoint
						cancel()
					}
				}
			}
			p, err := store.Reencrypt(walkCtx, opts)
			rewritten.Add(p.Rewritten)
			switch {
			case i == 1 && !errors.Is(err, context.Canceled):
				t.Errorf("share %d, interrupted: %+v, %v; want context.Canceled", i, p, err)
			case i != 1 && (err != nil || p.Failed != 0):
				t.Errorf("share %d: %+v, %v", i, p, err)
			}
		}()
	}
	wg.Wait()
	if checkpoint == "" {
		t.Fatal("share 1 reported no checkpoint")
	}
	store, _ := walker()
	p, err := store.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: segments, Share: share(1), PageSize: 10, Checkpoint: checkpoint})
	if err != nil || p.Failed != 0 || p.Scanned == 0 {
		t.Fatalf("share 1 resumed from its checkpoint: %+v, %v; want the rest of its quarter", p, err)
	}
	rewritten.Add(p.Rewritten)
	resumed := p.Scanned

	if len(counts.writes) != n || rewritten.Load() != int64(n) {
		t.Errorf("%d items written, %d rewrites counted by the walks; want %d", len(counts.writes), rewritten.Load(), n)
	}
	for id, w := range counts.writes {
		if w != 1 {
			t.Errorf("%s written %d times, want once", id, w)
		}
	}
	kmsClient, _ := testrig.KMS(t)
	reader := mustNew[Balance](t, testrig.DynamoDB(t), store.Table(), dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB)))
	read := 0
	for b, err := range reader.Scan(ctx, dynacrypt.ConsistentRead(), dynacrypt.Parallel(4)) {
		if err != nil {
			t.Fatalf("after %d items, read with key B only: %v", read, err)
		}
		if b.Version != 2 || b.Owner != "owner-"+b.ID {
			t.Fatalf("%s: %+v, want its owner at version 2", b.ID, b)
		}
		read++
	}
	if read != n {
		t.Errorf("%d items read with key B only, want %d", read, n)
	}

	// The second walk: every item read once between the shares, none
	// written.
	var scanned, skipped atomic.Int64
	var quarter1 int64 // the items of share 1
	for i := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store, _ := walker()
			p, err := store.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: segments, Share: share(i)})
			if err != nil || p.Rewritten != 0 {
				t.Errorf("share %d of the second walk: %+v, %v; want nothing rewritten", i, p, err)
			}
			if i == 1 {
				quarter1 = p.Scanned
			}
			scanned.Add(p.Scanned)
			skipped.Add(p.Skipped)
		}()
	}
	wg.Wait()
	if scanned.Load() != int64(n) || skipped.Load() != int64(n) {
		t.Errorf("the second walk's shares scanned %d items and skipped %d; want each of the %d once", scanned.Load(), skipped.Load(), n)
	}
	if resumed >= quarter1 {
		t.Errorf("share 1, resumed from its checkpoint, read %d items of its %d: want what its first page left", resumed, quarter1)
	}
}

// TestWalkShareRefusesBadShares: a share that is not a range of the walk's
// segments, a share without the walk's total, more segments than DynamoDB
// scans in, and a share of a walk of one tenant that Queries its partition
// (a Query has no segments) are refused with an error that says why,
// before any request to DynamoDB or KMS.
func TestWalkShareRefusesBadShares(t *testing.T) {
	raw := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, raw, dynacrypttest.Table{PartitionKey: dynacrypttest.S("clinic"), SortKey: dynacrypttest.S("id")})
	db := &writeCountingDB{Client: raw, counts: &writeCounts{writes: map[string]int{}}}
	kmsClient, kmsRequests := testrig.KMS(t)
	visits := mustNew[Visit](t, db, table, dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithTenantAttribute("clinic"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB).WithPreviousKeys(testrig.KeyA)))
	for _, c := range []struct {
		name string
		opts dynacrypt.ReencryptOptions
		says string
	}{
		{"first after last", dynacrypt.ReencryptOptions{Segments: 16, Share: &dynacrypt.SegmentShare{First: 8, Last: 7}}, "segments 8 to 7"},
		{"negative first", dynacrypt.ReencryptOptions{Segments: 16, Share: &dynacrypt.SegmentShare{First: -1, Last: 3}}, "segments -1 to 3"},
		{"last past the total", dynacrypt.ReencryptOptions{Segments: 16, Share: &dynacrypt.SegmentShare{First: 12, Last: 16}}, "numbers them 0 to 15"},
		{"no total", dynacrypt.ReencryptOptions{Share: &dynacrypt.SegmentShare{First: 0, Last: 3}}, "needs Segments"},
		{"more segments than DynamoDB's", dynacrypt.ReencryptOptions{Segments: 1_000_001, Share: &dynacrypt.SegmentShare{First: 0, Last: 3}}, "at most 1000000 segments"},
		{"a tenant's Query", dynacrypt.ReencryptOptions{Tenant: "clinic-a", Segments: 16, Share: &dynacrypt.SegmentShare{First: 0, Last: 3}}, "a Query has no segments"},
	} {
		p, err := visits.Reencrypt(context.Background(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.says) || p.Scanned != 0 {
			t.Errorf("%s: %+v, %v; want a refusal saying %q", c.name, p, err, c.says)
		}
	}
	if db.reads.Load() != 0 || len(db.counts.writes) != 0 || kmsRequests.Requests() != 0 {
		t.Errorf("the refusals made %d reads, %d writes and %d KMS requests, want none", db.reads.Load(), len(db.counts.writes), kmsRequests.Requests())
	}
}

// TestWalkShareCheckpointResumesItsShareOnly: a share's checkpoint records
// its share and the walk's total of segments. Given to another share, to
// the same share of another total, or to a walk of every segment, it is
// refused before any request: resumed there, it would mark segments done
// that no walk read. Given to its own share, it resumes.
func TestWalkShareCheckpointResumesItsShareOnly(t *testing.T) {
	const n = 200
	ctx := context.Background()
	walker := shareTable(t, n, &writeCounts{writes: map[string]int{}})
	store, db := walker()
	own := dynacrypt.ReencryptOptions{Segments: 16, Share: &dynacrypt.SegmentShare{First: 4, Last: 7}, PageSize: 2}
	walkCtx, cancel := context.WithCancel(ctx)
	first := own
	var checkpoint string
	first.Progress = func(p dynacrypt.ReencryptProgress) {
		if p.Checkpoint != "" && checkpoint == "" {
			checkpoint = p.Checkpoint
			cancel()
		}
	}
	store.Reencrypt(walkCtx, first)
	cancel()
	if checkpoint == "" {
		t.Fatal("no checkpoint reported")
	}

	reads := db.reads.Load()
	for _, c := range []struct {
		name string
		opts dynacrypt.ReencryptOptions
	}{
		{"another share", dynacrypt.ReencryptOptions{Segments: 16, Share: &dynacrypt.SegmentShare{First: 8, Last: 11}}},
		{"a longer share", dynacrypt.ReencryptOptions{Segments: 16, Share: &dynacrypt.SegmentShare{First: 4, Last: 8}}},
		{"another total", dynacrypt.ReencryptOptions{Segments: 32, Share: &dynacrypt.SegmentShare{First: 4, Last: 7}}},
		{"every segment", dynacrypt.ReencryptOptions{Segments: 16}},
	} {
		c.opts.Checkpoint = checkpoint
		p, err := store.Reencrypt(ctx, c.opts)
		if err == nil || !strings.Contains(err.Error(), "checkpoint is of segments 4 to 7 of 16") || p.Scanned != 0 {
			t.Errorf("%s from share 4 to 7's checkpoint: %+v, %v; want a refusal naming the checkpoint's share", c.name, p, err)
		}
	}
	if db.reads.Load() != reads {
		t.Errorf("the refusals made %d reads, want none", db.reads.Load()-reads)
	}

	// A whole walk's checkpoint resumes no share.
	walkCtx, cancel = context.WithCancel(ctx)
	var whole string
	store.Reencrypt(walkCtx, dynacrypt.ReencryptOptions{Segments: 16, PageSize: 2, Progress: func(p dynacrypt.ReencryptProgress) {
		if p.Checkpoint != "" && whole == "" {
			whole = p.Checkpoint
			cancel()
		}
	}})
	cancel()
	bad := own
	bad.Checkpoint = whole
	if p, err := store.Reencrypt(ctx, bad); err == nil || !strings.Contains(err.Error(), "checkpoint is of segments 0 to 15 of 16") || p.Scanned != 0 {
		t.Errorf("share 4 to 7 from a whole walk's checkpoint: %+v, %v; want a refusal", p, err)
	}

	own.Checkpoint = checkpoint
	if p, err := store.Reencrypt(ctx, own); err != nil || p.Failed != 0 || p.Scanned == 0 {
		t.Errorf("share 4 to 7 resumed from its checkpoint: %+v, %v", p, err)
	}
}
