package dynacrypt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxTxItems is DynamoDB's limit on the actions of one transaction.
const maxTxItems = 100

// A TxWrite is one action of a write transaction, made by Store.TxPut,
// Store.TxDelete or Store.TxCheck, for Transact.
type TxWrite interface {
	// prepare encrypts and signs what the action writes.
	prepare(ctx context.Context) (types.TransactWriteItem, func(), error)
	tableName() string
}

// txAction is a TxWrite of some Store.
type txAction struct {
	table string
	build func(ctx context.Context) (types.TransactWriteItem, func(), error)
}

func (a txAction) prepare(ctx context.Context) (types.TransactWriteItem, func(), error) {
	return a.build(ctx)
}
func (a txAction) tableName() string { return a.table }

// TxPut is a Put inside a transaction, with Put's version condition (or
// IfNotExists). When the transaction commits, item's version is updated.
func (s *Store[T]) TxPut(item *T, opts ...WriteOption) TxWrite {
	wc := writeConfigOf(opts)
	return txAction{s.table, func(ctx context.Context) (types.TransactWriteItem, func(), error) {
		if item == nil {
			return types.TransactWriteItem{}, nil, errors.New("nil item")
		}
		p, err := s.preparePut(ctx, item, wc, nil)
		if err != nil {
			return types.TransactWriteItem{}, nil, err
		}
		put := &types.Put{TableName: &s.table, Item: p.item}
		p.cond.apply(&put.ConditionExpression, &put.ExpressionAttributeNames, &put.ExpressionAttributeValues)
		return types.TransactWriteItem{Put: put}, p.done, nil
	}}
}

// TxDelete is a Delete inside a transaction, conditional on key's version
// as Delete is.
func (s *Store[T]) TxDelete(key T) TxWrite {
	return txAction{s.table, func(context.Context) (types.TransactWriteItem, func(), error) {
		km, cond, err := s.prepareDelete(&key)
		if err != nil {
			return types.TransactWriteItem{}, nil, err
		}
		del := &types.Delete{TableName: &s.table, Key: km}
		cond.apply(&del.ConditionExpression, &del.ExpressionAttributeNames, &del.ExpressionAttributeValues)
		return types.TransactWriteItem{Delete: del}, func() {}, nil
	}}
}

// TxCheck makes a transaction depend on an item it does not change: the item
// with key's key attributes must exist and, with a version attribute and a
// non-zero version in key, be at that version. This is how a transaction
// commits the versions the caller read.
func (s *Store[T]) TxCheck(key T) TxWrite {
	return txAction{s.table, func(context.Context) (types.TransactWriteItem, func(), error) {
		km, versioned, err := s.prepareDelete(&key)
		if err != nil {
			return types.TransactWriteItem{}, nil, err
		}
		var cond condition
		cond.exists(s.keyAttrs[0].Attr)
		if versioned.values != nil {
			cond.equals(s.version.Attr, versioned.values[":c0"])
		}
		check := &types.ConditionCheck{TableName: &s.table, Key: km}
		cond.apply(&check.ConditionExpression, &check.ExpressionAttributeNames, &check.ExpressionAttributeValues)
		return types.TransactWriteItem{ConditionCheck: check}, func() {}, nil
	}}
}

