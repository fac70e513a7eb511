package benchmarks

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// Counter is the contended item.
type Counter struct {
	ID      string `dynamodbav:"id"`
	N       int    `dynamodbav:"n" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// conflictCounter counts the conditional writes that lost a race.
type conflictCounter struct {
	dynacrypt.DB
	conflicts atomic.Int64
}

func (c *conflictCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := c.DB.PutItem(ctx, in, opts...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		c.conflicts.Add(1)
	}
	return out, err
}

// BenchmarkUpdateContention has 16 workers increment one item with Update
// through two Stores against a real server (dynalite under `make bench`),
// and reports the retries each successful update needed.
func BenchmarkUpdateContention(b *testing.B) {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		b.Skip("AWS_ENDPOINT_URL_DYNAMODB is not set: run `make bench`")
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	table := dynacrypttest.NewTable(b, ddb, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	db := &conflictCounter{DB: ddb}
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUpdateAttempts(1000)}
	stores := [2]*dynacrypt.Store[Counter]{}
	for i := range stores {
		if stores[i], err = dynacrypt.New[Counter](db, table, opts...); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := stores[0].Put(ctx, &Counter{ID: "hot"}); err != nil {
		b.Fatal(err)
	}
	var worker atomic.Int64
	b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		store := stores[worker.Add(1)%2]
		for pb.Next() {
			if _, err := store.Update(ctx, Counter{ID: "hot"}, func(c *Counter) error { c.N++; return nil }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	got, err := stores[1].Get(ctx, Counter{ID: "hot"}, dynacrypt.ConsistentRead())
	if err != nil || got.N != b.N {
		b.Fatalf("counter %v after %d updates (%v): updates were lost", got, b.N, err)
	}
	b.ReportMetric(float64(db.conflicts.Load())/float64(b.N), "retries/update")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
}
