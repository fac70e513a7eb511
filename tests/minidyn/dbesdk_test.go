package minidyn

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// TestTransactOnDBESDKItems: transactions write and read DB-ESDK items,
// all or nothing, with the versions' conditions, across a table in
// DB-ESDK's format and one in dynacrypt's; a stale version cancels it.
func TestTransactOnDBESDKItems(t *testing.T) {
	ctx := context.Background()
	_, db := newServer(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	kr, err := dbesdk.RawAESKeyring("ns", "k", key)
	if err != nil {
		t.Fatal(err)
	}
	spec := dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")}
	usersTable := dynacrypttest.NewTable(t, db, spec)
	users, err := dynacrypt.New[User](db, usersTable, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dbesdk.Format(kr))
	if err != nil {
		t.Fatal(err)
	}
	_, orders := storesOn(t, db) // dynacrypt's format

	ana, order := &User{ID: "ana", Name: "Ana", Token: "tok"}, &Order{ID: "o1", Card: "4111"}
	if err := dynacrypt.Transact(ctx, db, users.TxPut(ana), orders.TxPut(order)); err != nil {
		t.Fatal(err)
	}
	if ana.Version != 1 || order.Version != 1 {
		t.Fatalf("versions %d and %d after the transaction, want 1", ana.Version, order.Version)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &usersTable, Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "ana"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Item["aws_dbe_head"]; !ok {
		t.Fatal("TxPut did not write DB-ESDK's format")
	}

	stale := *ana
	ana.Name = "Ana B"
	if err := dynacrypt.Transact(ctx, db, users.TxPut(ana), orders.TxCheck(*order)); err != nil {
		t.Fatal(err)
	}
	order.Card = "5500"
	if err := dynacrypt.Transact(ctx, db, orders.TxPut(order), users.TxCheck(stale)); !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("a transaction checking a stale version: %v, want ErrConflict", err)
	}

	var gotUser *User
	var gotOrder *Order
	if err := dynacrypt.TransactGet(ctx, db, users.TxGet(User{ID: "ana"}, &gotUser), orders.TxGet(Order{ID: "o1"}, &gotOrder)); err != nil {
		t.Fatal(err)
	}
	if gotUser == nil || *gotUser != *ana || gotOrder == nil || gotOrder.Card != "4111" {
		t.Fatalf("TransactGet: %+v, %+v", gotUser, gotOrder)
	}
}
