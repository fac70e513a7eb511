package streams_test

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// TestRoundTrip: items of every attribute type, written to dynalite by a
// Store and read back raw, reach a consumer as a Lambda event's JSON and as
// a GetRecords response; the converters give back exactly the stored
// attribute maps, and the iterators the items written, for an INSERT, a
// MODIFY and a REMOVE.
func TestRoundTrip(t *testing.T) {
	db, store := kindsStore(t)
	first := sampleKinds("k1")
	before := put(t, db, store, first, "k1")
	second := *first
	second.Token, second.Name, second.Labels = "tok-2", "ana.b", []string{"eu"}
	after := put(t, db, store, &second, "k1")
	if got := typesIn(before); len(got) != 10 {
		t.Fatalf("the stored item has attribute types %v, want all 10", got)
	}
	when := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	recs := []streamstest.Record{
		{EventName: streams.Insert, SequenceNumber: streamstest.SequenceNumber(1), ViewType: streams.NewAndOldImages,
			Table: store.Table(), Time: when, Keys: keysOf("k1"), New: before},
		{EventName: streams.Modify, SequenceNumber: streamstest.SequenceNumber(2), ViewType: streams.NewAndOldImages,
			Table: store.Table(), Time: when, Keys: keysOf("k1"), Old: before, New: after},
		{EventName: streams.Remove, SequenceNumber: streamstest.SequenceNumber(3), ViewType: streams.NewAndOldImages,
			Table: store.Table(), Time: when, Keys: keysOf("k1"), Old: after},
	}
	for _, v := range vias[Kinds]() {
		t.Run(v.name, func(t *testing.T) {
			images := v.images(t, recs...)
			for i, want := range []any{before, after, before, after} {
				if !reflect.DeepEqual(images[i], want) {
					t.Errorf("image %d converted:\n got %#v\nwant %#v", i, images[i], want)
				}
			}

			got := v.decode(t, store, recs...)
			if len(got) != len(recs) {
				t.Fatalf("%d records decoded, want %d", len(got), len(recs))
			}
			want := []struct{ old, new *Kinds }{{nil, first}, {first, &second}, {&second, nil}}
			for i, r := range got {
				if r.err != nil {
					t.Fatalf("record %d: %v", i, r.err)
				}
				rec := r.rec
				if rec.EventName != recs[i].EventName || rec.SequenceNumber != recs[i].SequenceNumber ||
					rec.EventID != "event-"+recs[i].SequenceNumber || rec.ViewType != streams.NewAndOldImages || !rec.Time.Equal(when) {
					t.Errorf("record %d: %s %s %s %s %v", i, rec.EventID, rec.EventName, rec.SequenceNumber, rec.ViewType, rec.Time)
				}
				if !reflect.DeepEqual(rec.Key, Kinds{ID: "k1"}) {
					t.Errorf("record %d: Key = %+v", i, rec.Key)
				}
				if !sameKinds(rec.Old, want[i].old) || !sameKinds(rec.New, want[i].new) {
					t.Errorf("record %d:\n old %+v\nwant %+v\n new %+v\nwant %+v", i, rec.Old, want[i].old, rec.New, want[i].new)
				}
			}
		})
	}
}

// typesIn lists the attribute types found in av, nested ones included.
func typesIn(av map[string]types.AttributeValue) []string {
	found := map[string]bool{}
	var walk func(v types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			found["S"] = true
		case *types.AttributeValueMemberN:
			found["N"] = true
		case *types.AttributeValueMemberB:
			found["B"] = true
		case *types.AttributeValueMemberBOOL:
			found["BOOL"] = true
		case *types.AttributeValueMemberNULL:
			found["NULL"] = true
		case *types.AttributeValueMemberSS:
			found["SS"] = true
		case *types.AttributeValueMemberNS:
			found["NS"] = true
		case *types.AttributeValueMemberBS:
			found["BS"] = true
		case *types.AttributeValueMemberL:
			found["L"] = true
			for _, e := range v.Value {
				walk(e)
			}
		case *types.AttributeValueMemberM:
			found["M"] = true
			for _, e := range v.Value {
				walk(e)
			}
		}
	}
	walk(&types.AttributeValueMemberM{Value: av})
	return slices.Sorted(maps.Keys(found))
}
