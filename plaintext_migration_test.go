package dynacrypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// seed writes shoppers 0 to n-1 as the old service does, 25 to a request.
func (pt *plaintextTable) seed(t testing.TB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for start := 0; start < n; start += 25 * 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := start; from < min(start+25*40, n); from += 25 {
				var reqs []types.WriteRequest
				for i := from; i < min(from+25, n); i++ {
					av, err := attributevalue.MarshalMap(oldShopperOf(i))
					if err != nil {
						panic(err)
					}
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
				}
				for len(reqs) > 0 {
					out, err := pt.db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{pt.table: reqs}})
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
					reqs = out.UnprocessedItems[pt.table]
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// rawScan returns every item of the table as stored.
func (pt *plaintextTable) rawScan(t testing.TB) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: &pt.table, ConsistentRead: aws.Bool(true)}
	for {
		out, err := pt.db.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// migrationLedger counts what the writers of a migration were told
// happened, to compare with what the table holds at the end.
type migrationLedger struct {
	visits      []atomic.Int64 // per seeded shopper: increments acknowledged
	lastExpires []atomic.Int64 // per seeded shopper: the TTL job's last value
	expires     atomic.Int64   // the TTL job's last value, for any shopper
	created     sync.Map       // id -> email of shoppers created during the migration
	oldWrites   atomic.Int64
	storeWrites atomic.Int64
	refused     atomic.Int64 // Updates refused with ErrNotVouched
	queries     atomic.Int64
}

// instance is a service instance during a rolling deployment: the Store it
// runs now, replaced at each step.
type instance struct {
	name  string
	store atomic.Pointer[dynacrypt.Store[Shopper]]
}

// TestPlaintextTableEncryptedWhileServicesRun runs the runbook of
// docs/operations.md, "Encrypting an existing table", on a table of
// plaintext items with its services running: two old writers (plaintext,
// unconditional increments and creates) and two instances of the new
// service that move through the three phases one at a time, a TTL job
// setting an unsigned attribute throughout, queries through a secondary
// index, the snapshot and the walk concurrent with the writes. At the end a
// raw Scan finds no secret in plaintext, every item reads back with its
// latest value (every acknowledged increment, the TTL job's last value), no
// write was lost, the index finds every item, and the walk run again does
// nothing. 1,000 items under -short, 10,000 otherwise (make bench); in
// dynacrypt's item format, and in DB-ESDK's (raw AES keyring, suite 0x6700;
// the manifest is still signed with the Cipher's root keys).
func TestPlaintextTableEncryptedWhileServicesRun(t *testing.T) {
	for _, format := range []string{"dynacrypt", "dbesdk"} {
		t.Run(format, func(t *testing.T) {
			pt := newPlaintextTable(t, 0)
			if format == "dbesdk" {
				kr, err := dbesdk.RawAESKeyring("shoppers", "shoppers-key", randomBytes(t, 32))
				if err != nil {
					t.Fatal(err)
				}
				pt.writeDBESDK(kr)
			}
			encryptWhileServicesRun(t, pt, format)
		})
	}
}

func encryptWhileServicesRun(t *testing.T, pt *plaintextTable, format string) {
	n, ops := 10000, 300
	if testing.Short() {
		n, ops = 1000, 60
	}
	ctx := context.Background()
	start := time.Now()
	pt.seed(t, n)
	seeded := time.Since(start)
	ledger := &migrationLedger{visits: make([]atomic.Int64, n), lastExpires: make([]atomic.Int64, n)}
	phase := func(p dynacrypt.PlaintextPhase, opts ...dynacrypt.LegacyOption) *dynacrypt.Store[Shopper] {
		return pt.store(t, pt.phase(p, opts...))
	}
	unverified := dynacrypt.LegacyUnverified()
	a, b := &instance{name: "a"}, &instance{name: "b"}
	a.store.Store(phase(dynacrypt.WritePlaintext, unverified))
	b.store.Store(phase(dynacrypt.WritePlaintext, unverified))

	// Phase 1: the old writers run beside two instances writing plaintext.
	pt.step(t, "phase 1 with the old writers", ops, ledger, n, []*instance{a, b}, func(ctx context.Context) {
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pt.oldWriter(ctx, t, ledger, n, w, ops)
			}()
		}
		wg.Wait()
	})
	for _, item := range pt.rawScan(t) {
		if _, ok := item[pt.header]; ok {
			t.Fatalf("an item with a header in phase 1, which the old service cannot read: %v", item["id"])
		}
	}
	// The old writers are gone. Phase 2, instance by instance, without a
	// manifest, then the snapshot, taken while the instances run.
	a.store.Store(phase(dynacrypt.ReadPlaintext, unverified))
	pt.step(t, "a in phase 2, b in phase 1", ops, ledger, n, []*instance{a, b}, nil)
	b.store.Store(phase(dynacrypt.ReadPlaintext, unverified))
	var manifest []byte
	var listed int
	pt.step(t, "both in phase 2, the snapshot taken", ops, ledger, n, []*instance{a, b}, func(ctx context.Context) {
		var err error
		if manifest, listed, err = pt.store(t).LegacySnapshot(ctx); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	withManifest := dynacrypt.LegacyManifest(manifest)
	a.store.Store(phase(dynacrypt.ReadPlaintext, withManifest))
	pt.step(t, "a with the manifest, b without", ops, ledger, n, []*instance{a, b}, nil)
	b.store.Store(phase(dynacrypt.ReadPlaintext, withManifest))
	var promoted sync.Map
	var twice atomic.Int64
	var walked dynacrypt.ReencryptProgress
	var walkTime time.Duration
	pt.step(t, "the walk, both with the manifest", ops, ledger, n, []*instance{a, b}, func(ctx context.Context) {
		start := time.Now()
		var err error
		walked, err = phase(dynacrypt.ReadPlaintext, withManifest).Reencrypt(ctx, dynacrypt.ReencryptOptions{
			Promoted: func(key map[string]types.AttributeValue) {
				if _, dup := promoted.LoadOrStore(key["id"].(*types.AttributeValueMemberS).Value, true); dup {
					twice.Add(1)
				}
			}})
		walkTime = time.Since(start)
		if err != nil {
			t.Errorf("the walk: %+v, %v", walked, err)
		}
	})
	for _, item := range pt.rawScan(t) {
		if _, ok := item[pt.header]; !ok {
			t.Fatalf("a plaintext item after the walk: %v", item["id"])
		}
	}
	a.store.Store(phase(dynacrypt.RefusePlaintext))
	pt.step(t, "a in phase 3, b in phase 2", ops, ledger, n, []*instance{a, b}, nil)
	b.store.Store(phase(dynacrypt.RefusePlaintext))
	pt.step(t, "both in phase 3", ops, ledger, n, []*instance{a, b}, nil)

	final := pt.store(t)
	pt.checkMigrated(t, final, ledger, n)
	if walked.Promoted == 0 || walked.Failed != 0 || twice.Load() != 0 || walked.Promoted > int64(listed) {
		t.Errorf("the walk: %+v, %d keys promoted twice; want some promoted, at most the %d listed, none failed", walked, twice.Load(), listed)
	}
	again, err := final.Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil || again.Rewritten != 0 || again.Promoted != 0 || again.Failed != 0 || again.Skipped != again.Scanned {
		t.Errorf("the walk run again: %+v, %v; want nothing to do", again, err)
	}
	if format != "dynacrypt" {
		t.Logf("plaintext-migration: in %s's format: %d items; the walk promoted %d in %s (%d scanned); %d writes acknowledged, %d Updates refused with ErrNotVouched; %d KMS requests in all",
			format, n, walked.Promoted, walkTime.Round(time.Millisecond), walked.Scanned, ledger.oldWrites.Load()+ledger.storeWrites.Load(), ledger.refused.Load(), pt.kmsReqs.Requests())
		return
	}
	t.Logf("plaintext-migration: %d items (seeded in %s); %d listed in a manifest of %d bytes; the walk promoted %d in %s, concurrently with the services (%d scanned, %d already encrypted by Update or created so); "+
		"%d writes acknowledged (%d by the old writers, %d by the Stores), %d Updates refused with ErrNotVouched, %d index queries; %d KMS requests in all",
		n, seeded.Round(time.Millisecond), listed, len(manifest), walked.Promoted, walkTime.Round(time.Millisecond), walked.Scanned, walked.Skipped,
		ledger.oldWrites.Load()+ledger.storeWrites.Load(), ledger.oldWrites.Load(), ledger.storeWrites.Load(), ledger.refused.Load(), ledger.queries.Load(), pt.kmsReqs.Requests())
}

// step runs each instance for ops operations, the TTL job for ops/2, and
// also (if not nil), all at once, and waits for them.
func (pt *plaintextTable) step(t *testing.T, name string, ops int, ledger *migrationLedger, n int, instances []*instance, also func(context.Context)) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pt.ttlJob(ctx, t, ledger, n, ops/2)
	}()
	for _, in := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pt.serve(ctx, t, ledger, n, in, ops)
		}()
	}
	if also != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			also(ctx)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.Fatalf("during %s", name)
	}
}

