package streamstest

import (
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/streams"
)

// Record is one stream record: a change of one item. [Insert], [Modify]
// and [Remove] build records as DynamoDB writes them; a literal builds any
// record, and is rendered as it is: nil maps are left out, as DynamoDB
// leaves out the images a view type does not carry.
type Record struct {
	EventID        string    // "" gives one made from SequenceNumber
	EventName      string    // streams.Insert, streams.Modify or streams.Remove
	SequenceNumber string    // the record's place in its shard, digits
	ViewType       string    // streams.KeysOnly, NewImage, OldImage or NewAndOldImages
	Table          string    // the table's name, in a Lambda record's event source ARN
	Time           time.Time // the zero Time gives DefaultTime
	Keys, Old, New map[string]types.AttributeValue
}

// A Table is the table whose stream the records come from: its name and its
// key attributes, which a record's Keys hold. *dynacrypt.Store[T] is one.
type Table interface {
	Table() string
	KeyAttributes() []string
}

// An Option changes a record that Insert, Modify or Remove builds.
type Option func(*Record)

// WithViewType sets the view type of the record's stream (by default
// streams.NewAndOldImages), and so which images it carries: a stream of
// view type streams.NewImage carries no old image, streams.OldImage no new
// one, streams.KeysOnly neither.
func WithViewType(viewType string) Option { return func(r *Record) { r.ViewType = viewType } }

// WithSequenceNumber sets the record's sequence number, in place of the
// next of the run.
func WithSequenceNumber(n string) Option { return func(r *Record) { r.SequenceNumber = n } }

// WithTime sets the record's approximate creation time (DefaultTime
// otherwise). Streams record it in seconds: the fraction is lost.
func WithTime(t time.Time) Option { return func(r *Record) { r.Time = t } }

// Insert returns the record of the creation of an item: its image as
// stored, new.
func Insert(table Table, new map[string]types.AttributeValue, opts ...Option) Record {
	return build(table, streams.Insert, nil, new, new, opts)
}

// Modify returns the record of a change of an item: its images as stored
// before, old, and after, new.
func Modify(table Table, old, new map[string]types.AttributeValue, opts ...Option) Record {
	return build(table, streams.Modify, old, new, new, opts)
}

// Remove returns the record of the deletion of an item: its image as
// stored before, old.
func Remove(table Table, old map[string]types.AttributeValue, opts ...Option) Record {
	return build(table, streams.Remove, old, nil, old, opts)
}

// build makes a record whose Keys are keyed's key attributes.
func build(table Table, event string, old, new, keyed map[string]types.AttributeValue, opts []Option) Record {
	r := Record{EventName: event, ViewType: streams.NewAndOldImages, Table: table.Table(), Old: maps.Clone(old), New: maps.Clone(new)}
	r.Keys = make(map[string]types.AttributeValue)
	for _, name := range table.KeyAttributes() {
		if v, ok := keyed[name]; ok {
			r.Keys[name] = v
		}
	}
	for _, o := range opts {
		o(&r)
	}
	if r.SequenceNumber == "" {
		r.SequenceNumber = SequenceNumber(int(lastSequence.Add(1)))
	}
	switch r.ViewType {
	case streams.KeysOnly:
		r.Old, r.New = nil, nil
	case streams.NewImage:
		r.Old = nil
	case streams.OldImage:
		r.New = nil
	}
	return r
}

// lastSequence numbers the records built without a sequence number, across
// the test binary, so that no two share one.
var lastSequence atomic.Int64

// SequenceNumber returns the n-th of a run of sequence numbers shaped like
// DynamoDB's: 28 digits, increasing with n (for n below a million). The
// records Insert, Modify and Remove build take the next of this run, from
// 1 up.
func SequenceNumber(n int) string {
	return fmt.Sprintf("4421584500000000017450%06d", n)
}

// DefaultTime is the approximate creation time of records that set none.
var DefaultTime = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
