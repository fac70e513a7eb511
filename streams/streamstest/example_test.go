package streamstest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

// User is the item of the users table; the token is the secret.
type User struct {
	ID    string `dynamodbav:"id"`
	Name  string `dynamodbav:"name"`
	Token string `dynamodbav:"token" encrypt:"kms"`
}

// openUsers opens the users Store with a fixed AES key, and returns a
// function that marshals a user as the Store writes it: the examples make
// no request. A test with a table writes with Put and reads the items back
// with dynacrypttest.StoredItem.
func openUsers() (*dynacrypt.Store[User], func(User) map[string]types.AttributeValue) {
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32))
	if err != nil {
		log.Fatal(err)
	}
	users, err := dynacrypt.New[User](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "users",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	return users, func(u User) map[string]types.AttributeValue {
		av, err := users.MarshalItem(context.Background(), &u)
		if err != nil {
			log.Fatal(err)
		}
		return av
	}
}

// A Lambda handler on the users table's stream, fed an event built from
// the items the Store wrote.
func ExampleLambdaEvent() {
	users, stored := openUsers()
	handle := func(ctx context.Context, event events.DynamoDBEvent) {
		for rec, err := range streams.Records(ctx, users, event.Records) {
			switch {
			case err != nil:
				fmt.Println("refused:", rec.EventName, rec.Key.ID)
			case rec.EventName == streams.Modify && rec.Old.Token != rec.New.Token:
				fmt.Println("token rotated:", rec.Key.ID)
			default:
				fmt.Println(rec.EventName, rec.Key.ID)
			}
		}
	}

	v1 := stored(User{ID: "u1", Name: "ana", Token: "first"})
	v2 := stored(User{ID: "u1", Name: "ana", Token: "second"})
	forged := stored(User{ID: "u2", Name: "bob", Token: "bob's"})
	forged["name"] = &types.AttributeValueMemberS{Value: "eve"} // edited at rest
	handle(context.Background(), streamstest.LambdaEvent(
		streamstest.Insert(users, v1),
		streamstest.Modify(users, v1, v2),
		streamstest.Insert(users, forged),
		streamstest.Remove(users, v2),
	))
	// Output:
	// INSERT u1
	// token rotated: u1
	// refused: INSERT u2
	// REMOVE u1
}

// A consumer of the DynamoDB Streams API, fed the records of a stream of
// view type NEW_IMAGE: they carry no old image.
func ExampleStreamsRecords() {
	users, stored := openUsers()
	v1 := stored(User{ID: "u1", Name: "ana", Token: "first"})
	v2 := stored(User{ID: "u1", Name: "ana b.", Token: "first"})
	records := streamstest.StreamsRecords(
		streamstest.Insert(users, v1, streamstest.WithViewType(streams.NewImage)),
		streamstest.Modify(users, v1, v2, streamstest.WithViewType(streams.NewImage)),
	)
	for rec, err := range streams.StreamsRecords(context.Background(), users, records) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.EventName, rec.New.Name, rec.Old == nil)
	}
	// Output:
	// INSERT ana true
	// MODIFY ana b. true
}

// A handler invoked as the Lambda runtime invokes it: with the event's
// JSON, decoded by aws-lambda-go.
func ExampleLambdaPayload() {
	users, stored := openUsers()
	handler := func(ctx context.Context, event events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		for rec, err := range streams.Records(ctx, users, event.Records) {
			if err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures,
					events.DynamoDBBatchItemFailure{ItemIdentifier: rec.SequenceNumber})
			}
		}
		return resp, nil
	}
	good := stored(User{ID: "u1", Name: "ana", Token: "first"})
	bad := stored(User{ID: "u2", Name: "bob", Token: "bob's"})
	delete(bad, "name") // an attribute dropped at rest
	payload := streamstest.LambdaPayload(
		streamstest.Insert(users, good, streamstest.WithSequenceNumber("100")),
		streamstest.Insert(users, bad, streamstest.WithSequenceNumber("200")),
	)
	out, err := lambda.NewHandler(handler).Invoke(context.Background(), payload)
	fmt.Println(string(out), err)
	// Output:
	// {"batchItemFailures":[{"itemIdentifier":"200"}]} <nil>
}