// pick returns a seeded shopper, half the time one of a hot few, so that
// writers meet.
func pick(n int) int {
	if rand.IntN(2) == 0 {
		return rand.IntN(min(n, 20))
	}
	return rand.IntN(n)
}

// serve is a service instance at work: increments of a shopper's visits
// through Update, new shoppers, and queries through the index.
func (pt *plaintextTable) serve(ctx context.Context, t *testing.T, ledger *migrationLedger, n int, in *instance, ops int) {
	for k := range ops {
		s := in.store.Load()
		switch k % 10 {
		case 0:
			id := fmt.Sprintf("new-%s-%d-%d", in.name, time.Now().UnixNano(), k)
			email := id + "@example.com"
			if err := s.Put(ctx, &Shopper{ID: id, Region: "r9", Email: email, Card: []byte("card-of-" + id)}); err != nil {
				t.Errorf("instance %s: Put of %s: %v", in.name, id, err)
				return
			}
			ledger.created.Store(id, email)
			ledger.storeWrites.Add(1)
		case 1:
			for _, err := range s.Query(ctx, Shopper{Region: fmt.Sprint("r", rand.IntN(5))}, dynacrypt.UsingIndex(byRegion), dynacrypt.Limit(20)) {
				if err != nil {
					t.Errorf("instance %s: Query through the index: %v", in.name, err)
					return
				}
			}
			ledger.queries.Add(1)
		default:
			i := pick(n)
			_, err := s.Update(ctx, Shopper{ID: shopperID(i)}, func(c *Shopper) error { c.Visits++; return nil })
			switch {
			case err == nil:
				ledger.visits[i].Add(1)
				ledger.storeWrites.Add(1)
			case errors.Is(err, dynacrypt.ErrNotVouched):
				ledger.refused.Add(1)
			default:
				t.Errorf("instance %s: Update of %s: %v", in.name, shopperID(i), err)
				return
			}
		}
	}
}

