package streams_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// TestViewTypes: an INSERT, a MODIFY and a REMOVE, as streams of each view
// type record them, decode to Records that have Key, and the images the
// view type keeps; the others are nil.
func TestViewTypes(t *testing.T) {
	db, store := kindsStore(t)
	first := sampleKinds("k1")
	before := put(t, db, store, first, "k1")
	second := *first
	second.Token = "tok-2"
	after := put(t, db, store, &second, "k1")

	type version struct {
		item *Kinds
		av   map[string]types.AttributeValue
	}
	v1, v2 := &version{first, before}, &version{&second, after}
	changes := []struct {
		event    string
		old, new *version
	}{{streams.Insert, nil, v1}, {streams.Modify, v1, v2}, {streams.Remove, v2, nil}}

	for _, view := range []string{streams.KeysOnly, streams.NewImage, streams.OldImage, streams.NewAndOldImages} {
		keepsOld := view == streams.OldImage || view == streams.NewAndOldImages
		keepsNew := view == streams.NewImage || view == streams.NewAndOldImages
		var recs []streamstest.Record
		var wantOld, wantNew []*Kinds
		for i, c := range changes {
			r := streamstest.Record{EventName: c.event, SequenceNumber: streamstest.SequenceNumber(i), ViewType: view,
				Table: store.Table(), Keys: keysOf("k1")}
			var o, n *Kinds
			if keepsOld && c.old != nil {
				r.Old, o = c.old.av, c.old.item
			}
			if keepsNew && c.new != nil {
				r.New, n = c.new.av, c.new.item
			}
			recs = append(recs, r)
			wantOld, wantNew = append(wantOld, o), append(wantNew, n)
		}
		for _, v := range vias[Kinds]() {
			t.Run(view+"/"+v.name, func(t *testing.T) {
				got := v.decode(t, store, recs...)
				if len(got) != len(recs) {
					t.Fatalf("%d records, want %d", len(got), len(recs))
				}
				for i, r := range got {
					if r.err != nil {
						t.Fatalf("record %d: %v", i, r.err)
					}
					if r.rec.ViewType != view || r.rec.EventName != changes[i].event || !reflect.DeepEqual(r.rec.Key, Kinds{ID: "k1"}) {
						t.Errorf("record %d: view type %q, event %q, Key %+v", i, r.rec.ViewType, r.rec.EventName, r.rec.Key)
					}
					if !sameKinds(r.rec.Old, wantOld[i]) || !sameKinds(r.rec.New, wantNew[i]) {
						t.Errorf("record %d (%s): Old %+v, New %+v; want %+v, %+v", i, changes[i].event, r.rec.Old, r.rec.New, wantOld[i], wantNew[i])
					}
				}
			})
		}
	}
}
