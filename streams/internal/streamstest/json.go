// Package streamstest renders stored DynamoDB items as the stream records
// that Lambda and the DynamoDB Streams API deliver, in their JSON wire
// format, for the tests of package streams and of its examples: an item read
// with GetItem goes through the same JSON decoding (base64 binaries, number
// strings) that a real stream record goes through.
package streamstest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
)

// Record is a stream record to render. Nil maps are left out, as DynamoDB
// leaves out the images a view type does not carry.
type Record struct {
	EventID        string // defaults to a value made from SequenceNumber
	EventName      string // INSERT, MODIFY, REMOVE
	SequenceNumber string
	ViewType       string    // KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES
	Table          string    // for the Lambda record's eventSourceARN
	Time           time.Time // defaults to DefaultTime
	Keys, Old, New map[string]types.AttributeValue
}

// streamRecord is the "dynamodb" object of a record, its fields in the
// order AWS's documentation shows them.
type streamRecord struct {
	ApproximateCreationDateTime int64                      `json:"ApproximateCreationDateTime"`
	Keys                        map[string]json.RawMessage `json:"Keys"`
	NewImage                    map[string]json.RawMessage `json:"NewImage,omitempty"`
	OldImage                    map[string]json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string                     `json:"SequenceNumber"`
	SizeBytes                   int                        `json:"SizeBytes"`
	StreamViewType              string                     `json:"StreamViewType"`
}

// lambdaRecord is one element of a Lambda event's Records.
type lambdaRecord struct {
	EventID        string       `json:"eventID"`
	EventName      string       `json:"eventName"`
	EventVersion   string       `json:"eventVersion"`
	EventSource    string       `json:"eventSource"`
	AWSRegion      string       `json:"awsRegion"`
	Dynamodb       streamRecord `json:"dynamodb"`
	EventSourceARN string       `json:"eventSourceARN"`
}

// apiRecord is one element of GetRecords' Records: the same, without the
// event source ARN, which the API does not send.
type apiRecord struct {
	AWSRegion    string       `json:"awsRegion"`
	Dynamodb     streamRecord `json:"dynamodb"`
	EventID      string       `json:"eventID"`
	EventName    string       `json:"eventName"`
	EventSource  string       `json:"eventSource"`
	EventVersion string       `json:"eventVersion"`
}

// Region is the region the rendered records name.
const Region = "us-east-1"

// LambdaEvent renders records as the JSON payload of a Lambda invocation by
// a DynamoDB stream: {"Records": [...]}.
func LambdaEvent(records ...Record) []byte {
	out := struct {
		Records []lambdaRecord `json:"Records"`
	}{Records: []lambdaRecord{}}
	for _, r := range records {
		out.Records = append(out.Records, lambdaRecord{
			EventID: r.eventID(), EventName: r.EventName, EventVersion: "1.1", EventSource: "aws:dynamodb",
			AWSRegion: Region, Dynamodb: r.stream(),
			EventSourceARN: "arn:aws:dynamodb:" + Region + ":111122223333:table/" + r.Table + "/stream/2026-11-27T06:00:00.000",
		})
	}
	return mustJSON(out)
}

// GetRecordsOutput renders records as the body of a GetRecords response.
func GetRecordsOutput(records ...Record) []byte {
	out := struct {
		NextShardIterator string      `json:"NextShardIterator"`
		Records           []apiRecord `json:"Records"`
	}{NextShardIterator: "next-iterator", Records: []apiRecord{}}
	for _, r := range records {
		out.Records = append(out.Records, apiRecord{
			AWSRegion: Region, Dynamodb: r.stream(), EventID: r.eventID(),
			EventName: r.EventName, EventSource: "aws:dynamodb", EventVersion: "1.1",
		})
	}
	return mustJSON(out)
}

func (r Record) eventID() string {
	if r.EventID != "" {
		return r.EventID
	}
	return "event-" + r.SequenceNumber
}

// DefaultTime is the time of records that do not set one.
var DefaultTime = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func (r Record) stream() streamRecord {
	if r.Time.IsZero() {
		r.Time = DefaultTime
	}
	s := streamRecord{
		ApproximateCreationDateTime: r.Time.Unix(),
		Keys:                        Item(r.Keys),
		NewImage:                    Item(r.New),
		OldImage:                    Item(r.Old),
		SequenceNumber:              r.SequenceNumber,
		StreamViewType:              r.ViewType,
	}
	for _, m := range []map[string]json.RawMessage{s.Keys, s.NewImage, s.OldImage} {
		for name, v := range m {
			s.SizeBytes += len(name) + len(v)
		}
	}
	return s
}

// Item renders an attribute map in DynamoDB's JSON wire format, or returns
// nil for a nil map.
func Item(av map[string]types.AttributeValue) map[string]json.RawMessage {
	if av == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(av))
	for name, v := range av {
		out[name] = Value(v)
	}
	return out
}

// Value renders one attribute value: {"S": "..."}, {"N": "12.5"},
// {"B": "<base64>"}, {"BOOL": true}, {"NULL": true}, {"SS": [...]},
// {"NS": [...]}, {"BS": ["<base64>", ...]}, {"L": [...]}, {"M": {...}}:
// the format of a table export, which package export writes.
func Value(v types.AttributeValue) json.RawMessage {
	b, err := export.AppendValue(nil, v)
	if err != nil {
		panic("streamstest: " + err.Error())
	}
	return b
}

// SequenceNumber returns the n-th of a run of sequence numbers shaped like
// DynamoDB's: 21 digits or more, increasing.
func SequenceNumber(n int) string {
	return "4421584500000000017450" + fmt.Sprintf("%06d", n)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("streamstest: " + err.Error())
	}
	return b
}
