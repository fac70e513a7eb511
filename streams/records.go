package streams

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/dynacrypt/dynacrypt"
)

// Records decodes the records of a Lambda DynamoDB stream event
// ([events.DynamoDBEvent].Records) of store's table, in order: each image is
// verified and decrypted as [dynacrypt.Store.Get] does with an item, with
// opts applied to each ([dynacrypt.SkipDecryption], for a consumer without
// the Cipher, reads plaintext fields without verifying, as Get does).
//
// A record that fails yields its error, a *[RecordError], with a Record that
// has the record's event ID, name, sequence number, time and view type, Key
// if the keys decoded (unverified), and no images; the loop can go on to the
// next record. An image that was changed, or was not written by a Store
// with this table's Cipher, fails with an error wrapping
// [dynacrypt.ErrIntegrity], and so does a record whose Keys are not exactly
// the key attributes of its images (see [Record].Key).
// Retrying such a record cannot help: log it, alert, and carry on. Other
// errors (a Cipher that cannot be reached, a cancelled ctx) are worth a
// retry, which Lambda does for the records reported in
// [events.DynamoDBEventResponse]'s BatchItemFailures, by sequence number.
//
// Breaking out of the loop stops the decoding.
func Records[T any](ctx context.Context, store *dynacrypt.Store[T], records []events.DynamoDBEventRecord, opts ...dynacrypt.ReadOption) iter.Seq2[Record[T], error] {
	return func(yield func(Record[T], error) bool) {
		d := newDecoder(ctx, store, opts)
		for i := range records {
			r := &records[i]
			rec := Record[T]{
				EventID: r.EventID, EventName: r.EventName, SequenceNumber: r.Change.SequenceNumber,
				Time: r.Change.ApproximateCreationDateTime.Time, ViewType: r.Change.StreamViewType,
			}
			err := decode(d, &rec, r.Change.Keys, r.Change.OldImage, r.Change.NewImage, fromLambda)
			if !yield(rec, err) {
				return
			}
		}
	}
}