// oldWriter is the old service: unconditional increments in plaintext, and
// new shoppers written in plaintext.
func (pt *plaintextTable) oldWriter(ctx context.Context, t *testing.T, ledger *migrationLedger, n, w, ops int) {
	for k := range ops {
		if k%10 == 0 {
			c := oldShopperOf(0)
			c.ID = fmt.Sprintf("old-%d-%d", w, k)
			c.Email = c.ID + "@example.com"
			c.Card = []byte("card-of-" + c.ID)
			av, err := attributevalue.MarshalMap(c)
			if err == nil {
				_, err = pt.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &pt.table, Item: av})
			}
			if err != nil {
				t.Errorf("old writer %d: %v", w, err)
				return
			}
			ledger.created.Store(c.ID, c.Email)
			ledger.oldWrites.Add(1)
			continue
		}
		i := pick(n)
		_, err := pt.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &pt.table,
			Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: shopperID(i)}},
			UpdateExpression:          aws.String("ADD visits :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
		if err != nil {
			t.Errorf("old writer %d: %v", w, err)
			return
		}
		ledger.visits[i].Add(1)
		ledger.oldWrites.Add(1)
	}
}

// ttlJob sets the unsigned TTL attribute of shoppers ops times, each time
// to a larger value.
func (pt *plaintextTable) ttlJob(ctx context.Context, t *testing.T, ledger *migrationLedger, n, ops int) {
	for range ops {
		i, v := pick(n), ledger.expires.Add(1)
		_, err := pt.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &pt.table,
			Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: shopperID(i)}},
			UpdateExpression:          aws.String("SET expires = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}}})
		if err != nil {
			t.Errorf("TTL job: %v", err)
			return
		}
		ledger.lastExpires[i].Store(v)
	}
}

