package streams_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
	"github.com/dynacrypt/dynacrypt/streams/streamstest"
)

type User struct {
	ID      string `dynamodbav:"id"`
	Name    string `dynamodbav:"name"`
	Token   string `dynamodbav:"token" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// A Lambda function on the stream of a users table: each record's images
// are verified and decrypted; a record whose image was edited in the table
// fails alone, with an error that names it.
func ExampleRecords() {
	ctx := context.Background()
	users := newUsers()              // the Store the users service writes with, made once
	event := sampleEvent(ctx, users) // as Lambda delivers it to the handler
	for rec, err := range streams.Records(ctx, users, event.Records) {
		if err != nil {
			fmt.Println("skipped:", err)
			continue
		}
		switch {
		case rec.EventName == streams.Insert:
			fmt.Printf("%s: %s created\n", rec.SequenceNumber, rec.New.Name)
		case rec.EventName == streams.Modify && rec.Old.Token != rec.New.Token:
			fmt.Printf("%s: %s's token rotated, version %d -> %d\n", rec.SequenceNumber, rec.Key.ID, rec.Old.Version, rec.New.Version)
		}
	}
	// Output:
	// 100: ana created
	// 200: u1's token rotated, version 1 -> 2
	// skipped: dynacrypt/streams: table users, record 300, NewImage: integrity check failed: signature does not match: the item was altered, moved, or is missing attributes
}

// One image of a Lambda record, verified and decrypted by the Store.
func ExampleFromLambda() {
	ctx := context.Background()
	users := newUsers()
	event := sampleEvent(ctx, users)

	av, err := streams.FromLambda(event.Records[0].Change.NewImage)
	if err != nil {
		log.Fatal(err)
	}
	u, err := users.UnmarshalItem(ctx, av)
	fmt.Println(u.Name, u.Token, err)
	// Output:
	// ana first-token <nil>
}

// A consumer of the DynamoDB Streams API reads a shard page by page.
// (Compiled, not run: it needs a stream.)
func ExampleStreamsRecords() {
	ctx := context.Background()
	var users *dynacrypt.Store[User]   // from dynacrypt.New
	var client *dynamodbstreams.Client // from dynamodbstreams.NewFromConfig
	var iterator *string               // from GetShardIterator, for a shard of the users table's stream
	for iterator != nil {
		out, err := client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterator})
		if err != nil {
			log.Fatal(err)
		}
		for rec, err := range streams.StreamsRecords(ctx, users, out.Records) {
			var re *streams.RecordError
			if errors.As(err, &re) {
				log.Printf("record %s: %v", re.SequenceNumber, err)
				continue
			}
			if rec.New != nil {
				log.Printf("%s: %s is now %q", rec.EventName, rec.Key.ID, rec.New.Name)
			}
		}
		iterator = out.NextShardIterator
	}
}

// newUsers returns a Store over the users table, with a local AES key: the
// examples make no request.
func newUsers() *dynacrypt.Store[User] {
	cipher, err := dynacrypt.NewAESCipher(make([]byte, 32)) // a real key comes from a secret store
	if err != nil {
		log.Fatal(err)
	}
	users, err := dynacrypt.New[User](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "users",
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	return users
}

// sampleEvent returns a Lambda event as a stream of view type
// NEW_AND_OLD_IMAGES delivers it, of users written by users: ana created,
// her token rotated, and a change of bob's whose new image was then edited
// in the table.
func sampleEvent(ctx context.Context, users *dynacrypt.Store[User]) events.DynamoDBEvent {
	stored := func(u User) map[string]types.AttributeValue {
		av, err := users.MarshalItem(ctx, &u)
		if err != nil {
			log.Fatal(err)
		}
		return av
	}
	ana1 := stored(User{ID: "u1", Name: "ana", Token: "first-token"})
	ana2 := stored(User{ID: "u1", Name: "ana", Token: "second-token", Version: 1})
	bob1 := stored(User{ID: "u2", Name: "bob", Token: "bob-token"})
	bob2 := maps.Clone(bob1)
	bob2["name"] = &types.AttributeValueMemberS{Value: "eve"}
	return streamstest.LambdaEvent(
		streamstest.Insert(users, ana1, streamstest.WithSequenceNumber("100")),
		streamstest.Modify(users, ana1, ana2, streamstest.WithSequenceNumber("200")),
		streamstest.Modify(users, bob1, bob2, streamstest.WithSequenceNumber("300")),
	)
}
