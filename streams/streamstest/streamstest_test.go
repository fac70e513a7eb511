package streamstest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// Order has a partition key and a sort key, so that Keys must hold both.
type Order struct {
	Customer string `dynamodbav:"customer"`
	Seq      int    `dynamodbav:"seq"`
	Card     string `dynamodbav:"card" encrypt:"kms"`
	Status   string `dynamodbav:"status"`
}

// orders returns a Store of orders and a function that marshals an order as
// the Store writes it. It makes no request.
func orders(t *testing.T) (*dynacrypt.Store[Order], func(Order) map[string]types.AttributeValue) {
	t.Helper()
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := dynacrypt.New[Order](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "orders",
		dynacrypt.WithPartitionKey("customer"), dynacrypt.WithSortKey("seq"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	return s, func(o Order) map[string]types.AttributeValue {
		t.Helper()
		av, err := s.MarshalItem(context.Background(), &o)
		if err != nil {
			t.Fatal(err)
		}
		return av
	}
}

// TestBuilders: Insert, Modify and Remove make the records DynamoDB writes
// for the change: the event, the images, the Keys of the item's key
// attributes, the table, and a sequence number after the last one's.
func TestBuilders(t *testing.T) {
	store, stored := orders(t)
	placed := stored(Order{Customer: "ana", Seq: 1, Card: "4111", Status: "placed"})
	shipped := stored(Order{Customer: "ana", Seq: 1, Card: "4111", Status: "shipped"})
	keys := map[string]types.AttributeValue{"customer": placed["customer"], "seq": placed["seq"]}
	cases := []struct {
		rec      streamstest.Record
		event    string
		old, new map[string]types.AttributeValue
	}{
		{streamstest.Insert(store, placed), streams.Insert, nil, placed},
		{streamstest.Modify(store, placed, shipped), streams.Modify, placed, shipped},
		{streamstest.Remove(store, shipped), streams.Remove, shipped, nil},
	}
	last := ""
	for _, c := range cases {
		r := c.rec
		if r.EventName != c.event || r.ViewType != streams.NewAndOldImages || r.Table != "orders" ||
			!reflect.DeepEqual(r.Keys, keys) || !reflect.DeepEqual(r.Old, c.old) || !reflect.DeepEqual(r.New, c.new) {
			t.Errorf("%s: %+v", c.event, r)
		}
		if len(r.SequenceNumber) != len(streamstest.SequenceNumber(1)) || r.SequenceNumber <= last {
			t.Errorf("%s: sequence number %q after %q; want a larger one of the same length", c.event, r.SequenceNumber, last)
		}
		last = r.SequenceNumber
	}

	// The record keeps the images as they were built.
	r := streamstest.Insert(store, placed)
	placed["status"] = &types.AttributeValueMemberS{Value: "changed"}
	if r.New["status"].(*types.AttributeValueMemberS).Value != "placed" {
		t.Errorf("changing the item after the build changed the record")
	}
}

// TestBuilderOptions: a view type leaves out the images its streams do
// not carry, whatever the event; a sequence number and a time replace the
// defaults.
func TestBuilderOptions(t *testing.T) {
	store, stored := orders(t)
	v1 := stored(Order{Customer: "ana", Seq: 1, Status: "placed"})
	v2 := stored(Order{Customer: "ana", Seq: 1, Status: "shipped"})
	for _, c := range []struct {
		view             string
		keepOld, keepNew bool
	}{
		{streams.NewAndOldImages, true, true},
		{streams.NewImage, false, true},
		{streams.OldImage, true, false},
		{streams.KeysOnly, false, false},
	} {
		for _, r := range []streamstest.Record{
			streamstest.Insert(store, v1, streamstest.WithViewType(c.view)),
			streamstest.Modify(store, v1, v2, streamstest.WithViewType(c.view)),
			streamstest.Remove(store, v2, streamstest.WithViewType(c.view)),
		} {
			wantOld := c.keepOld && r.EventName != streams.Insert
			wantNew := c.keepNew && r.EventName != streams.Remove
			if r.ViewType != c.view || (r.Old != nil) != wantOld || (r.New != nil) != wantNew || len(r.Keys) != 2 {
				t.Errorf("%s %s: view type %s, old image %v, new image %v, %d keys; want old %v, new %v, 2 keys",
					c.view, r.EventName, r.ViewType, r.Old != nil, r.New != nil, len(r.Keys), wantOld, wantNew)
			}
		}
	}

	when := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	r := streamstest.Insert(store, v1, streamstest.WithSequenceNumber("42"), streamstest.WithTime(when))
	got := streamstest.LambdaEvent(r).Records[0]
	if got.Change.SequenceNumber != "42" || got.EventID != "event-42" || !got.Change.ApproximateCreationDateTime.Equal(when) {
		t.Errorf("sequence number %q, event ID %q, time %v; want 42, event-42, %v",
			got.Change.SequenceNumber, got.EventID, got.Change.ApproximateCreationDateTime, when)
	}
}

// TestWireFormat: a Lambda event carries binaries as base64 and numbers as
// strings, names the table in its event source ARN, and decodes as
// aws-lambda-go decodes it; the Streams API's records, decoded by the SDK,
// carry the same images and record metadata.
func TestWireFormat(t *testing.T) {
	store, stored := orders(t)
	item := stored(Order{Customer: "ana", Seq: 7, Card: "4111", Status: "placed"})
	r := streamstest.Insert(store, item)

	var payload struct {
		Records []struct {
			EventSourceARN string `json:"eventSourceARN"`
			Dynamodb       struct {
				NewImage map[string]map[string]any
			} `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(streamstest.LambdaPayload(r), &payload); err != nil {
		t.Fatal(err)
	}
	p := payload.Records[0]
	if !strings.HasSuffix(strings.Split(p.EventSourceARN, "/stream/")[0], ":table/orders") {
		t.Errorf("event source ARN %q does not name table orders", p.EventSourceARN)
	}
	if n, ok := p.Dynamodb.NewImage["seq"]["N"].(string); !ok || n != "7" {
		t.Errorf("seq is %v; want the string \"7\"", p.Dynamodb.NewImage["seq"])
	}
	if b, ok := p.Dynamodb.NewImage["card"]["B"].(string); !ok || strings.Contains(b, "4111") {
		t.Errorf("card is %v; want the ciphertext in base64", p.Dynamodb.NewImage["card"])
	}

	lambda := streamstest.LambdaEvent(r).Records[0]
	fromLambda, err := streams.FromLambda(lambda.Change.NewImage)
	if err != nil || !reflect.DeepEqual(fromLambda, item) {
		t.Errorf("the Lambda event's image converts to %v, %v; want the item", fromLambda, err)
	}
	api := streamstest.StreamsRecords(r)[0]
	fromAPI, err := streams.FromStreams(api.Dynamodb.NewImage)
	if err != nil || !reflect.DeepEqual(fromAPI, item) {
		t.Errorf("the Streams API record's image converts to %v, %v; want the item", fromAPI, err)
	}
	if aws.ToString(api.EventID) != lambda.EventID || string(api.EventName) != lambda.EventName ||
		aws.ToString(api.Dynamodb.SequenceNumber) != lambda.Change.SequenceNumber ||
		string(api.Dynamodb.StreamViewType) != lambda.Change.StreamViewType ||
		!aws.ToTime(api.Dynamodb.ApproximateCreationDateTime).Equal(lambda.Change.ApproximateCreationDateTime.Time) {
		t.Errorf("the two ways disagree: %+v and %+v", api, lambda)
	}
}

// TestRecordsDecode: records built from a Store's items decode with
// package streams, both ways, to the items written.
func TestRecordsDecode(t *testing.T) {
	ctx := context.Background()
	store, stored := orders(t)
	v1 := stored(Order{Customer: "ana", Seq: 1, Card: "4111", Status: "placed"})
	v2 := stored(Order{Customer: "ana", Seq: 1, Card: "4111", Status: "shipped"})
	recs := []streamstest.Record{streamstest.Insert(store, v1), streamstest.Modify(store, v1, v2), streamstest.Remove(store, v2)}
	var fromLambda, fromAPI []string
	describe := func(rec streams.Record[Order], err error) string {
		if err != nil {
			return err.Error()
		}
		s := rec.EventName + " " + rec.Key.Customer
		for _, o := range []*Order{rec.Old, rec.New} {
			if o != nil {
				s += " " + o.Status + "/" + o.Card
			}
		}
		return s
	}
	for rec, err := range streams.Records(ctx, store, streamstest.LambdaEvent(recs...).Records) {
		fromLambda = append(fromLambda, describe(rec, err))
	}
	for rec, err := range streams.StreamsRecords(ctx, store, streamstest.StreamsRecords(recs...)) {
		fromAPI = append(fromAPI, describe(rec, err))
	}
	want := []string{"INSERT ana placed/4111", "MODIFY ana placed/4111 shipped/4111", "REMOVE ana shipped/4111"}
	if !reflect.DeepEqual(fromLambda, want) || !reflect.DeepEqual(fromAPI, want) {
		t.Errorf("decoded from Lambda %q, from the Streams API %q; want %q", fromLambda, fromAPI, want)
	}
}

// TestBadValuePanics: an attribute value that cannot be rendered is a bug
// in the test: rendering panics, naming the attribute.
func TestBadValuePanics(t *testing.T) {
	r := streamstest.Record{EventName: streams.Insert, SequenceNumber: "1", ViewType: streams.NewImage,
		Keys: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a"}},
		New:  map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a"}, "broken": nil}}
	for name, render := range map[string]func(){
		"LambdaEvent":    func() { streamstest.LambdaEvent(r) },
		"StreamsRecords": func() { streamstest.StreamsRecords(r) },
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), `"broken"`) {
					t.Errorf("%s: panic %v; want one naming the attribute", name, p)
				}
			}()
			render()
		}()
	}
}
