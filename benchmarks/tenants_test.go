package benchmarks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// The tenants scenario: T tenants of 10 items each in one table declared
// WithTenantAttribute, one writer process putting them all and one reader
// process getting them all. With the key store each tenant has its branch
// key (branch key id = tenant).
const (
	tenantsCount    = 1_000 // -short: 100
	itemsPerTenant  = 10
	tenantsKeyStore = "tenant-branch-keys"
)

// tenantItem is the fleet's item with a tenant.
type tenantItem struct {
	ID     string `dynamodbav:"id"`
	Tenant string `dynamodbav:"tenant"`
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

func tenantName(t int) string { return fmt.Sprintf("tenant-%04d", t) }

func tenantItemID(t, i int) string { return fmt.Sprintf("%s-%02d", tenantName(t), i) }

// tenantProcess is what a process keeps: its Store and its Cipher. Both
// are kept together, so that releasing the process releases their caches.
type tenantProcess struct {
	store  *dynacrypt.Store[tenantItem]
	cipher dynacrypt.Cipher
}

// newTenantProcess makes a process's Store over the tenants table. The key
// store Cipher is given no branch key of its own: every item has a tenant,
// whose branch key it uses.
func newTenantProcess(ddb *dynamodb.Client, k *kms.Client, cipher string) (*tenantProcess, error) {
	var c dynacrypt.Cipher
	switch cipher {
	case "kms-cipher":
		c = dynacrypt.NewKMSCipher(k, keyID)
	case "keystore":
		ks, err := keystore.New(ddb, tenantsKeyStore, tenantsKeyStore, k, keyID)
		if err != nil {
			return nil, err
		}
		if c, err = keystore.NewCipher(ks, ""); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no cipher %q", cipher)
	}
	s, err := dynacrypt.New[tenantItem](ddb, fleetItemsTable, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithTenantAttribute("tenant"), dynacrypt.WithCipher(c))
	if err != nil {
		return nil, err
	}
	return &tenantProcess{store: s, cipher: c}, nil
}

// liveHeap returns the bytes of live heap objects: HeapAlloc right after a
// collection. The second collection frees what the first only finalized.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// tenantsRun is what the tenants scenario cost.
type tenantsRun struct {
	cipher                 string
	tenants                int
	setupKMS               int64 // creating the branch keys
	writerKMS, readerKMS   int64
	writerGets, readerGets int64 // GetItem requests to the key store
	// writerHeap and readerHeap are the heap each process's Store and
	// Cipher hold once it has served every tenant: the live heap with
	// them, less the live heap once they are released. The stub's copy of
	// the table, which a real process does not hold, is in both and
	// cancels out. emptyHeap is the same for a Store and Cipher that have
	// served nothing, so the caches' share is the difference.
	writerHeap, readerHeap, emptyHeap int64
}

// heldBy runs work on a new process, and returns what the process holds
// afterwards.
func heldBy(ddb *dynamodb.Client, k *kms.Client, cipher string, work func(*tenantProcess) error) (int64, error) {
	p, err := newTenantProcess(ddb, k, cipher)
	if err != nil {
		return 0, err
	}
	if err := work(p); err != nil {
		return 0, err
	}
	alive := liveHeap()
	runtime.KeepAlive(p)
	p = nil
	return alive - liveHeap(), nil
}

// runTenants creates a branch key per tenant if the cipher needs them, has
// one process put every tenant's items and another get them all, in a
// random order, checking each, and counts the KMS requests of each.
func runTenants(tb testing.TB, cipher string, tenants int) tenantsRun {
	tb.Helper()
	ctx := context.Background()
	st := newStub(tb, 0)
	st.keyTable(fleetItemsTable, "id")
	st.keyTable(tenantsKeyStore, "branch-key-id", "type")
	ddb, k := st.directClients()
	run := tenantsRun{cipher: cipher, tenants: tenants}
	if cipher == "keystore" {
		admin, err := keystore.New(ddb, tenantsKeyStore, tenantsKeyStore, k, keyID)
		if err != nil {
			tb.Fatal(err)
		}
		for t := range tenants {
			if _, err := admin.Create(ctx, tenantName(t)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	run.setupKMS = st.kmsRequests.Load()
	gets0 := st.getItems(tenantsKeyStore)

	var err error
	run.emptyHeap, err = heldBy(ddb, k, cipher, func(*tenantProcess) error { return nil })
	if err != nil {
		tb.Fatal(err)
	}
	run.writerHeap, err = heldBy(ddb, k, cipher, func(p *tenantProcess) error {
		for t := range tenants {
			for i := range itemsPerTenant {
				it := &tenantItem{ID: tenantItemID(t, i), Tenant: tenantName(t), Secret: fleetSecret(t, i)}
				if err := p.store.Put(ctx, it); err != nil {
					return fmt.Errorf("put %s: %w", it.ID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	run.writerKMS = st.kmsRequests.Load() - run.setupKMS
	run.writerGets = st.getItems(tenantsKeyStore) - gets0

	order := make([]int, tenants*itemsPerTenant)
	for i := range order {
		order[i] = i
	}
	rand.New(rand.NewPCG(1, uint64(tenants))).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	run.readerHeap, err = heldBy(ddb, k, cipher, func(p *tenantProcess) error {
		for _, n := range order {
			t, i := n/itemsPerTenant, n%itemsPerTenant
			got, err := p.store.Get(ctx, tenantItem{ID: tenantItemID(t, i)})
			if err != nil {
				return fmt.Errorf("get %s: %w", tenantItemID(t, i), err)
			}
			if got.Tenant != tenantName(t) || got.Secret != fleetSecret(t, i) {
				return fmt.Errorf("get %s: tenant %q, secret %q", tenantItemID(t, i), got.Tenant, got.Secret)
			}
		}
		return nil
	})
	runtime.KeepAlive(order) // live in both of heldBy's measures, so in neither difference
	if err != nil {
		tb.Fatal(err)
	}
	run.readerKMS = st.kmsRequests.Load() - run.setupKMS - run.writerKMS
	run.readerGets = st.getItems(tenantsKeyStore) - gets0 - run.writerGets
	return run
}

// TestTenantsKMSRequests counts the KMS requests, and measures the memory
// the caches hold, of 1,000 tenants of 10 items written by one process and
// read by another, with each cipher. Each process should call KMS about
// once per tenant: the writer's Store keeps a root key per tenant, and the
// reader unwraps it once (KMSCipher) or its tenant's branch key once (key
// store); the targets allow 10 more per process. Both fit the default
// caches (1,000 root keys, 1,000 branch key versions), which is what makes
// it once: with more tenants than that, per process, raise
// WithKeyCacheSize and keystore.WithCacheSize. Under -short it runs 100
// tenants. make bench reports its "tenants:" lines; memory is reported,
// never asserted.
func TestTenantsKMSRequests(t *testing.T) {
	tenants := tenantsCount
	if testing.Short() {
		tenants = 100
	}
	for _, cipher := range fleetCiphers {
		run := runTenants(t, cipher, tenants)
		t.Logf("tenants: cipher=%s tenants=%d items-per-tenant=%d setup-kms-requests=%d writer-kms-requests=%d reader-kms-requests=%d writer-keystore-getitems=%d reader-keystore-getitems=%d writer-heap-bytes=%d reader-heap-bytes=%d empty-heap-bytes=%d",
			run.cipher, run.tenants, itemsPerTenant, run.setupKMS, run.writerKMS, run.readerKMS, run.writerGets, run.readerGets,
			run.writerHeap, run.readerHeap, run.emptyHeap)
		n := int64(tenants)
		for _, c := range []struct {
			process string
			got     int64
		}{{"writer", run.writerKMS}, {"reader", run.readerKMS}} {
			if c.got < n || c.got > n+10 {
				t.Errorf("%s, %d tenants: the %s made %d KMS requests, want one per tenant, %d, to %d", cipher, tenants, c.process, c.got, n, n+10)
			}
		}
		if cipher == "keystore" && (run.writerGets != 2*n || run.readerGets != n) {
			t.Errorf("keystore, %d tenants: %d and %d GetItem requests to the key store by the writer and the reader, want %d and %d",
				tenants, run.writerGets, run.readerGets, 2*n, n)
		}
	}
}
