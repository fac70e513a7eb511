package benchmarks

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// The fleet scenario: W writer processes and R reader processes share one
// table. Each process is a Store with its own Cipher, so its own caches, as
// separate processes have; they share the stub, its SDK clients and their
// connections, which hold nothing that changes how often KMS is called. The
// SDK's requests reach the stub's handler without a loopback connection
// (stub.directClients).
const (
	fleetItemsTable    = "fleet-items"
	fleetKeyStoreTable = "fleet-branch-keys"
	fleetBranchKeyID   = "fleet"
	fleetPutsPerWriter = 100   // items each writer puts
	fleetGetsPerReader = 1_000 // random items each reader gets (-short: 200)
	// fleetParallel is how many processes run at once: enough to keep the
	// machine busy, few enough that the stub's connections stay reused.
	// Each process runs its own requests one after the other, so that two
	// of its Gets never race to unwrap the same root key and the count is
	// exact.
	fleetParallel = 8
)

// fleetItem is the fleet's item, small: the KMS requests it counts do not
// depend on the item's size, and a small item keeps the 100,000 Gets of the
// largest fleet quick.
type fleetItem struct {
	ID     string `dynamodbav:"id"`
	Writer int    `dynamodbav:"writer"`
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

func fleetItemID(writer, i int) string { return fmt.Sprintf("w%03d-%03d", writer, i) }

func fleetSecret(writer, i int) string { return fmt.Sprintf("secret %d of writer %d", i, writer) }

// fleetCiphers are the Ciphers compared: one KMS key wrapping every root
// key, and the key store's branch key.
var fleetCiphers = []string{"kms-cipher", "keystore"}

// fleetRun is what one fleet cost.
type fleetRun struct {
	cipher           string
	writers, readers int
	gets             int   // per reader
	kms              int64 // KMS requests, set-up included
	keyStoreGets     int64 // GetItem requests to the key store table
	// pairs is how many (reader, writer) pairs there were in which the
	// reader got at least one of the writer's items: how many root keys
	// the readers had to unwrap between them.
	pairs int64
}

// newFleetStore makes one process's Store, with a Cipher of its own.
func newFleetStore(ddb *dynamodb.Client, k *kms.Client, cipher string) (*dynacrypt.Store[fleetItem], error) {
	var c dynacrypt.Cipher
	switch cipher {
	case "kms-cipher":
		c = dynacrypt.NewKMSCipher(k, keyID)
	case "keystore":
		ks, err := keystore.New(ddb, fleetKeyStoreTable, fleetKeyStoreTable, k, keyID)
		if err != nil {
			return nil, err
		}
		if c, err = keystore.NewCipher(ks, fleetBranchKeyID); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no cipher %q", cipher)
	}
	return dynacrypt.New[fleetItem](ddb, fleetItemsTable, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c))
}

