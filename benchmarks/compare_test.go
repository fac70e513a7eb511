package benchmarks

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/benchitem"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Item is the 1 KB item of every scenario, the one every encryption
// benchmark of the project measures (package benchitem): a key, five
// plaintext attributes, three secret fields and a version.
type Item = benchitem.Item

func newItem() *Item { return benchitem.New("user-000001") }

// articleItem is how the article stores the item: secrets as raw KMS
// ciphertext blobs.
type articleItem struct {
	ID       string   `dynamodbav:"id"`
	Username string   `dynamodbav:"username"`
	Email    string   `dynamodbav:"email"`
	Plan     string   `dynamodbav:"plan"`
	Logins   int64    `dynamodbav:"logins"`
	Tags     []string `dynamodbav:"tags"`
	Token    []byte   `dynamodbav:"token"`
	Card     []byte   `dynamodbav:"card"`
	Notes    []byte   `dynamodbav:"notes"`
	Version  int64    `dynamodbav:"version"`
}

// approach is one way of storing Items: a Put and a Get.
type approach struct {
	put func(ctx context.Context, it *Item) error
	get func(ctx context.Context, id string) (*Item, error)
}

const keyID = "alias/bench"

// namedApproach is an approach with its benchmark name and constructor.
type namedApproach struct {
	name string
	make func(ddb *dynamodb.Client, k *kms.Client) (approach, error)
}

// approaches are the four scenarios, by name, in the order they run: (a)
// and (c), whose ratio is the headline, back to back, so that the machine's
// speed changes as little as possible between them.
var approaches = []namedApproach{
	{"raw-sdk", rawSDK},
	{"dynacrypt", dynacryptCached},
	{"article-kms-per-field", articlePerField},
	{"dynacrypt-no-cache", func(ddb *dynamodb.Client, k *kms.Client) (approach, error) {
		return withStore(ddb, k, "dynacrypt-no-cache", dynacrypt.WithoutKeyCache())
	}},
}

// rawStoredBytes is (a'): (a) with the bytes (c) sends and receives, the
// ciphertexts and header of a Store's item as plain binaries: what the
// larger, base64-encoded payload costs the SDK and the stub, with no
// encryption. (c)/(a') is what dynacrypt's own code costs.
func rawStoredBytes(ddb *dynamodb.Client, k *kms.Client) (approach, error) {
	const table = "raw-sdk-stored-bytes"
	s, err := dynacrypt.New[Item](ddb, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, keyID)))
	if err != nil {
		return approach{}, err
	}
	av, err := s.MarshalItem(context.Background(), newItem())
	if err != nil {
		return approach{}, err
	}
	var form benchitem.Stored
	if err := attributevalue.UnmarshalMap(av, &form); err != nil {
		return approach{}, err
	}
	return approach{
		put: func(ctx context.Context, it *Item) error {
			f := form
			f.ID, f.Username, f.Email, f.Plan, f.Logins, f.Tags = it.ID, it.Username, it.Email, it.Plan, it.Logins, it.Tags
			return putItem(ctx, ddb, table, &f)
		},
		get: func(ctx context.Context, id string) (*Item, error) {
			var f benchitem.Stored
			if err := getItem(ctx, ddb, table, id, &f); err != nil {
				return nil, err
			}
			// The secrets as they were: this approach only carries their bytes.
			want := newItem()
			return &Item{ID: f.ID, Username: f.Username, Email: f.Email, Plan: f.Plan, Logins: f.Logins, Tags: f.Tags,
				Token: want.Token, Card: want.Card, Notes: want.Notes}, nil
		},
	}, nil
}

// dynacryptCached is approach (c): a Store with the default key cache.
func dynacryptCached(ddb *dynamodb.Client, k *kms.Client) (approach, error) {
	return withStore(ddb, k, "dynacrypt")
}

// putItem and getItem are the plain SDK calls of approaches (a) and (b).
func putItem(ctx context.Context, ddb *dynamodb.Client, table string, v any) error {
	av, err := attributevalue.MarshalMap(v)
	if err != nil {
		return err
	}
	_, err = ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: av})
	return err
}

func getItem(ctx context.Context, ddb *dynamodb.Client, table, id string, v any) error {
	out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
	if err != nil {
		return err
	}
	return attributevalue.UnmarshalMap(out.Item, v)
}