// checkMigrated checks the table at the end of a migration: no secret in
// plaintext at rest, every item encrypted and read by a Store that refuses
// plaintext, with every acknowledged write, and found through the index.
func (pt *plaintextTable) checkMigrated(t *testing.T, final *dynacrypt.Store[Shopper], ledger *migrationLedger, n int) {
	t.Helper()
	ctx := context.Background()
	for _, item := range pt.rawScan(t) {
		if _, ok := item[pt.header]; !ok {
			t.Fatalf("item %v has no header", item["id"])
		}
		for name, v := range item {
			var value []byte
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				value = []byte(v.Value)
			case *types.AttributeValueMemberB:
				value = v.Value
			}
			if bytes.Contains(value, []byte("@example.com")) || bytes.Contains(value, []byte("card-of-")) {
				t.Fatalf("item %v holds a secret in plaintext in %q", item["id"], name)
			}
		}
	}
	created := map[string]string{}
	ledger.created.Range(func(id, email any) bool { created[id.(string)] = email.(string); return true })
	perRegion := map[string]int{}
	var stored, acked int64
	seen := 0
	for c, err := range final.Scan(ctx, dynacrypt.Parallel(4), dynacrypt.ConsistentRead()) {
		if err != nil {
			t.Fatalf("after %d items: %v", seen, err)
		}
		seen++
		perRegion[c.Region]++
		if email, ok := created[c.ID]; ok {
			if c.Email != email || string(c.Card) != "card-of-"+c.ID {
				t.Errorf("created %s: %+v", c.ID, c)
			}
			continue
		}
		i, err := strconv.Atoi(c.ID[1:])
		if err != nil || i >= n {
			t.Fatalf("unexpected item %+v", c)
		}
		want := oldShopperOf(i)
		stored += int64(c.Visits)
		acked += ledger.visits[i].Load()
		if c.Email != want.Email || !bytes.Equal(c.Card, want.Card) || int64(c.Visits) != ledger.visits[i].Load() || c.Expires != ledger.lastExpires[i].Load() {
			t.Errorf("%s: %+v; want its secrets, %d visits acknowledged and expires %d", c.ID, c, ledger.visits[i].Load(), ledger.lastExpires[i].Load())
		}
	}
	if seen != n+len(created) || stored != acked {
		t.Errorf("%d items with %d visits stored; want %d items (%d seeded, %d created) and %d visits acknowledged", seen, stored, n+len(created), n, len(created), acked)
	}
	for region, want := range perRegion {
		got := 0
		for _, err := range final.Query(ctx, Shopper{Region: region}, dynacrypt.UsingIndex(byRegion)) {
			if err != nil {
				t.Fatal(err)
			}
			got++
		}
		if got != want {
			t.Errorf("the index finds %d items of region %s, want %d", got, region, want)
		}
	}
}