// runProcesses runs process(0) to process(n-1), fleetParallel at a time, and
// returns the first error.
func runProcesses(n int, process func(i int) error) error {
	var (
		wg    sync.WaitGroup
		next  = make(chan int)
		errMu sync.Mutex
		first error
	)
	for range min(n, fleetParallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := process(i); err != nil {
					errMu.Lock()
					first = cmp.Or(first, err)
					errMu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// runFleet makes a stub holding the items table and the key store table,
// creates the branch key if the cipher needs it, has every writer put its
// items and then every reader get random items of random writers, checking
// each, and counts the KMS requests of it all.
func runFleet(tb testing.TB, cipher string, writers, readers, gets int) fleetRun {
	tb.Helper()
	ctx := context.Background()
	st := newStub(tb, 0)
	st.keyTable(fleetItemsTable, "id")
	st.keyTable(fleetKeyStoreTable, "branch-key-id", "type")
	ddb, k := st.directClients()
	if cipher == "keystore" {
		admin, err := keystore.New(ddb, fleetKeyStoreTable, fleetKeyStoreTable, k, keyID)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := admin.Create(ctx, fleetBranchKeyID); err != nil {
			tb.Fatal(err)
		}
	}
	err := runProcesses(writers, func(w int) error {
		s, err := newFleetStore(ddb, k, cipher)
		if err != nil {
			return err
		}
		for i := range fleetPutsPerWriter {
			if err := s.Put(ctx, &fleetItem{ID: fleetItemID(w, i), Writer: w, Secret: fleetSecret(w, i)}); err != nil {
				return fmt.Errorf("writer %d: %w", w, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	var pairs sync.Map // reader -> writers it read
	err = runProcesses(readers, func(r int) error {
		s, err := newFleetStore(ddb, k, cipher)
		if err != nil {
			return err
		}
		// Seeded, so that a run is repeatable; each reader its own stream.
		rng := rand.New(rand.NewPCG(uint64(writers), uint64(r)))
		seen := map[int]bool{}
		for range gets {
			w, i := rng.IntN(writers), rng.IntN(fleetPutsPerWriter)
			got, err := s.Get(ctx, fleetItem{ID: fleetItemID(w, i)})
			if err != nil {
				return fmt.Errorf("reader %d, item %s: %w", r, fleetItemID(w, i), err)
			}
			if got.Writer != w || got.Secret != fleetSecret(w, i) {
				return fmt.Errorf("reader %d, item %s: got writer %d, secret %q", r, fleetItemID(w, i), got.Writer, got.Secret)
			}
			seen[w] = true
		}
		pairs.Store(r, len(seen))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	run := fleetRun{cipher: cipher, writers: writers, readers: readers, gets: gets,
		kms: st.kmsRequests.Load(), keyStoreGets: st.getItems(fleetKeyStoreTable)}
	pairs.Range(func(_, n any) bool { run.pairs += int64(n.(int)); return true })
	return run
}

// check holds a run to its targets. KMSCipher: each writer wraps
// one root key (one Encrypt) and each reader unwraps the root key of each
// writer it read (one Decrypt per pair), exactly, since each process caches
// its unwrapped root keys; and with 1,000 Gets over W writers (200 over
// 10 under -short) nearly every reader reads every writer, so the total is
// within 1% of W + W x R. Key
// store: at most W + R + 10 (the set-up's Create makes 2, each process
// unwraps the branch key once), and at least one per process, or some
// process did not really read; and the GetItem requests to the key store
// that DESIGN.md section 6 prices.
func (run fleetRun) check(tb testing.TB) {
	tb.Helper()
	w, r := int64(run.writers), int64(run.readers)
	switch run.cipher {
	case "kms-cipher":
		if want := w + run.pairs; run.kms != want {
			tb.Errorf("kms-cipher, W=%d R=%d: %d KMS requests, want W + the %d (reader, writer) pairs read = %d", w, r, run.kms, run.pairs, want)
		}
		if full := w + w*r; float64(run.kms) < 0.99*float64(full) || run.kms > full {
			tb.Errorf("kms-cipher, W=%d R=%d: %d KMS requests, want within 1%% below W + W x R = %d", w, r, run.kms, full)
		}
	case "keystore":
		if run.kms > w+r+10 || run.kms < w+r {
			tb.Errorf("keystore, W=%d R=%d: %d KMS requests, want between W + R = %d and W + R + 10", w, r, run.kms, w+r)
		}
		// Create checks that the id is free (1); a writer's first Encrypt
		// reads branch:ACTIVE and the version it names (2 each); a
		// reader's first Decrypt, the version its root key names (1 each).
		if want := 1 + 2*w + r; run.keyStoreGets != want {
			tb.Errorf("keystore, W=%d R=%d: %d GetItem requests to the key store, want 1 + 2W + R = %d", w, r, run.keyStoreGets, want)
		}
	}
}

// fleetSizes are the fleets of the chart, in processes (W + R, W = R).
var fleetSizes = []int{10, 20, 50, 100, 200}

// TestFleetKMSRequests counts the KMS requests of fleets of writer and
// reader processes with each cipher: W = R = 100 and, for the chart in
// BENCHMARKS.md, fleets of 10 to 200 processes, half writers and half
// readers. Under -short (make test, with the race detector) it runs
// W = R = 10 with 200 Gets per reader, which still reach every writer, and
// holds them to the same targets. make bench reports its "fleet-kms:"
// lines.
func TestFleetKMSRequests(t *testing.T) {
	sizes, gets := fleetSizes, fleetGetsPerReader
	if testing.Short() {
		sizes, gets = []int{20}, 200
	}
	for _, n := range sizes {
		for _, cipher := range fleetCiphers {
			run := runFleet(t, cipher, n/2, n/2, gets)
			t.Logf("fleet-kms: cipher=%s writers=%d readers=%d puts-per-writer=%d gets-per-reader=%d kms-requests=%d keystore-getitems=%d",
				run.cipher, run.writers, run.readers, fleetPutsPerWriter, run.gets, run.kms, run.keyStoreGets)
			run.check(t)
		}
	}
}
