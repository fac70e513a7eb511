package dynacrypt

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// This file tells, after a write call whose answer may have been lost,
// whether the write landed: the attempts of the call that got no definite
// answer, and what the stored item says.

// attempts records whether an attempt of one write call got no definite
// answer. The SDK retries a request whose connection failed or that got a
// 5xx, and the server may have applied the first attempt: its answer was
// lost, and the retry's answer (a condition that attempt made false) does
// not say so. The Store passes options() with every write call; a DB that
// drops per-call options (a fake, a wrapper) records nothing, and the Store
// then takes the last answer for the whole story: its conditions still
// accept a retry of a write that landed (see condition.orOwnHeader).
type attempts struct {
	ambiguous atomic.Bool
	opts      [1]func(*dynamodb.Options) // record, as a call's variadic options
}

// newAttempts returns a recorder for one call.
func newAttempts() *attempts {
	a := new(attempts)
	a.opts[0] = a.record
	return a
}

// options returns the per-call options that install the recorder.
func (a *attempts) options() []func(*dynamodb.Options) { return a.opts[:] }

// record adds the recorder to the call's middleware stack, last in its
// Finalize step: after the retry middleware, so that it sees each attempt.
func (a *attempts) record(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, a.addTo)
}

func (a *attempts) addTo(stack *middleware.Stack) error {
	return stack.Finalize.Add(a, middleware.After)
}

// ID names the recorder in the middleware stack.
func (a *attempts) ID() string { return "dynacrypt.attempts" }

// HandleFinalize sends one attempt and notes whether its answer is
// definite.
func (a *attempts) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleFinalize(ctx, in)
	if !definite(err) {
		a.ambiguous.Store(true)
	}
	return out, md, err
}

// landedMaybe reports whether some attempt may have been applied without
// the Store learning it.
func (a *attempts) landedMaybe() bool { return a.ambiguous.Load() }

// definite reports whether an attempt's result says what the server did:
// it succeeded; or the server answered with a client error (4xx: a failed
// condition, a throttle, a bad request), which DynamoDB answers having
// written nothing; or the connection was never made. No answer (status 0:
// the connection failed or the context ended after the request was sent),
// or a 5xx, leaves the write possibly done.
func definite(err error) bool {
	if err == nil {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if code := re.Response.StatusCode; code >= 400 && code < 500 {
			return true
		}
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// ownWriteStored settles a write that failed after an attempt without a
// definite answer, which may have landed: nil if the stored item carries
// the header of item, the item this write sealed (a header is unique to its
// write), else an error wrapping ErrOutcomeUnknown and err. Nothing else
// proves the write was ours, or was not: its condition may have failed
// because that attempt made it false, or because another writer came.
func (s *Store[T]) ownWriteStored(ctx context.Context, err error, item map[string]types.AttributeValue) error {
	own, sealed := item[s.codec.writeHeader].(*types.AttributeValueMemberB)
	if sealed {
		stored, present, rerr := s.storedHeader(ctx, err, s.codec.keyOf(item))
		if rerr == nil && present && sameHeader(stored, own) {
			return nil
		}
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}

// sameHeader reports whether a stored header attribute is the header own.
func sameHeader(stored types.AttributeValue, own *types.AttributeValueMemberB) bool {
	b, ok := stored.(*types.AttributeValueMemberB)
	return ok && subtle.ConstantTimeCompare(b.Value, own.Value) == 1
}

// storedHeader returns the header attribute of the item with key as it is
// now (the attribute the Store's writes carry: see codec.writeHeader), and whether there is such an item: from the item DynamoDB returned
// with a failed condition, if it did, else from one consistent read.
func (s *Store[T]) storedHeader(ctx context.Context, err error, key map[string]types.AttributeValue) (types.AttributeValue, bool, error) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && len(ccf.Item) > 0 {
		return ccf.Item[s.codec.writeHeader], true, nil
	}
	var names map[string]string
	proj := keyProjection(key, &names) + ", " + ownHeaderName
	names[ownHeaderName] = s.codec.writeHeader
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key,
		ConsistentRead: boolPtr(true), ProjectionExpression: &proj, ExpressionAttributeNames: names})
	if err != nil {
		return nil, false, err
	}
	return out.Item[s.codec.writeHeader], out.Item != nil, nil
}

// deleteOutcome settles a delete that failed after an attempt without a
// definite answer, which may have deleted the item: nothing is left to show
// by whom, so the outcome is unknown; the error says whether the item is
// gone.
func (s *Store[T]) deleteOutcome(ctx context.Context, err error, key map[string]types.AttributeValue) error {
	if _, present, rerr := s.storedHeader(ctx, err, key); rerr == nil && !present {
		return fmt.Errorf("%w (%w): %w", ErrOutcomeUnknown, ErrNotFound, err)
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}
