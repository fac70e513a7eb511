// Package noteaudit is an example of a service's own code, and of its tests
// built with dynacrypt's test kit alone (see audit_test.go): the notes of a
// service that clinics share, each clinic's notes under its own branch key
// of a key store, and a Lambda function on the notes table's stream that
// keeps an audit trail of who created, edited and deleted which note,
// without a note's body ever reaching the trail.
//
// Deploy the function with the table's stream of view type
// NEW_AND_OLD_IMAGES, an event source mapping with ReportBatchItemFailures,
// and kms:Decrypt on the key store's KMS key; its handler is
// [Auditor.Handle].
package noteaudit

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
	"github.com/dynacrypt/dynacrypt/streams"
)

// Note is a clinic's note. The clinic is the tenant; the body is the
// secret.
type Note struct {
	Clinic  string `dynamodbav:"clinic"`
	ID      string `dynamodbav:"id"`
	Author  string `dynamodbav:"author"`
	Body    string `dynamodbav:"body" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// ServiceBranchKey is the branch key of the service's own, for page
// cursors; clinic c's notes are under branch key "clinic-" + c.
const ServiceBranchKey = "notes-service"

// NewCipher returns the Cipher every process of the service uses, over the
// key store keys (a *keystore.KeyStore in production).
func NewCipher(keys keystore.BranchKeySource) (*keystore.Cipher, error) {
	return keystore.NewCipher(keys, ServiceBranchKey, keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
}

// StoreOptions configure the notes Store: its keys, the clinic as the
// tenant, and cipher.
func StoreOptions(cipher *keystore.Cipher) []dynacrypt.Option {
	return []dynacrypt.Option{
		dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithTenantAttribute("clinic"), dynacrypt.WithCipher(cipher),
	}
}

// Entry is one line of the audit trail. It never holds a note's body.
type Entry struct {
	Sequence    string // the stream record's sequence number
	Clinic, ID  string // the note
	Event       string // "created", "edited", "deleted", "refused" or "unreadable"
	Author      string // the note's author, as written by the change
	BodyChanged bool   // for "edited": whether the body changed
	Reason      string // for "refused" and "unreadable": why
}

// Auditor handles the notes table's stream.
type Auditor struct {
	Notes *dynacrypt.Store[Note]                   // opened with StoreOptions, outside the handler
	Write func(ctx context.Context, e Entry) error // appends an entry to the trail
}

// Handle handles a batch of stream records: an entry per record. A record
// whose images fail verification (forged, or a note copied into another
// clinic) is written as "refused", and one whose clinic's branch key was
// shredded as "unreadable": retrying them cannot help. Any other failure
// (KMS unreachable, the trail failing) is reported in BatchItemFailures, and
// the batch ends there, so that Lambda retries from that record in order.
// A stream of another view type than NEW_AND_OLD_IMAGES fails the batch.
func (a *Auditor) Handle(ctx context.Context, event events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for rec, err := range streams.Records(ctx, a.Notes, event.Records) {
		if rec.ViewType != streams.NewAndOldImages {
			return resp, fmt.Errorf("noteaudit: the stream's view type is %q: it must be %s", rec.ViewType, streams.NewAndOldImages)
		}
		e := Entry{Sequence: rec.SequenceNumber, Clinic: rec.Key.Clinic, ID: rec.Key.ID}
		switch {
		case errors.Is(err, dynacrypt.ErrIntegrity):
			e.Event, e.Reason = "refused", "the record failed verification"
		case errors.Is(err, dynacrypt.ErrKeyGone):
			e.Event, e.Reason = "unreadable", "the clinic's key is gone"
		case err != nil:
			return retryFrom(resp, rec.SequenceNumber), nil
		case rec.EventName == streams.Insert:
			e.Event, e.Author = "created", rec.New.Author
		case rec.EventName == streams.Modify:
			e.Event, e.Author, e.BodyChanged = "edited", rec.New.Author, rec.Old.Body != rec.New.Body
		case rec.EventName == streams.Remove:
			e.Event, e.Author = "deleted", rec.Old.Author
		default:
			return resp, fmt.Errorf("noteaudit: record %s: unknown event %q", rec.SequenceNumber, rec.EventName)
		}
		if err := a.Write(ctx, e); err != nil {
			return retryFrom(resp, rec.SequenceNumber), nil
		}
	}
	return resp, nil
}

// retryFrom reports the record of sequence number seq, and so those after
// it, for Lambda to retry.
func retryFrom(resp events.DynamoDBEventResponse, seq string) events.DynamoDBEventResponse {
	resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seq})
	return resp
}
