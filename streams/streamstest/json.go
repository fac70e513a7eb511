package streamstest

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
)

// The region and account the records name.
const (
	region  = "us-east-1"
	account = "111122223333"
)

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

// LambdaPayload returns records as the JSON payload of a Lambda invocation
// by a DynamoDB stream, {"Records": [...]}, in region us-east-1 of account
// 111122223333: what lambda.NewHandler(handler).Invoke takes, to call a
// handler as the Lambda runtime does. It panics if an attribute value
// cannot be rendered (a nil value, or a type of another package).
func LambdaPayload(records ...Record) []byte {
	out := struct {
		Records []lambdaRecord `json:"Records"`
	}{Records: []lambdaRecord{}}
	for _, r := range records {
		out.Records = append(out.Records, lambdaRecord{
			EventID: r.eventID(), EventName: r.EventName, EventVersion: "1.1", EventSource: "aws:dynamodb",
			AWSRegion: region, Dynamodb: r.stream(),
			EventSourceARN: "arn:aws:dynamodb:" + region + ":" + account + ":table/" + r.Table + "/stream/2026-11-27T06:00:00.000",
		})
	}
	return mustJSON(out)
}

// getRecordsBody returns records as the body of a GetRecords response.
func getRecordsBody(records ...Record) []byte {
	out := struct {
		NextShardIterator string      `json:"NextShardIterator"`
		Records           []apiRecord `json:"Records"`
	}{NextShardIterator: "next-iterator", Records: []apiRecord{}}
	for _, r := range records {
		out.Records = append(out.Records, apiRecord{
			AWSRegion: region, Dynamodb: r.stream(), EventID: r.eventID(),
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

func (r Record) stream() streamRecord {
	if r.Time.IsZero() {
		r.Time = DefaultTime
	}
	s := streamRecord{
		ApproximateCreationDateTime: r.Time.Unix(),
		Keys:                        item(r.Keys),
		NewImage:                    item(r.New),
		OldImage:                    item(r.Old),
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

// item renders an attribute map in DynamoDB's JSON wire format, that of a
// table export, which package export writes; nil stays nil.
func item(av map[string]types.AttributeValue) map[string]json.RawMessage {
	if av == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(av))
	for name, v := range av {
		b, err := export.AppendValue(nil, v)
		if err != nil {
			panic(fmt.Sprintf("streamstest: attribute %q: %v", name, err))
		}
		out[name] = b
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("streamstest: " + err.Error())
	}
	return b
}
