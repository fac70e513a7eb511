package streams_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// TestRecordsOfDBESDKItems: a stream of a table in DB-ESDK's format,
// items of every attribute type written by a Store with dbesdk.Format,
// decodes as one of dynacrypt's does, through Lambda events and
// GetRecords: the items written, verified and decrypted; an image altered
// in transit is refused with ErrIntegrity.
func TestRecordsOfDBESDKItems(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	kr, err := dbesdk.RawAESKeyring("ns", "k", key)
	if err != nil {
		t.Fatal(err)
	}
	db := dynacrypttest.DynamoDB(t)
	store := dynacrypttest.NewStore[Kinds](t, db, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dbesdk.Format(kr))
	first := sampleKinds("k1")
	before := put(t, db, store, first, "k1")
	if _, ok := before["aws_dbe_head"]; !ok {
		t.Fatal("the stored item is not in DB-ESDK's format")
	}
	second := *first
	second.Token = "tok-2"
	after := put(t, db, store, &second, "k1")
	tampered := make(map[string]types.AttributeValue, len(after))
	for k, v := range after {
		tampered[k] = v
	}
	tampered["name"] = &types.AttributeValueMemberS{Value: "mallory"}
	when := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	recs := []streamstest.Record{
		{EventName: streams.Insert, SequenceNumber: streamstest.SequenceNumber(1), ViewType: streams.NewAndOldImages,
			Table: store.Table(), Time: when, Keys: keysOf("k1"), New: before},
		{EventName: streams.Modify, SequenceNumber: streamstest.SequenceNumber(2), ViewType: streams.NewAndOldImages,
			Table: store.Table(), Time: when, Keys: keysOf("k1"), Old: before, New: after},
		{EventName: streams.Modify, SequenceNumber: streamstest.SequenceNumber(3), ViewType: streams.NewAndOldImages,
			Table: store.Table(), Time: when, Keys: keysOf("k1"), Old: after, New: tampered},
	}
	for _, v := range vias[Kinds]() {
		t.Run(v.name, func(t *testing.T) {
			got := v.decode(t, store, recs...)
			if len(got) != 3 {
				t.Fatalf("%d records decoded, want 3", len(got))
			}
			for i, want := range []struct{ old, new *Kinds }{{nil, first}, {first, &second}} {
				if got[i].err != nil {
					t.Fatalf("record %d: %v", i, got[i].err)
				}
				if !sameKinds(got[i].rec.Old, want.old) || !sameKinds(got[i].rec.New, want.new) {
					t.Errorf("record %d:\n old %+v\nwant %+v\n new %+v\nwant %+v", i, got[i].rec.Old, want.old, got[i].rec.New, want.new)
				}
			}
			if !errors.Is(got[2].err, dynacrypt.ErrIntegrity) {
				t.Fatalf("a tampered image: %v, want ErrIntegrity", got[2].err)
			}
		})
	}
}
