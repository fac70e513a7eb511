package streams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/internal/streamstest"
)

// benchItem is the 1 KB item of the root module's benchmarks (bench_test.go):
// a key, five plaintext attributes and three encrypted fields.
type benchItem struct {
	ID       string   `dynamodbav:"id"`
	Username string   `dynamodbav:"username"`
	Email    string   `dynamodbav:"email"`
	Plan     string   `dynamodbav:"plan"`
	Logins   int64    `dynamodbav:"logins"`
	Tags     []string `dynamodbav:"tags"`
	Token    string   `dynamodbav:"token" encrypt:"kms"`
	Card     string   `dynamodbav:"card" encrypt:"kms"`
	Notes    string   `dynamodbav:"notes" encrypt:"kms"`
	Version  int64    `dynamodbav:"version"`
}

func newBenchItem(id string) *benchItem {
	return &benchItem{
		ID: id, Username: "ana.b", Email: "ana@example.com", Plan: "enterprise",
		Logins: 4242, Tags: []string{"beta", "eu-west", "admin"},
		Token: strings.Repeat("t", 64), Card: "4111111111111111",
		Notes:   strings.Repeat("n", 800),
		Version: 7,
	}
}

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
	var event events.DynamoDBEvent
	if err := json.Unmarshal(streamstest.LambdaEvent(recs...), &event); err != nil {
		b.Fatal(err)
	}
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
