package dbesdk_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/benchitem"
	"github.com/dynacrypt/dynacrypt/internal/testenv"
)

// format is a way the benchmarks' Stores and Items write items.
type format struct {
	name string
	opts []dynacrypt.Option
	// skip, if set, says why the format cannot run here.
	skip string
	// requests, if set, counts the key service requests of its keyring,
	// which must make none per operation.
	requests func() int64
}

// formats are what the benchmarks compare: dynacrypt's own format (the
// AES Cipher, root key cached) and DB-ESDK's with a raw AES keyring, in
// both suites (a fresh data key per item, as in DB-ESDK).
func formats(b *testing.B) []format {
	c, err := dynacrypt.NewAESCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	kr := rawAES(b, make([]byte, 32))
	return []format{
		{name: "store", opts: []dynacrypt.Option{dynacrypt.WithCipher(c)}},
		{name: "dbesdk-6700-rawaes", opts: []dynacrypt.Option{dbesdk.Format(kr, dbesdk.WithSuite(dbesdk.SuiteSymSig))}},
		{name: "dbesdk-6701-rawaes", opts: []dynacrypt.Option{dbesdk.Format(kr)}},
	}
}

// withHierarchical is formats and DB-ESDK's format with a hierarchical
// keyring in both suites, over a DB-ESDK key store on the test servers
// whose branch key the keyring has cached once the benchmark's first
// operation (before the timer starts) fetched it: no key store request per
// operation, as in a service that runs. Without the servers those two
// formats are skipped.
func withHierarchical(b *testing.B) []format {
	fs := formats(b)
	var kr *dbesdk.Keyring
	var requests func() int64
	skip := ""
	if os.Getenv(testenv.DynamoDBVar) == "" || os.Getenv(testenv.KMSVar) == "" {
		skip = fmt.Sprintf("%s and %s are not set: the hierarchical keyring's key store needs dynalite and local-kms (scripts/with-servers.sh)", testenv.DynamoDBVar, testenv.KMSVar)
	} else {
		ks := newBranchKeyStore(b)
		kr, requests = ks.keyring(), ks.kms.Requests
	}
	for _, s := range []struct {
		name  string
		suite dbesdk.Suite
	}{{"6700", dbesdk.SuiteSymSig}, {"6701", dbesdk.SuiteECDSASymSig}} {
		f := format{name: "dbesdk-" + s.name + "-hierarchical", skip: skip, requests: requests}
		if kr != nil {
			f.opts = []dynacrypt.Option{dbesdk.Format(kr, dbesdk.WithSuite(s.suite))}
		}
		fs = append(fs, f)
	}
	return fs
}

// run runs op for the benchmark, after one op to warm up (a hierarchical
// keyring fetches its branch key), and fails it if the format's keyring
// made a request while timed.
func (f format) run(b *testing.B, op func()) {
	op()
	var before int64
	if f.requests != nil {
		before = f.requests()
	}
	b.ReportAllocs()
	for b.Loop() {
		op()
	}
	if f.requests != nil {
		if n := f.requests() - before; n != 0 {
			b.Fatalf("%d key service requests in %d operations: the branch key was not cached", n, b.N)
		}
	}
}

// BenchmarkInMemoryPutGet is the root package's benchmark of the same
// name (whose "plain" is attributevalue alone) with DB-ESDK's format beside
// dynacrypt's: a Put and a Get of the 1 KB item through an in-memory DB.
// "store" is a Store in dynacrypt's format; "dbesdk-6700-rawaes" and
// "dbesdk-6701-rawaes" Stores in DB-ESDK's with a raw AES keyring (target
// for 0x6700: at most 3 times "store"; DB-ESDK's Go beta takes about 2 ms
// and 4 ms), "dbesdk-6700-hierarchical" and "dbesdk-6701-hierarchical"
// with a hierarchical keyring whose branch key is cached.
func BenchmarkInMemoryPutGet(b *testing.B) {
	ctx := context.Background()
	for _, f := range withHierarchical(b) {
		b.Run(f.name, func(b *testing.B) {
			if f.skip != "" {
				b.Skip(f.skip)
			}
			putGet := putGetOf(b, f.opts)
			f.run(b, func() { putGet(ctx) })
		})
	}
}

// putGetOf returns one Put and one Get of the 1 KB item by a versioned
// Store over an in-memory DB, with opts.
func putGetOf(b *testing.B, opts []dynacrypt.Option) func(context.Context) {
	opts = append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version")}, opts...)
	s, err := dynacrypt.New[benchitem.Item](benchitem.NewMemDB(), "bench", opts...)
	if err != nil {
		b.Fatal(err)
	}
	item := benchitem.New("user-000001")
	item.Version = 0
	key := benchitem.Item{ID: item.ID}
	return func(ctx context.Context) {
		if err := s.Put(ctx, item); err != nil {
			b.Fatal(err)
		}
		got, err := s.Get(ctx, key)
		if err != nil || got.Card != item.Card {
			b.Fatal(err)
		}
	}
}

// BenchmarkInMemoryPutGetInterleaved runs BenchmarkInMemoryPutGet's
// "store" and "dbesdk-6700-rawaes" in turns of 20 operations, each turn
// from a collected heap, and reports each one's ns/op: both see the same
// state of a shared machine, which two benchmarks run one after the other
// do not, so their ratio is steadier.
func BenchmarkInMemoryPutGetInterleaved(b *testing.B) {
	ctx := context.Background()
	fs := formats(b)[:2]
	putGets := make([]func(context.Context), len(fs))
	for i, f := range fs {
		putGets[i] = putGetOf(b, f.opts)
	}
	spent := make([]time.Duration, len(fs))
	const turn = 20
	b.ResetTimer()
	for done := 0; done < b.N; done += turn {
		for i, putGet := range putGets {
			runtime.GC()
			start := time.Now()
			for range min(turn, b.N-done) {
				putGet(ctx)
			}
			spent[i] += time.Since(start)
		}
	}
	b.StopTimer()
	for i, f := range fs {
		b.ReportMetric(float64(spent[i].Nanoseconds())/float64(b.N), f.name+"-ns/op")
	}
}

// BenchmarkItemRoundTrip seals and opens the 1 KB item's attribute map
// with Items (no Go type, no DB), in the formats of
// BenchmarkInMemoryPutGet.
func BenchmarkItemRoundTrip(b *testing.B) {
	ctx := context.Background()
	plain, err := attributevalue.MarshalMap(benchitem.New("user-000001"))
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range withHierarchical(b) {
		b.Run(f.name, func(b *testing.B) {
			if f.skip != "" {
				b.Skip(f.skip)
			}
			opts := append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token", "card", "notes")}, f.opts...)
			items, err := dynacrypt.NewItems("bench", opts...)
			if err != nil {
				b.Fatal(err)
			}
			f.run(b, func() {
				sealed, err := items.Seal(ctx, plain)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := items.Open(ctx, sealed); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
