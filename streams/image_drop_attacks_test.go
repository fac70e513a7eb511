package streams_test

import (
	"errors"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// TestImageStreamRecordWithoutItsImagesRefused: someone who can write the
// stream takes a record of a NEW_AND_OLD_IMAGES stream, drops its images
// and puts another item's Keys in: a REMOVE of bob that never happened, say.
// With no image left, nothing binds Key, and the record decodes without
// error into the Key the attacker chose; a consumer that deletes what
// REMOVE names deletes bob's derived data. So does an INSERT or MODIFY
// whose images were dropped, and a REMOVE that carries a genuine new image
// (an INSERT replayed as a removal), which the package's own constants say
// a REMOVE never has. Safe: a record whose own view type promises images
// its event must have, but which lacks them, or which has an image its
// event cannot have, is ErrIntegrity.
func TestImageStreamRecordWithoutItsImagesRefused(t *testing.T) {
	store, _, ana1, _, _ := memberImages(t)
	bobKeys := memberKeys("acme", "bob")
	cases := map[string]streamstest.Record{
		"new-and-old/remove-without-old-image": {EventName: streams.Remove, ViewType: streams.NewAndOldImages, Keys: bobKeys},
		"old-image/remove-without-old-image":   {EventName: streams.Remove, ViewType: streams.OldImage, Keys: bobKeys},
		"new-and-old/insert-without-new-image": {EventName: streams.Insert, ViewType: streams.NewAndOldImages, Keys: bobKeys},
		"new-image/modify-without-new-image":   {EventName: streams.Modify, ViewType: streams.NewImage, Keys: bobKeys},
		"new-and-old/remove-with-new-image":    {EventName: streams.Remove, ViewType: streams.NewAndOldImages, Keys: memberKeys("acme", "ana"), New: ana1},
	}
	for _, v := range vias[Member]() {
		for name, rec := range cases {
			t.Run(v.name+"/"+name, func(t *testing.T) {
				rec.SequenceNumber, rec.Table = streamstest.SequenceNumber(1), store.Table()
				got := v.decode(t, store, rec)
				if !errors.Is(got[0].err, dynacrypt.ErrIntegrity) {
					t.Errorf("ATTACK WORKS: record decoded with Key %+v, old %v, new %v, error %v; want ErrIntegrity",
						got[0].rec.Key, got[0].rec.Old, got[0].rec.New, got[0].err)
				}
			})
		}
	}
}
