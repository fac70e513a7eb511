package streams_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// TestTamperedRecord: in a batch of three INSERTs, the second's new image
// has one byte of a signed attribute changed (a plaintext one, an encrypted
// one, the header). That record fails with ErrIntegrity in a *RecordError
// naming its sequence number and the table; the records around it decode.
func TestTamperedRecord(t *testing.T) {
	db, store := kindsStore(t)
	var items []map[string]types.AttributeValue
	for _, id := range []string{"k1", "k2", "k3"} {
		items = append(items, put(t, db, store, sampleKinds(id), id))
	}
	edits := map[string]func(av map[string]types.AttributeValue){
		"plaintext": func(av map[string]types.AttributeValue) {
			av["name"] = &types.AttributeValueMemberS{Value: "eva"} // "ana", one byte changed
		},
		"ciphertext": func(av map[string]types.AttributeValue) { flipLastByte(av, "token") },
		"header":     func(av map[string]types.AttributeValue) { flipLastByte(av, "_dynacrypt") },
	}
	for _, what := range slices.Sorted(maps.Keys(edits)) {
		for _, v := range vias[Kinds]() {
			t.Run(what+"/"+v.name, func(t *testing.T) {
				tampered := maps.Clone(items[1])
				edits[what](tampered)
				var recs []streamstest.Record
				for i, id := range []string{"k1", "k2", "k3"} {
					img := items[i]
					if i == 1 {
						img = tampered
					}
					recs = append(recs, streamstest.Record{EventName: streams.Insert, SequenceNumber: streamstest.SequenceNumber(10 + i),
						ViewType: streams.NewImage, Table: store.Table(), Keys: keysOf(id), New: img})
				}
				got := v.decode(t, store, recs...)
				if len(got) != 3 {
					t.Fatalf("%d records, want 3", len(got))
				}
				for _, i := range []int{0, 2} {
					if got[i].err != nil || got[i].rec.New == nil || got[i].rec.New.ID != recs[i].Keys["id"].(*types.AttributeValueMemberS).Value {
						t.Errorf("record %d next to the tampered one: %+v, %v", i, got[i].rec.New, got[i].err)
					}
				}
				checkRecordError(t, got[1], store.Table(), recs[1].SequenceNumber, "NewImage", dynacrypt.ErrIntegrity)
			})
		}
	}
}

// TestKeysDifferFromImage: a record whose Keys name another item than its
// verified image fails with ErrIntegrity: Key must be the key of the item
// that was verified.
func TestKeysDifferFromImage(t *testing.T) {
	db, store := kindsStore(t)
	img := put(t, db, store, sampleKinds("k1"), "k1")
	for _, v := range vias[Kinds]() {
		t.Run(v.name, func(t *testing.T) {
			got := v.decode(t, store, streamstest.Record{EventName: streams.Insert, SequenceNumber: streamstest.SequenceNumber(1),
				ViewType: streams.NewImage, Keys: keysOf("k2"), New: img})
			checkRecordError(t, got[0], store.Table(), streamstest.SequenceNumber(1), "Keys", dynacrypt.ErrIntegrity)
		})
	}
}

// checkRecordError checks that r failed with a *RecordError for that
// table, sequence number and part, wrapping kind, whose message names them,
// and that the Record still says which record it is, without images.
func checkRecordError[T any](t *testing.T, r result[T], table, seq, part string, kind error) {
	t.Helper()
	if !errors.Is(r.err, kind) {
		t.Fatalf("error %v, want %v", r.err, kind)
	}
	var re *streams.RecordError
	if !errors.As(r.err, &re) {
		t.Fatalf("error %T, want a *streams.RecordError", r.err)
	}
	if re.Table != table || re.SequenceNumber != seq || re.Part != part {
		t.Errorf("RecordError{Table: %q, SequenceNumber: %q, Part: %q}, want %q, %q, %q", re.Table, re.SequenceNumber, re.Part, table, seq, part)
	}
	if msg := r.err.Error(); !strings.Contains(msg, table) || !strings.Contains(msg, seq) || !strings.Contains(msg, part) {
		t.Errorf("message %q does not name the table, the sequence number and the part", msg)
	}
	if r.rec.SequenceNumber != seq || r.rec.Old != nil || r.rec.New != nil {
		t.Errorf("failed record: sequence number %q, images %v %v", r.rec.SequenceNumber, r.rec.Old, r.rec.New)
	}
}

func flipLastByte(av map[string]types.AttributeValue, name string) {
	b := slices.Clone(av[name].(*types.AttributeValueMemberB).Value)
	b[len(b)-1] ^= 1
	av[name] = &types.AttributeValueMemberB{Value: b}
}