// TestPlaintextWalkKilledMidwayResumes kills a walk of a plaintext table
// halfway (its context ends, and its process with it: only the checkpoint
// of its last progress report is left) and has another process resume it
// from that checkpoint: it scans only what was left, promotes every item
// once, and a third walk finds nothing to do. In dynacrypt's item format
// and in DB-ESDK's.
func TestPlaintextWalkKilledMidwayResumes(t *testing.T) {
	inEachFormat(t, 0, plaintextWalkKilledMidwayResumes)
}

// plaintextWalkKilledMidwayResumes is TestPlaintextWalkKilledMidwayResumes
// in pt's item format.
func plaintextWalkKilledMidwayResumes(t *testing.T, pt *plaintextTable) {
	n := 2000
	if testing.Short() {
		n = 400
	}
	pt.seed(t, n)
	manifest := pt.snapshot(t)
	opts := dynacrypt.ReencryptOptions{Segments: 4, PageSize: 10}
	var promoted sync.Map
	var twice atomic.Int64
	opts.Promoted = func(key map[string]types.AttributeValue) {
		if _, dup := promoted.LoadOrStore(key["id"].(*types.AttributeValueMemberS).Value, true); dup {
			twice.Add(1)
		}
	}

	ctx, kill := context.WithCancel(context.Background())
	var saved string
	first := opts
	first.Progress = func(p dynacrypt.ReencryptProgress) {
		if ctx.Err() == nil {
			saved = p.Checkpoint // what a process saves as it goes
		}
		if p.Scanned >= int64(n/2) {
			kill()
		}
	}
	p1, err := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest))).Reencrypt(ctx, first)
	if !errors.Is(err, context.Canceled) || p1.Scanned >= int64(n) || saved == "" {
		t.Fatalf("first walk, killed halfway: %+v, %v, checkpoint %q", p1, err, saved)
	}

	second := opts
	second.Checkpoint = saved
	p2, err := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest))).Reencrypt(context.Background(), second)
	if err != nil || p2.Scanned >= int64(n) || p2.Failed != 0 {
		t.Fatalf("second walk, from the checkpoint: %+v, %v; want it to scan what was left", p2, err)
	}
	count := 0
	promoted.Range(func(any, any) bool { count++; return true })
	// A write in flight when the first walk died may have landed without
	// its report: at most one per segment.
	if twice.Load() != 0 || count < n-opts.Segments || count > n {
		t.Errorf("promoted %d shoppers, %d twice; want each of the %d once (a few in flight at the kill may be missing)", count, twice.Load(), n)
	}
	t.Logf("killed after %d scanned, %d promoted; resumed: %d scanned, %d promoted, %d already encrypted", p1.Scanned, p1.Promoted, p2.Scanned, p2.Promoted, p2.Skipped)
	final := pt.store(t)
	seen := 0
	for c, err := range final.Scan(context.Background(), dynacrypt.ConsistentRead()) {
		if err != nil || c.Email != oldShopperOf(mustAtoi(t, c.ID[1:])).Email || c.Version != 1 {
			t.Fatalf("after the walks: %+v, %v; want every shopper encrypted, once", c, err)
		}
		seen++
	}
	if seen != n {
		t.Errorf("%d shoppers read, want %d", seen, n)
	}
	for _, item := range pt.rawScan(t) {
		if _, ok := item[pt.header]; !ok {
			t.Fatalf("after the walks, shopper %v is not in the Stores' item format", item["id"])
		}
	}
	if p3, err := final.Reencrypt(context.Background(), dynacrypt.ReencryptOptions{}); err != nil || p3.Rewritten != 0 {
		t.Errorf("a third walk: %+v, %v; want nothing to do", p3, err)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	i, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return i
}
