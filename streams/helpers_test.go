package streams_test

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// Address is a nested struct, stored as a map.
type Address struct {
	Street string `dynamodbav:"street"`
	Zip    int    `dynamodbav:"zip"`
}

// Kinds has a field of every kind attributevalue stores, plain and
// encrypted, so that every attribute type goes through the converters, the
// signature and the decryption.
type Kinds struct {
	ID string `dynamodbav:"id"`

	Name    string                `dynamodbav:"name"`
	Count   int64                 `dynamodbav:"count"`
	Ratio   float64               `dynamodbav:"ratio"`
	Big     attributevalue.Number `dynamodbav:"big"` // more digits than a float64 holds
	Blob    []byte                `dynamodbav:"blob"`
	Flag    bool                  `dynamodbav:"flag"`
	When    time.Time             `dynamodbav:"when"`
	Missing *string               `dynamodbav:"missing"` // nil: NULL
	Tags    []string              `dynamodbav:"tags"`
	Empty   []int                 `dynamodbav:"empty"`
	Attrs   map[string]string     `dynamodbav:"attrs"`
	Home    Address               `dynamodbav:"home"`
	Labels  []string              `dynamodbav:"labels,stringset"`
	Scores  []int                 `dynamodbav:"scores,numberset"`
	Hashes  [][]byte              `dynamodbav:"hashes,binaryset"`

	Token     string           `dynamodbav:"token" encrypt:"kms"`
	Secret    []byte           `dynamodbav:"secret" encrypt:"kms"`
	PIN       int              `dynamodbav:"pin" encrypt:"kms"`
	Verified  bool             `dynamodbav:"verified" encrypt:"kms"`
	NilSecret *string          `dynamodbav:"nilsecret" encrypt:"kms"`
	History   []any            `dynamodbav:"history" encrypt:"kms"`
	Meta      map[string][]int `dynamodbav:"meta" encrypt:"kms"`
	Work      *Address         `dynamodbav:"work" encrypt:"kms"`
	Codes     []string         `dynamodbav:"codes,stringset" encrypt:"kms"`
	Amounts   []float64        `dynamodbav:"amounts,numberset" encrypt:"kms"`
	Keys      [][]byte         `dynamodbav:"keys,binaryset" encrypt:"kms"`

	Version int64 `dynamodbav:"version"`
}

func sampleKinds(id string) *Kinds {
	return &Kinds{
		ID:    id,
		Name:  "ana",
		Count: -42, Ratio: 0.125, Big: "12345678901234567890.123456789012345",
		Blob:   []byte{0, 1, 2, 0xfe, 0xff},
		Flag:   true,
		When:   time.Date(2026, 11, 27, 6, 0, 0, 123, time.UTC),
		Tags:   []string{"b", "a"},
		Empty:  []int{},
		Attrs:  map[string]string{"lang": "pt", "tz": "Europe/Lisbon"},
		Home:   Address{Street: "Rua Augusta", Zip: 1100},
		Labels: []string{"admin", "beta", "eu"},
		Scores: []int{3, 1, 2},
		Hashes: [][]byte{{1, 2}, {3, 4}, {0}},

		Token:    "tok-1",
		Secret:   []byte("\x00secret\xff"),
		PIN:      1234,
		Verified: true,
		History:  []any{"created", 1.5, false, nil, map[string]any{"by": "admin"}, []any{"x"}},
		Meta:     map[string][]int{"logins": {1, 2, 3}},
		Work:     &Address{Street: "Avenida da Liberdade", Zip: 1250},
		Codes:    []string{"x", "y"},
		Amounts:  []float64{9.99, 0.01},
		Keys:     [][]byte{[]byte("k1"), []byte("k2")},
	}
}

// sameKinds compares two Kinds, ignoring the order of the sets.
func sameKinds(got, want *Kinds) bool {
	if got == nil || want == nil {
		return got == want
	}
	g, w := *got, *want
	for _, k := range []*Kinds{&g, &w} {
		k.Labels = slices.Sorted(slices.Values(k.Labels))
		k.Scores = slices.Sorted(slices.Values(k.Scores))
		k.Hashes = slices.SortedFunc(slices.Values(k.Hashes), bytes.Compare)
		k.Codes = slices.Sorted(slices.Values(k.Codes))
		k.Amounts = slices.Sorted(slices.Values(k.Amounts))
		k.Keys = slices.SortedFunc(slices.Values(k.Keys), bytes.Compare)
		k.When = k.When.UTC()
	}
	return reflect.DeepEqual(&g, &w)
}