// rawSDK is (a): attributevalue and PutItem/GetItem, no encryption.
func rawSDK(ddb *dynamodb.Client, _ *kms.Client) (approach, error) {
	const table = "raw-sdk"
	return approach{
		put: func(ctx context.Context, it *Item) error { return putItem(ctx, ddb, table, it) },
		get: func(ctx context.Context, id string) (*Item, error) {
			it := new(Item)
			return it, getItem(ctx, ddb, table, id, it)
		},
	}, nil
}

// articlePerField is (b): the article's code on aws-sdk-go-v2, one KMS
// Encrypt per secret field before PutItem and one Decrypt per field after
// GetItem.
func articlePerField(ddb *dynamodb.Client, k *kms.Client) (approach, error) {
	const table = "article-kms-per-field"
	encrypt := func(ctx context.Context, s string) ([]byte, error) {
		out, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: ptr(keyID), Plaintext: []byte(s)})
		if err != nil {
			return nil, err
		}
		return out.CiphertextBlob, nil
	}
	decrypt := func(ctx context.Context, b []byte) (string, error) {
		out, err := k.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b})
		if err != nil {
			return "", err
		}
		return string(out.Plaintext), nil
	}
	return approach{
		put: func(ctx context.Context, it *Item) error {
			a := articleItem{ID: it.ID, Username: it.Username, Email: it.Email, Plan: it.Plan, Logins: it.Logins, Tags: it.Tags, Version: it.Version}
			var err error
			if a.Token, err = encrypt(ctx, it.Token); err != nil {
				return err
			}
			if a.Card, err = encrypt(ctx, it.Card); err != nil {
				return err
			}
			if a.Notes, err = encrypt(ctx, it.Notes); err != nil {
				return err
			}
			return putItem(ctx, ddb, table, a)
		},
		get: func(ctx context.Context, id string) (*Item, error) {
			var a articleItem
			err := getItem(ctx, ddb, table, id, &a)
			if err != nil {
				return nil, err
			}
			it := &Item{ID: a.ID, Username: a.Username, Email: a.Email, Plan: a.Plan, Logins: a.Logins, Tags: a.Tags, Version: a.Version}
			if it.Token, err = decrypt(ctx, a.Token); err != nil {
				return nil, err
			}
			if it.Card, err = decrypt(ctx, a.Card); err != nil {
				return nil, err
			}
			if it.Notes, err = decrypt(ctx, a.Notes); err != nil {
				return nil, err
			}
			return it, nil
		},
	}, nil
}

// withStore is (c) and (d): a dynacrypt Store over the same stub.
func withStore(ddb *dynamodb.Client, k *kms.Client, table string, opts ...dynacrypt.Option) (approach, error) {
	s, err := dynacrypt.New[Item](ddb, table, append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, keyID))}, opts...)...)
	if err != nil {
		return approach{}, err
	}
	return approach{
		put: func(ctx context.Context, it *Item) error { return s.Put(ctx, it) },
		get: func(ctx context.Context, id string) (*Item, error) { return s.Get(ctx, Item{ID: id}) },
	}, nil
}

func ptr(s string) *string { return &s }

// setup makes an approach over st and records, with one Put, the item its
// Gets will return.
func setup(b *testing.B, st *stub, make func(*dynamodb.Client, *kms.Client) (approach, error)) approach {
	ddb, k := st.clients()
	a, err := make(ddb, k)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	want := newItem()
	if err := a.put(ctx, want); err != nil {
		b.Fatal(err)
	}
	st.recording.Store(false)
	got, err := a.get(ctx, want.ID)
	if err != nil {
		b.Fatal(err)
	}
	if got.Notes != want.Notes || got.Card != want.Card {
		b.Fatal("the round trip through the stub changed the item")
	}
	return a
}

