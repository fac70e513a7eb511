package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Visit is an item of a table shared by clinics.
type Visit struct {
	Clinic  string `dynamodbav:"clinic"`
	ID      string `dynamodbav:"id"`
	Notes   string `dynamodbav:"notes" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// walkCountingDB counts the Scan and Query requests of a walk, and keeps
// the last Scan's filter.
type walkCountingDB struct {
	*dynamodb.Client
	scans, queries atomic.Int64
	filter         atomic.Pointer[string]
}

func (c *walkCountingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.scans.Add(1)
	c.filter.Store(in.FilterExpression)
	return c.Client.Scan(ctx, in, opts...)
}

func (c *walkCountingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	return c.Client.Query(ctx, in, opts...)
}

// TestReencryptOneTenant: after a rotation, a walk limited to one tenant
// rewrites that tenant's items only, so the other tenants' versions (their
// clients' ETags) stay as they were: by Query of the tenant's partition
// where the tenant is the partition key, else by a Scan filtered on the
// tenant. Its checkpoint resumes only a walk of the same tenant: another
// tenant's walk and a whole-table walk refuse it, and a tenant's walk
// refuses a whole-table walk's checkpoint.
func TestReencryptOneTenant(t *testing.T) {
	const perClinic = 5
	clinics := []string{"clinic-a", "clinic-b", "clinic-c"}
	for _, layout := range []struct {
		name         string
		table        dynacrypttest.Table
		keys         []dynacrypt.Option
		byQuery      bool
		wholeSegment int // the Segments of a whole-table walk comparable to a tenant's
	}{
		{"tenant is the partition key", dynacrypttest.Table{PartitionKey: dynacrypttest.S("clinic"), SortKey: dynacrypttest.S("id")},
			[]dynacrypt.Option{dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id")}, true, 1},
		{"tenant is another attribute", dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")},
			[]dynacrypt.Option{dynacrypt.WithPartitionKey("id")}, false, 4},
	} {
		t.Run(layout.name, func(t *testing.T) {
			ctx := context.Background()
			raw := testrig.DynamoDB(t)
			db := &walkCountingDB{Client: raw}
			table := dynacrypttest.NewTable(t, raw, layout.table)
			kmsClient, _ := testrig.KMS(t)
			store := func(c dynacrypt.Cipher) *dynacrypt.Store[Visit] {
				return mustNew[Visit](t, db, table, append([]dynacrypt.Option{dynacrypt.WithVersion("version"),
					dynacrypt.WithTenantAttribute("clinic"), dynacrypt.WithCipher(c)}, layout.keys...)...)
			}
			underA := store(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
			for _, clinic := range clinics {
				for i := range perClinic {
					v := &Visit{Clinic: clinic, ID: fmt.Sprintf("%s-%d", clinic, i), Notes: "notes of " + clinic}
					if err := underA.Put(ctx, v); err != nil {
						t.Fatal(err)
					}
				}
			}
			walker := store(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB).WithPreviousKeys(testrig.KeyA))
			versions := func() map[string]int64 { // by clinic: the sum of its items' versions
				out := map[string]int64{}
				for v, err := range walker.Scan(ctx, dynacrypt.ConsistentRead()) {
					if err != nil {
						t.Fatal(err)
					}
					if v.Notes != "notes of "+v.Clinic {
						t.Fatalf("visit %s: notes %q", v.ID, v.Notes)
					}
					out[v.Clinic] += v.Version
				}
				return out
			}

			// Interrupted after its first page.
			walkCtx, cancel := context.WithCancel(ctx)
			var checkpointB string
			db.scans.Store(0)
			db.queries.Store(0)
			_, err := walker.Reencrypt(walkCtx, dynacrypt.ReencryptOptions{Tenant: "clinic-b", PageSize: 2, Progress: func(p dynacrypt.ReencryptProgress) {
				checkpointB = p.Checkpoint
				cancel()
			}})
			cancel()
			if !errors.Is(err, context.Canceled) || checkpointB == "" {
				t.Fatalf("interrupted walk of clinic-b: %v, checkpoint %q", err, checkpointB)
			}
			if layout.byQuery && (db.scans.Load() != 0 || db.queries.Load() == 0) {
				t.Errorf("a walk of a tenant that is the partition key made %d Scan and %d Query requests, want Query only", db.scans.Load(), db.queries.Load())
			}
			if !layout.byQuery {
				if f := db.filter.Load(); db.scans.Load() == 0 || f == nil || *f == "" {
					t.Errorf("a walk of a tenant that is not the partition key made %d Scan requests, the last with filter %v; want a filtered Scan", db.scans.Load(), f)
				}
			}

			// The checkpoint of clinic-b's walk resumes no other walk.
			for _, other := range []dynacrypt.ReencryptOptions{
				{Tenant: "clinic-c", Checkpoint: checkpointB},
				{Segments: layout.wholeSegment, Checkpoint: checkpointB},
			} {
				p, err := walker.Reencrypt(ctx, other)
				if err == nil || !strings.Contains(err.Error(), "checkpoint is from a walk of tenant \"clinic-b\"") || p.Scanned != 0 {
					t.Errorf("walk %+v from clinic-b's checkpoint: %+v, %v; want a refusal before any item", other, p, err)
				}
			}
			if got := versions(); got["clinic-a"] != perClinic || got["clinic-c"] != perClinic {
				t.Fatalf("versions by clinic after clinic-b's interrupted walk: %v; want the other clinics untouched", got)
			}

			p, err := walker.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "clinic-b", PageSize: 2, Checkpoint: checkpointB})
			// (A Scan's first page, its Limit applied before the filter,
			// may hold none of clinic-b's items.)
			if err != nil || p.Failed != 0 || p.Scanned > perClinic || layout.byQuery && (p.Scanned == 0 || p.Scanned == perClinic) {
				t.Fatalf("clinic-b's walk resumed: %+v, %v; want the rest of clinic-b's items", p, err)
			}
			want := map[string]int64{"clinic-a": perClinic, "clinic-b": 2 * perClinic, "clinic-c": perClinic}
			if got := versions(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("versions by clinic after clinic-b's walk: %v, want %v: every item of clinic-b rewritten once, no other", got, want)
			}

			// A whole-table walk's checkpoint resumes no tenant's walk.
			walkCtx, cancel = context.WithCancel(ctx)
			var checkpointAll string
			walker.Reencrypt(walkCtx, dynacrypt.ReencryptOptions{Segments: layout.wholeSegment, PageSize: 1, Progress: func(p dynacrypt.ReencryptProgress) {
				checkpointAll = p.Checkpoint
				cancel()
			}})
			cancel()
			if p, err := walker.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "clinic-b", Checkpoint: checkpointAll}); err == nil || !strings.Contains(err.Error(), "from a walk of the whole table") || p.Scanned != 0 {
				t.Errorf("clinic-b's walk from a whole-table walk's checkpoint: %+v, %v; want a refusal", p, err)
			}
		})
	}
}

// TestReencryptTenantNeedsTenants: ReencryptOptions.Tenant on a Store
// without tenants is refused before any request.
func TestReencryptTenantNeedsTenants(t *testing.T) {
	raw, table := usersTable(t)
	db := &walkCountingDB{Client: raw}
	kmsCipher, kmsRequests := newKMS(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(kmsCipher))
	_, err := users.Reencrypt(context.Background(), dynacrypt.ReencryptOptions{Tenant: "acme"})
	if err == nil || !strings.Contains(err.Error(), "WithTenantAttribute") {
		t.Errorf("a walk of a tenant on a Store without tenants: %v, want a refusal naming WithTenantAttribute", err)
	}
	if db.scans.Load()+db.queries.Load() != 0 || kmsRequests.Requests() != 0 {
		t.Errorf("the refusal made %d Scan, %d Query and %d KMS requests, want none", db.scans.Load(), db.queries.Load(), kmsRequests.Requests())
	}
}
