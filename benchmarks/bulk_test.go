package benchmarks

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// bulkItems is how many items one load writes.
const bulkItems = 10_000

// BenchmarkBulkLoad loads 10,000 items into an empty table of a versioned
// Store against a real server (dynalite under `make bench`): with BatchPut,
// which sends one conditional PutItem per item, and with BatchPut and
// Overwrite, which sends BatchWriteItem requests of 25. It reports items
// written per second.
func BenchmarkBulkLoad(b *testing.B) {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		b.Skip("AWS_ENDPOINT_URL_DYNAMODB is not set: run `make bench`")
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts []dynacrypt.WriteOption
	}{{"conditional", nil}, {"overwrite", []dynacrypt.WriteOption{dynacrypt.Overwrite()}}} {
		b.Run(mode.name, func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				table := dynacrypttest.NewTable(b, ddb, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
				store, err := dynacrypt.New[Item](ddb, table, dynacrypt.WithPartitionKey("id"),
					dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
				if err != nil {
					b.Fatal(err)
				}
				items := make([]*Item, bulkItems)
				for j := range items {
					items[j] = newItem()
					items[j].ID, items[j].Version = fmt.Sprintf("item-%05d", j), 0 // new items
				}
				b.StartTimer()
				start := time.Now()
				if err := store.BatchPut(context.Background(), items, mode.opts...); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(b.N*bulkItems)/elapsed.Seconds(), "items/s")
		})
	}
}