// Transact writes all the actions or none, in one TransactWriteItems request
// (at most 100 actions) with a fresh client request token. Actions may span
// Stores and tables of the same DynamoDB client.
//
// The SDK's retries resend the request with its token, and DynamoDB gives
// identical requests with one token, within ten minutes of the first, the
// effect of one: a transaction whose answer was lost is not applied twice.
// (A server that ignores the token, as local emulators may, judges a retry
// by its conditions: a TxPut's condition accepts the item it wrote, so the
// retry rewrites it unchanged; a TxDelete's finds its item gone, a
// conflict.)
//
// If a condition fails or another transaction interferes, nothing is
// written and the error wraps ErrConflict and the SDK's
// *types.TransactionCanceledException, whose CancellationReasons give the
// reason of each action, in order. Another failure after an attempt got no
// definite answer wraps ErrOutcomeUnknown. A read-modify-write cannot run
// inside a transaction: read the items, change them, then Transact with
// TxPut (which checks the versions read) and TxCheck for items read but not
// changed.
func Transact(ctx context.Context, db DB, actions ...TxWrite) error {
	tables := tablesOf(actions)
	fail := func(err error) error { return newOpError("Transact", tables, err) }
	if len(actions) == 0 || len(actions) > maxTxItems {
		return fail(fmt.Errorf("%d actions: a transaction takes 1 to %d", len(actions), maxTxItems))
	}
	items := make([]types.TransactWriteItem, len(actions))
	dones := make([]func(), len(actions))
	for i, a := range actions {
		var err error
		if items[i], dones[i], err = a.prepare(ctx); err != nil {
			return fail(fmt.Errorf("action %d: %w", i, err))
		}
	}
	token, err := requestToken()
	if err != nil {
		return fail(err)
	}
	rec := newAttempts()
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:      items,
		ClientRequestToken: &token,
	}, rec.options()...); err != nil {
		switch {
		case isTxConflict(err):
			return fail(fmt.Errorf("%w: %w", ErrConflict, err))
		case rec.landedMaybe():
			return fail(fmt.Errorf("%w: %w", ErrOutcomeUnknown, err))
		}
		return fail(err)
	}
	for _, done := range dones {
		done()
	}
	return nil
}

// isTxConflict reports whether a transaction was cancelled because a
// condition failed or another request got in the way.
func isTxConflict(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		var tcf *types.TransactionConflictException
		return errors.As(err, &tcf)
	}
	for _, r := range tce.CancellationReasons {
		if c := valueOr(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
			return true
		}
	}
	return false
}

func valueOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func requestToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func tablesOf[A interface{ tableName() string }](actions []A) string {
	var names []string
	for _, a := range actions {
		if !slices.Contains(names, a.tableName()) {
			names = append(names, a.tableName())
		}
	}
	return strings.Join(names, ",")
}

// A TxRead is one read of a read transaction, made by Store.TxGet, for
// TransactGet.
type TxRead interface {
	get() types.TransactGetItem
	keyErr() error
	set(ctx context.Context, item map[string]types.AttributeValue) error
	tableName() string
}

type txGet[T any] struct {
	s   *Store[T]
	key map[string]types.AttributeValue
	err error
	dst **T
	rc  readConfig
}

// TxGet reads the item with key's key attributes inside TransactGet: *dst is
// set to it, verified and decrypted, or to nil if there is none.
func (s *Store[T]) TxGet(key T, dst **T, opts ...ReadOption) TxRead {
	km, err := s.keyOf(&key)
	return &txGet[T]{s: s, key: km, err: err, dst: dst, rc: readConfigOf(opts)}
}

func (g *txGet[T]) get() types.TransactGetItem {
	return types.TransactGetItem{Get: &types.Get{TableName: &g.s.table, Key: g.key}}
}
func (g *txGet[T]) keyErr() error     { return g.err }
func (g *txGet[T]) tableName() string { return g.s.table }

func (g *txGet[T]) set(ctx context.Context, av map[string]types.AttributeValue) error {
	if av == nil {
		*g.dst = nil
		return nil
	}
	item, err := g.s.decode(ctx, av, g.rc.skipDecrypt)
	if err != nil {
		return err
	}
	*g.dst = item
	return nil
}

// TransactGet reads items from one or more Stores as of one point in time,
// in one TransactGetItems request (at most 100 reads).
func TransactGet(ctx context.Context, db DB, reads ...TxRead) error {
	tables := tablesOf(reads)
	fail := func(err error) error { return newOpError("TransactGet", tables, err) }
	if len(reads) == 0 || len(reads) > maxTxItems {
		return fail(fmt.Errorf("%d reads: a transaction takes 1 to %d", len(reads), maxTxItems))
	}
	items := make([]types.TransactGetItem, len(reads))
	for i, r := range reads {
		if err := r.keyErr(); err != nil {
			return fail(fmt.Errorf("read %d: %w", i, err))
		}
		items[i] = r.get()
	}
	out, err := db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: items})
	if err != nil {
		return fail(err)
	}
	if len(out.Responses) != len(reads) {
		return fail(fmt.Errorf("%d responses for %d reads", len(out.Responses), len(reads)))
	}
	for i, r := range reads {
		if err := r.set(ctx, out.Responses[i].Item); err != nil {
			return fail(fmt.Errorf("read %d (%s): %w", i, r.tableName(), err))
		}
	}
	return nil
}