// BenchmarkPutGet measures one Put and one Get of the 1 KB item per
// operation, sequentially, for each approach. cpu-ns/op is the process's
// CPU time (client and stub) per operation; kms-req/op counts requests.
func BenchmarkPutGet(b *testing.B) {
	for _, ap := range approaches {
		b.Run(ap.name, func(b *testing.B) {
			st := newStub(b, 0)
			a := setup(b, st, ap.make)
			ctx := context.Background()
			item := newItem()
			kms0 := st.kmsRequests.Load()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := testrig.CPUTime()
			for i := 0; i < b.N; i++ {
				if err := a.put(ctx, item); err != nil {
					b.Fatal(err)
				}
				if _, err := a.get(ctx, item.ID); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((testrig.CPUTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(st.kmsRequests.Load()-kms0)/float64(b.N), "kms-req/op")
		})
	}
}

// BenchmarkPutGetInterleaved measures the CPU time of (a), (c) and (a')
// as BenchmarkPutGet does, but in turns of 50 operations each, so that
// all three see the same moods of a shared machine: their ratios move far
// less from round to round than those of benchmarks run one after another
// for seconds each. An operation is one Put and one Get by each approach;
// <name>-cpu-ns/op is one approach's share.
func BenchmarkPutGetInterleaved(b *testing.B) {
	named := []namedApproach{approaches[0], approaches[1], {"raw-sdk-stored-bytes", rawStoredBytes}}
	aps := make([]approach, len(named))
	for i, n := range named {
		aps[i] = setup(b, newStub(b, 0), n.make)
	}
	ctx := context.Background()
	item := newItem()
	cpu := make([]time.Duration, len(aps))
	const turn = 50
	b.ResetTimer()
	for done := 0; done < b.N; done += turn {
		for i, a := range aps {
			// Each turn starts from a collected heap, so that it pays for
			// the collections its own garbage causes, not the last turn's.
			runtime.GC()
			cpu0 := testrig.CPUTime()
			for range min(turn, b.N-done) {
				if err := a.put(ctx, item); err != nil {
					b.Fatal(err)
				}
				if _, err := a.get(ctx, item.ID); err != nil {
					b.Fatal(err)
				}
			}
			cpu[i] += testrig.CPUTime() - cpu0
		}
	}
	b.StopTimer()
	for i, n := range named {
		b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(b.N), n.name+"-cpu-ns/op")
	}
}

// BenchmarkPutGetKMSLatency runs the same operations from 16 concurrent
// workers while every KMS request takes 5 ms, and reports operations per
// second: where KMS is on the hot path, its latency bounds throughput.
func BenchmarkPutGetKMSLatency(b *testing.B) {
	const workers = 16
	for _, ap := range approaches {
		b.Run(ap.name, func(b *testing.B) {
			st := newStub(b, 5*time.Millisecond)
			a := setup(b, st, ap.make)
			ctx := context.Background()
			var failed atomic.Int64
			b.SetParallelism((workers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				item := newItem()
				for pb.Next() {
					if a.put(ctx, item) != nil {
						failed.Add(1)
					}
					if _, err := a.get(ctx, item.ID); err != nil {
						failed.Add(1)
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d operations failed", failed.Load())
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
		})
	}
}

// TestKMSRequestsFor10000 counts the KMS requests of 10,000 Puts and 10,000
// Gets in one process, for the article's approach and for dynacrypt.
func TestKMSRequestsFor10000(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 1_000 // make test; make bench runs the 10,000 its report quotes
	}
	for _, tc := range []struct {
		name     string
		make     func(*dynamodb.Client, *kms.Client) (approach, error)
		atMost   int64
		atLeast  int64
		parallel int
	}{
		{"article-kms-per-field", articlePerField, -1, 2 * int64(n), 16}, // one Encrypt per Put, one Decrypt per Get
		{"dynacrypt", dynacryptCached, 2, 0, 16},
	} {
		st := newStub(t, 0)
		ddb, k := st.clients()
		a, err := tc.make(ddb, k)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// The first Put records the item the Gets return; it counts.
		if err := a.put(ctx, newItem()); err != nil {
			t.Fatal(err)
		}
		st.recording.Store(false)
		errs := make(chan error, tc.parallel)
		for w := 0; w < tc.parallel; w++ {
			go func() {
				item := newItem()
				for i := w; i < n; i += tc.parallel {
					if i > 0 {
						if err := a.put(ctx, item); err != nil {
							errs <- err
							return
						}
					}
					if _, err := a.get(ctx, item.ID); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for w := 0; w < tc.parallel; w++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got := st.kmsRequests.Load()
		t.Logf("kms-requests-10000: %s %d", tc.name, got)
		if tc.atMost >= 0 && got > tc.atMost {
			t.Errorf("%s: %d KMS requests, want at most %d", tc.name, got, tc.atMost)
		}
		if got < tc.atLeast {
			t.Errorf("%s: %d KMS requests, want at least %d", tc.name, got, tc.atLeast)
		}
	}
}
