package minidyn

import (
	"context"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestTransactWhoseAnswerWasLostAppliesOnce: a transaction commits and its
// answer is lost; the SDK retries it, with the same client request token.
// It is applied once and reported done: each version went up by one.
// (minidyn ignores the token, which DynamoDB honours; here the retry passes
// because each TxPut's condition accepts the item that put wrote.)
func TestTransactWhoseAnswerWasLostAppliesOnce(t *testing.T) {
	ctx := context.Background()
	proxy, db := faultyServer(t)
	users, orders := storesOn(t, db)

	ana := &User{ID: "ana", Name: "Ana", Token: "tok-ana"}
	bo := &User{ID: "bo", Name: "Bo", Token: "tok-bo"}
	if err := users.BatchPut(ctx, []*User{ana, bo}); err != nil {
		t.Fatal(err)
	}
	ana.Name = "Ana B"
	order := &Order{ID: "o1", Card: "4111"}
	proxy.SetPlan(testrig.Nth("TransactWriteItems", 1, testrig.LoseAnswer))
	err := dynacrypt.Transact(ctx, db, users.TxPut(ana), orders.TxPut(order), users.TxCheck(*bo))
	proxy.SetPlan(nil)
	if proxy.Injected() != 1 {
		t.Fatalf("%d answers lost, want 1", proxy.Injected())
	}
	if err != nil {
		t.Fatalf("transaction whose answer was lost after it committed: %v", err)
	}
	if ana.Version != 2 || order.Version != 1 {
		t.Errorf("callers' versions %d and %d, want 2 and 1", ana.Version, order.Version)
	}
	gotAna, err := users.Get(ctx, User{ID: "ana"}, dynacrypt.ConsistentRead())
	if err != nil || gotAna.Name != "Ana B" || gotAna.Version != 2 {
		t.Errorf("stored: %+v, %v; want Ana B at version 2", gotAna, err)
	}
	gotOrder, err := orders.Get(ctx, Order{ID: "o1"}, dynacrypt.ConsistentRead())
	if err != nil || gotOrder.Card != "4111" || gotOrder.Version != 1 {
		t.Errorf("stored: %+v, %v; want the order at version 1", gotOrder, err)
	}
}
