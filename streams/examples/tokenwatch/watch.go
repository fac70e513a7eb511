package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/streams"
)

// User is the users service's record (examples/users). The API token is
// the secret.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// Watcher reacts to the changes of the users table.
type Watcher struct {
	Users *dynacrypt.Store[User]
	Log   *slog.Logger
}

// Handle handles one batch of stream records. It logs "token rotated" for
// each change of a user's token and "stream record failed verification" for
// each record whose images do not verify, then goes on: such a record was
// forged or damaged, and would fail the same way on every retry.
//
// A record that fails for another reason (the Cipher unreachable, the
// invocation's time running out) is reported in BatchItemFailures, and the
// batch ends there: Lambda retries from that record on, in order.
//
// Handle returns an error, failing the whole batch, if the stream does not
// carry old and new images: it cannot do its work, and a growing iterator
// age makes that visible.
func (w *Watcher) Handle(ctx context.Context, event events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for rec, err := range streams.Records(ctx, w.Users, event.Records) {
		if rec.ViewType != streams.NewAndOldImages {
			return resp, fmt.Errorf("tokenwatch: the stream's view type is %q: it must be %s", rec.ViewType, streams.NewAndOldImages)
		}
		switch {
		case errors.Is(err, dynacrypt.ErrIntegrity):
			w.Log.ErrorContext(ctx, "stream record failed verification", "table", w.Users.Table(),
				"sequence_number", rec.SequenceNumber, "event", rec.EventName, "key", rec.Key.ID, "error", err.Error())
		case err != nil:
			w.Log.WarnContext(ctx, "stream record not decoded; Lambda retries it", "sequence_number", rec.SequenceNumber, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.SequenceNumber})
			return resp, nil
		case rec.EventName == streams.Modify && rec.Old != nil && rec.New != nil && rec.Old.Token != rec.New.Token:
			w.Log.InfoContext(ctx, "token rotated", "user", rec.New.ID, "from_version", rec.Old.Version,
				"to_version", rec.New.Version, "at", rec.Time)
		}
	}
	return resp, nil
}