// kindsStore is a Store of Kinds over a new dynalite table.
func kindsStore(t *testing.T) (*dynamodb.Client, *dynacrypt.Store[Kinds]) {
	t.Helper()
	db := dynacrypttest.DynamoDB(t)
	return db, dynacrypttest.NewStore[Kinds](t, db, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
}

// put writes item with the Store and returns the item as stored, read back
// raw with GetItem: what a stream record's image holds.
func put[T any](t *testing.T, db *dynamodb.Client, s *dynacrypt.Store[T], item *T, id string) map[string]types.AttributeValue {
	t.Helper()
	ctx := context.Background()
	if err := s.Put(ctx, item); err != nil {
		t.Fatal(err)
	}
	return rawGet(t, db, s.Table(), id)
}

func rawGet(t *testing.T, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: keysOf(id),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem %s: %v, %v", id, out, err)
	}
	return out.Item
}

// keysOf is the Keys of a record of the item with partition key id.
func keysOf(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}
}

// result is what an iterator yielded for one record.
type result[T any] struct {
	rec streams.Record[T]
	err error
}

// via is a way records reach a consumer: a Lambda event or GetRecords.
type via[T any] struct {
	name string
	// decode renders recs as that way delivers them, and decodes them.
	decode func(t *testing.T, s *dynacrypt.Store[T], recs ...streamstest.Record) []result[T]
	// decodeWith is decode with read options.
	decodeWith func(t *testing.T, s *dynacrypt.Store[T], opts []dynacrypt.ReadOption, recs ...streamstest.Record) []result[T]
	// images renders recs the same way and converts their images, in
	// order, New before Old, skipping those left out.
	images func(t *testing.T, recs ...streamstest.Record) []map[string]types.AttributeValue
}

func vias[T any]() []via[T] {
	return []via[T]{
		{"lambda", viaLambda[T], lambdaWith[T], lambdaImages},
		{"streams-api", viaStreamsAPI[T], streamsAPIWith[T], streamsImages},
	}
}

func viaLambda[T any](t *testing.T, s *dynacrypt.Store[T], recs ...streamstest.Record) []result[T] {
	return lambdaWith(t, s, nil, recs...)
}

func lambdaWith[T any](t *testing.T, s *dynacrypt.Store[T], opts []dynacrypt.ReadOption, recs ...streamstest.Record) []result[T] {
	return collect(streams.Records(context.Background(), s, streamstest.LambdaEvent(recs...).Records, opts...))
}

func viaStreamsAPI[T any](t *testing.T, s *dynacrypt.Store[T], recs ...streamstest.Record) []result[T] {
	return streamsAPIWith(t, s, nil, recs...)
}

func streamsAPIWith[T any](t *testing.T, s *dynacrypt.Store[T], opts []dynacrypt.ReadOption, recs ...streamstest.Record) []result[T] {
	return collect(streams.StreamsRecords(context.Background(), s, streamstest.StreamsRecords(recs...), opts...))
}

func lambdaImages(t *testing.T, recs ...streamstest.Record) []map[string]types.AttributeValue {
	var out []map[string]types.AttributeValue
	for _, r := range streamstest.LambdaEvent(recs...).Records {
		for _, img := range []map[string]events.DynamoDBAttributeValue{r.Change.NewImage, r.Change.OldImage} {
			if img != nil {
				av, err := streams.FromLambda(img)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, av)
			}
		}
	}
	return out
}

func streamsImages(t *testing.T, recs ...streamstest.Record) []map[string]types.AttributeValue {
	var out []map[string]types.AttributeValue
	for _, r := range streamstest.StreamsRecords(recs...) {
		for _, img := range []map[string]streamstypes.AttributeValue{r.Dynamodb.NewImage, r.Dynamodb.OldImage} {
			if img != nil {
				av, err := streams.FromStreams(img)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, av)
			}
		}
	}
	return out
}

func collect[T any](seq func(func(streams.Record[T], error) bool)) []result[T] {
	var out []result[T]
	for rec, err := range seq {
		out = append(out, result[T]{rec, err})
	}
	return out
}
