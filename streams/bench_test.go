package streams_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/benchitem"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// benchItem is the 1 KB item of the root module's benchmarks.
type benchItem = benchitem.Item

func newBenchItem(id string) *benchItem { return benchitem.New(id) }

func benchStore(b *testing.B, cipher *dynacrypt.AESCipher) *dynacrypt.Store[benchItem] {
	s, err := dynacrypt.New[benchItem](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "bench",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkLambdaEvent measures what a Lambda handler spends on a batch of
// 1,000 INSERT records of the 1 KB item, from a stream of view type
// NEW_IMAGE: converting each record's attribute values, verifying,
// decrypting and unmarshalling its image, in one goroutine. The event is
// parsed off the clock, as the Lambda runtime does before the handler runs,
// and the reader's Store (not the writer's) has unwrapped the writer's root
// key before, as in steady state. records/s and ns/record are per record;
// ns/op is per batch.
func BenchmarkLambdaEvent(b *testing.B) {
	ctx := context.Background()
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	writer, reader := benchStore(b, cipher), benchStore(b, cipher)
	const batch = 1000
	recs := make([]streamstest.Record, batch)
	for i := range recs {
		id := fmt.Sprintf("user-%06d", i)
		av, err := writer.MarshalItem(ctx, newBenchItem(id))
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = streamstest.Record{EventName: streams.Insert, SequenceNumber: streamstest.SequenceNumber(i),
			ViewType: streams.NewImage, Table: "bench", Keys: keysOf(id), New: av}
	}
	event := streamstest.LambdaEvent(recs...)
	decodeAll := func() {
		n := 0
		for rec, err := range streams.Records(ctx, reader, event.Records) {
			if err != nil || rec.New == nil || rec.New.Notes == "" {
				b.Fatalf("record %s: %v", rec.SequenceNumber, err)
			}
			n++
		}
		if n != batch {
			b.Fatalf("%d records decoded, want %d", n, batch)
		}
	}
	decodeAll() // the reader unwraps the root key
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		decodeAll()
	}
	b.StopTimer()
	records := float64(b.N) * batch
	b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
}