// StreamsRecords decodes records from the DynamoDB Streams API
// (dynamodbstreams.GetRecordsOutput.Records) of store's table, in order, as
// [Records] does those of a Lambda event. The API's records do not name
// their table: make sure the stream is that of store's table.
func StreamsRecords[T any](ctx context.Context, store *dynacrypt.Store[T], records []streamstypes.Record, opts ...dynacrypt.ReadOption) iter.Seq2[Record[T], error] {
	return func(yield func(Record[T], error) bool) {
		d := newDecoder(ctx, store, opts)
		for i := range records {
			r := &records[i]
			rec := Record[T]{EventID: aws.ToString(r.EventID), EventName: string(r.EventName)}
			var err error
			if c := r.Dynamodb; c == nil {
				err = &RecordError{Table: store.Table(), EventID: rec.EventID, Part: "dynamodb", Err: errors.New("the record has no stream record")}
			} else {
				rec.SequenceNumber, rec.Time, rec.ViewType = aws.ToString(c.SequenceNumber), aws.ToTime(c.ApproximateCreationDateTime), string(c.StreamViewType)
				err = decode(d, &rec, c.Keys, c.OldImage, c.NewImage, fromStreams)
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}

// decoder holds what decoding the records of one batch shares.
type decoder[T any] struct {
	ctx     context.Context
	store   *dynacrypt.Store[T]
	opts    []dynacrypt.ReadOption
	keyAttr []string                // the table's key attributes
	keys    *attributevalue.Decoder // reused: UnmarshalMap makes one per call
}

func newDecoder[T any](ctx context.Context, store *dynacrypt.Store[T], opts []dynacrypt.ReadOption) *decoder[T] {
	return &decoder[T]{ctx: ctx, store: store, opts: opts, keyAttr: store.KeyAttributes(), keys: attributevalue.NewDecoder()}
}

// decode fills rec's Key, Old and New from a record's keys and images,
// converted by conv. On failure it leaves Old and New nil and returns a
// *RecordError.
//
// Keys are not signed: they must hold exactly the table's key attributes,
// each equal to every image's, which the image's signature covers. So Key
// is the key of the item whose images were verified, and an Old and a New
// image of two items cannot both match. The keys are checked before the
// images are verified, so that a record refused for them costs no Cipher
// call.
func decode[T, V any](d *decoder[T], rec *Record[T], keys, old, new map[string]V, conv func(V) (types.AttributeValue, error)) error {
	fail := func(part string, err error) error {
		return &RecordError{Table: d.store.Table(), SequenceNumber: rec.SequenceNumber, EventID: rec.EventID, Part: part, Err: err}
	}
	if err := checkImages(rec.EventName, rec.ViewType, old != nil, new != nil); err != nil {
		return fail("images", err)
	}
	keyAV, err := convertMap(keys, conv)
	if err != nil {
		return fail("Keys", err)
	}
	if err := d.checkKeyNames(keyAV); err != nil {
		return fail("Keys", err)
	}
	if err := d.unmarshalKeys(keyAV, &rec.Key); err != nil {
		return fail("Keys", err)
	}
	var avs [2]map[string]types.AttributeValue
	for i, img := range [2]map[string]V{old, new} {
		if img == nil {
			continue
		}
		if avs[i], err = convertMap(img, conv); err != nil {
			return fail(imageParts[i], err)
		}
		if err := sameKeys(keyAV, avs[i]); err != nil {
			return fail("Keys", fmt.Errorf("%w (%s)", err, imageParts[i]))
		}
	}
	var images [2]*T
	for i, av := range avs {
		if av == nil {
			continue
		}
		if images[i], err = d.store.UnmarshalItem(d.ctx, av, d.opts...); err != nil {
			return fail(imageParts[i], err)
		}
	}
	rec.Old, rec.New = images[0], images[1]
	return nil
}

// imageParts names a record's images, old then new, for RecordError.Part.
var imageParts = [2]string{"OldImage", "NewImage"}

// checkKeyNames checks that a record's keys are exactly the table's key
// attributes: a record without the sort key, or without Keys, would give a
// Key with zero fields, one with another attribute a Key that no item has.
func (d *decoder[T]) checkKeyNames(keys map[string]types.AttributeValue) error {
	ok := len(keys) == len(d.keyAttr)
	for _, name := range d.keyAttr {
		_, has := keys[name]
		ok = ok && has
	}
	if !ok {
		return fmt.Errorf("%w: the record's Keys hold attributes %q, not the table's key attributes %q", dynacrypt.ErrIntegrity, slices.Sorted(maps.Keys(keys)), d.keyAttr)
	}
	return nil
}

// checkImages refuses a record whose images are not those its event and
// view type call for: an INSERT has no old image and a REMOVE no new one,
// and a stream of NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES records
// carries every image its event has. Someone who can write the stream could
// otherwise drop a record's images, which bind its Keys, and have a
// consumer act on Keys of their choosing.
func checkImages(event, view string, hasOld, hasNew bool) error {
	var old, new bool // the images the event has
	switch event {
	case Insert:
		new = true
	case Modify:
		old, new = true, true
	case Remove:
		old = true
	default:
		return fmt.Errorf("%w: event %q is none of INSERT, MODIFY, REMOVE", dynacrypt.ErrIntegrity, event)
	}
	switch view {
	case KeysOnly:
		old, new = false, false
	case NewImage:
		old = false
	case OldImage:
		new = false
	case NewAndOldImages:
	default:
		return fmt.Errorf("%w: view type %q is none of the four", dynacrypt.ErrIntegrity, view)
	}
	if hasOld != old || hasNew != new {
		return fmt.Errorf("%w: a %s record of a %s stream with old image %t and new image %t, want %t and %t",
			dynacrypt.ErrIntegrity, event, view, hasOld, hasNew, old, new)
	}
	return nil
}

// unmarshalKeys is attributevalue.UnmarshalMap of unverified keys, with its
// panics (a binary of the wrong length for a [N]byte field, say) turned into
// errors, as the Store does for what it has not verified.
func (d *decoder[T]) unmarshalKeys(av map[string]types.AttributeValue, key *T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("attributevalue panicked unmarshalling the keys into %T", key)
		}
	}()
	return d.keys.Decode(&types.AttributeValueMemberM{Value: av}, key)
}

// sameKeys checks that every key attribute of a record equals the one in its
// image, which the image's signature covers: Keys are not signed, and a
// consumer that acts on Key should act on the item whose image it verified.
// The image is verified after, whole.
func sameKeys(keys, image map[string]types.AttributeValue) error {
	for name, k := range keys {
		if !sameScalar(k, image[name]) {
			return fmt.Errorf("%w: key attribute %q differs from the image's", dynacrypt.ErrIntegrity, name)
		}
	}
	return nil
}

// sameScalar reports whether a and b are the same string, number or binary,
// the types key attributes can have. Numbers are compared as DynamoDB sent
// them, which it does normalised.
func sameScalar(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && string(a.Value) == string(b.Value)
	}
	return false
}
