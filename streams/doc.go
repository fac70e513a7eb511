// Package streams decodes the DynamoDB stream records of tables that a
// [dynacrypt.Store] writes, for Lambda functions and other stream consumers.
//
// A stream carries items as they are stored: encrypted fields as
// ciphertext, and the header with the item's signature. Records turns the
// records of a Lambda event into typed values, verifying and decrypting each
// image as Store.Get does an item:
//
//	func handle(ctx context.Context, event events.DynamoDBEvent) error {
//		for rec, err := range streams.Records(ctx, users, event.Records) {
//			if err != nil {
//				log.Print(err) // names the table and the record's sequence number
//				continue
//			}
//			if rec.EventName == streams.Modify && rec.Old.Token != rec.New.Token {
//				log.Printf("user %s: token rotated", rec.Key.ID)
//			}
//		}
//		return nil
//	}
//
// [StreamsRecords] does the same for records read with the DynamoDB Streams
// API (GetRecords), and [FromLambda] and [FromStreams] convert single
// attribute maps to the DynamoDB client's types, for
// [dynacrypt.Store.UnmarshalItem].
//
// A record with an image that was changed, or that a Store with another
// Cipher or table wrote, fails with a *[RecordError] wrapping
// [dynacrypt.ErrIntegrity], and the other records of the batch still decode.
// A record's Keys are not signed: they must be exactly the table's key
// attributes, equal to those of the record's images, or the record fails
// with ErrIntegrity too, so that Record.Key is the key of the item whose
// images were verified (a record of a KEYS_ONLY stream, without images, has
// its Key from Keys, unverified). A record must carry the images its event
// and view type call for: one whose images were dropped fails with
// ErrIntegrity. Records of streams of every view type decode; the images the
// view type leaves out are nil.
//
// To test a consumer without a stream, package
// github.com/dynacrypt/dynacrypt/streams/streamstest builds the records,
// as a Lambda event or as the Streams API returns them, from items a Store
// wrote (read back raw with dynacrypttest.StoredItem):
//
//	event := streamstest.LambdaEvent(
//		streamstest.Insert(users, created),
//		streamstest.Modify(users, created, rotated))
//	resp, err := handle(ctx, event)
//
// This package is a module of its own, github.com/dynacrypt/dynacrypt/streams,
// so that aws-lambda-go enters the module graphs of the programs that import
// it and no other: a service that uses dynacrypt alone does not get it in
// its go.mod. (The Streams API's types come with attributevalue, which
// dynacrypt uses anyway.)
//
// [Streams and exports] in the repository's docs has a Lambda handler that
// reports batch item failures, and the figures.
//
// [Streams and exports]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/streams-exports.md#streams-and-lambda
package streams
