// Package streamstest builds the DynamoDB stream records that Lambda and
// the DynamoDB Streams API deliver, from items a [dynacrypt.Store] wrote, to
// test a stream consumer (a Lambda handler, a Streams API poller) without a
// stream.
//
// [Insert], [Modify] and [Remove] make a [Record] of one change from the
// item's images as stored: read them with dynacrypttest.StoredItem after
// the Store's writes, or take them from [dynacrypt.Store.MarshalItem] in a
// test without a server. The record's Keys are the images' key attributes,
// its sequence number the next of a run shared by the whole test binary,
// and [WithViewType] leaves out the images a stream of that view type does
// not carry. [LambdaEvent] then gives the [events.DynamoDBEvent] a Lambda
// handler receives, and [StreamsRecords] the records of a GetRecords
// response:
//
//	func TestAudit(t *testing.T) {
//		db := dynacrypttest.DynamoDB(t)
//		notes := dynacrypttest.NewStore[Note](t, db, ...) // as the service opens it
//		n := &Note{Clinic: "acme", ID: "n1", Body: "first"}
//		if err := notes.Put(ctx, n); err != nil { ... }
//		created := dynacrypttest.StoredItem(t, db, notes, *n)
//		n.Body = "second"
//		if err := notes.Put(ctx, n); err != nil { ... }
//		edited := dynacrypttest.StoredItem(t, db, notes, *n)
//
//		event := streamstest.LambdaEvent(
//			streamstest.Insert(notes, created),
//			streamstest.Modify(notes, created, edited))
//		resp, err := handler(ctx, event)
//		// ... assert what the handler did with the two records
//	}
//
// The records go through the JSON a real one travels as, and are decoded
// by the same code: aws-lambda-go's for a Lambda event, the SDK's own
// deserializer for the Streams API (in memory: no server is started). So
// binaries are base64 and numbers strings on the way, as from DynamoDB.
// [LambdaPayload] returns the JSON itself, for a handler invoked as the
// Lambda runtime does, with lambda.NewHandler(handler).Invoke.
//
// A Record can also be written as a literal, to build records DynamoDB
// would not send (an image missing, Keys of another item): those are
// rendered as they are, to test that a consumer refuses them.
//
// This package is in the module github.com/dynacrypt/dynacrypt/streams, as
// package streams is, so that aws-lambda-go stays out of the module graph
// of programs that use dynacrypt alone.
package streamstest
