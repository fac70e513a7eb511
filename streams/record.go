package streams

import (
	"errors"
	"time"

	"github.com/dynacrypt/dynacrypt"
)

// The event names of stream records: what happened to the item.
const (
	Insert = "INSERT" // a new item was written; the record has no old image
	Modify = "MODIFY" // an item was replaced or updated
	Remove = "REMOVE" // an item was deleted; the record has no new image
)

// The stream view types: what a stream puts in its records besides the keys.
// A table's stream has one, chosen when the stream is enabled.
const (
	KeysOnly        = "KEYS_ONLY"
	NewImage        = "NEW_IMAGE"
	OldImage        = "OLD_IMAGE"
	NewAndOldImages = "NEW_AND_OLD_IMAGES"
)

// Record is a stream record of a table written by a Store of T, with its
// images verified and decrypted.
type Record[T any] struct {
	EventID        string    // unique per record
	EventName      string    // Insert, Modify or Remove
	SequenceNumber string    // the record's place in its shard; Lambda's batch item identifier
	Time           time.Time // when the change was made, to the second (ApproximateCreationDateTime)
	ViewType       string    // the stream's view type: KeysOnly, NewImage, OldImage or NewAndOldImages

	// Key has the item's key attributes set, from the record's Keys, and
	// every other field zero: pass it to Store.Get or Store.Delete. Keys are
	// not signed, so they must hold exactly the table's key attributes (the
	// partition key, and the sort key if the table has one), each equal to
	// that of every image the record has, which the image's signature
	// covers: Key is the key of the item whose images were verified, and
	// Old and New are images of that one item. A record of a KEYS_ONLY
	// stream has no image: its Key is unverified, as the Keys DynamoDB sent.
	// A record must carry every image its event and view type call for (an
	// image stream's REMOVE its old image, say): one whose images were
	// dropped is refused, so that its Keys cannot go unchecked. A consumer
	// of an image stream should still check ViewType, which someone who can
	// write the stream could change to KEYS_ONLY. With SkipDecryption
	// nothing is verified, and Key is only checked against the images.
	Key T

	// Old is the item before the change and New the item after it, verified
	// and decrypted. Each is nil when the record has no such image: Old for
	// an INSERT or a stream of NEW_IMAGE or KEYS_ONLY, New for a REMOVE or a
	// stream of OLD_IMAGE or KEYS_ONLY.
	Old, New *T
}

// RecordError is the error of a stream record that could not be decoded:
// most often an image that failed verification, in which case errors.Is(err,
// dynacrypt.ErrIntegrity) holds. It names the record by sequence number, so
// that the record can be found in the stream, or reported to Lambda as a
// batch item failure. It quotes none of the record's encrypted data; an
// error unmarshalling the keys may quote a key attribute, which DynamoDB
// stores in clear.
type RecordError struct {
	Table          string // the Store's table
	SequenceNumber string
	EventID        string
	// Part is the part of the record that failed: "images" (not those its
	// event and view type call for), "Keys", "OldImage", "NewImage", or
	// "dynamodb" for a Streams API record without its stream record.
	Part string
	Err  error // the cause, often a *dynacrypt.OpError
}

// Error names the table, the record and the part that failed, then the
// cause.
func (e *RecordError) Error() string {
	cause := e.Err
	// A Store's OpError names the table again: say it once.
	var oe *dynacrypt.OpError
	if errors.As(cause, &oe) && oe.Table == e.Table && cause == error(oe) {
		cause = oe.Err
	}
	return "dynacrypt/streams: table " + e.Table + ", record " + e.SequenceNumber + ", " + e.Part + ": " + cause.Error()
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }
