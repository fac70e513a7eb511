package minidyn

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

type User struct {
	ID      string `dynamodbav:"id"`
	Name    string `dynamodbav:"name"`
	Token   string `dynamodbav:"token" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

type Order struct {
	ID      string `dynamodbav:"id"`
	Card    string `dynamodbav:"card" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

func stores(t *testing.T) (*dynacrypt.Store[User], *dynacrypt.Store[Order], *dynamodb.Client) {
	_, db := newServer(t)
	users, orders := storesOn(t, db)
	return users, orders, db
}

// storesOn returns a versioned Store of Users and one of Orders, each in a
// new table of db.
func storesOn(t *testing.T, db *dynamodb.Client) (*dynacrypt.Store[User], *dynacrypt.Store[Order]) {
	cipher := dynacrypttest.NewCipher()
	spec := dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")}
	users, err := dynacrypt.New[User](db, dynacrypttest.NewTable(t, db, spec), dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	orders, err := dynacrypt.New[Order](db, dynacrypttest.NewTable(t, db, spec), dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	return users, orders
}

// TestTransactAllOrNothing puts one item and deletes another, in two tables,
// first with a stale version (nothing happens), then with the right ones
// (both happen).
func TestTransactAllOrNothing(t *testing.T) {
	ctx := context.Background()
	users, orders, db := stores(t)
	ana := &User{ID: "ana", Name: "Ana", Token: "tok-ana"}
	if err := users.Put(ctx, ana); err != nil {
		t.Fatal(err)
	}
	old := &Order{ID: "o1", Card: "4111"}
	if err := orders.Put(ctx, old); err != nil {
		t.Fatal(err)
	}

	ana.Name = "Ana B"
	stale := *old
	stale.Version = 7
	err := dynacrypt.Transact(ctx, db, users.TxPut(ana), orders.TxDelete(stale))
	if !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("transaction with a stale version: %v, want ErrConflict", err)
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 || code(tce.CancellationReasons[1]) != "ConditionalCheckFailed" {
		t.Fatalf("per-action reasons not available: %v", err)
	}
	if ana.Version != 1 {
		t.Errorf("failed transaction changed the item's version to %d", ana.Version)
	}
	got, err := users.Get(ctx, User{ID: "ana"}, dynacrypt.ConsistentRead())
	if err != nil || got.Name != "Ana" || got.Version != 1 {
		t.Fatalf("after the failed transaction: %+v, %v; want it unchanged", got, err)
	}
	if _, err := orders.Get(ctx, Order{ID: "o1"}, dynacrypt.ConsistentRead()); err != nil {
		t.Fatalf("after the failed transaction the order is gone: %v", err)
	}

	if err := dynacrypt.Transact(ctx, db, users.TxPut(ana), orders.TxDelete(*old)); err != nil {
		t.Fatal(err)
	}
	if ana.Version != 2 {
		t.Errorf("version after commit: %d, want 2", ana.Version)
	}
	got, err = users.Get(ctx, User{ID: "ana"}, dynacrypt.ConsistentRead())
	if err != nil || got.Name != "Ana B" || got.Token != "tok-ana" || got.Version != 2 {
		t.Fatalf("after commit: %+v, %v", got, err)
	}
	if _, err := orders.Get(ctx, Order{ID: "o1"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Fatalf("after commit the order is still there: %v", err)
	}
}

// TestTransactCheckAndGet commits a change only if another item is still at
// the version read, and reads both stores in one TransactGet.
func TestTransactCheckAndGet(t *testing.T) {
	ctx := context.Background()
	users, orders, db := stores(t)
	u := &User{ID: "u", Token: "t"}
	o := &Order{ID: "o", Card: "5500"}
	if err := users.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := orders.Put(ctx, o); err != nil {
		t.Fatal(err)
	}
	readU := *u
	if _, err := users.Update(ctx, User{ID: "u"}, func(u *User) error { u.Name = "changed"; return nil }); err != nil {
		t.Fatal(err)
	}
	o.Card = "6011"
	if err := dynacrypt.Transact(ctx, db, orders.TxPut(o), users.TxCheck(readU)); !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("check of a changed item: %v, want ErrConflict", err)
	}
	if err := dynacrypt.Transact(ctx, db, orders.TxPut(o), users.TxCheck(User{ID: "u", Version: 2})); err != nil {
		t.Fatalf("check of the current version: %v", err)
	}

	var gotU *User
	var gotO, missing *Order
	if err := dynacrypt.TransactGet(ctx, db, users.TxGet(User{ID: "u"}, &gotU), orders.TxGet(Order{ID: "o"}, &gotO),
		orders.TxGet(Order{ID: "nope"}, &missing)); err != nil {
		t.Fatal(err)
	}
	if gotU == nil || gotU.Name != "changed" || gotO == nil || gotO.Card != "6011" || gotO.Version != 2 || missing != nil {
		t.Fatalf("TransactGet: %+v %+v %+v", gotU, gotO, missing)
	}
}

func code(r types.CancellationReason) string {
	if r.Code == nil {
		return ""
	}
	return *r.Code
}

// TestTransactGetVerifies: items read in a transaction are verified like
// any other read.
func TestTransactGetVerifies(t *testing.T) {
	ctx := context.Background()
	users, _, db := stores(t)
	if err := users.Put(ctx, &User{ID: "u", Name: "Ana", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	raw, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(users.Table()),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u"}}})
	if err != nil {
		t.Fatal(err)
	}
	raw.Item["name"] = &types.AttributeValueMemberS{Value: "Eve"}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(users.Table()), Item: raw.Item}); err != nil {
		t.Fatal(err)
	}
	var got *User
	err = dynacrypt.TransactGet(ctx, db, users.TxGet(User{ID: "u"}, &got))
	if !errors.Is(err, dynacrypt.ErrIntegrity) || got != nil {
		t.Fatalf("TransactGet of a tampered item: %+v, %v; want ErrIntegrity", got, err)
	}
}
