package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

type Card struct {
	ID     string `dynamodbav:"id"`
	Holder string `dynamodbav:"holder"`
	Number string `dynamodbav:"number" encrypt:"kms"`
	CVC    string `dynamodbav:"cvc" encrypt:"kms"`
	Views  int    `dynamodbav:"views"`
	Ver    int64  `dynamodbav:"ver"`
}

const hdr = dynacrypt.DefaultHeaderAttribute

// TestIntegrity alters stored items in every way the signature must catch
// and checks that each gives ErrIntegrity: never a panic, never wrong
// plaintext.
func TestIntegrity(t *testing.T) {
	for _, cc := range allCiphers {
		t.Run(cc.name, func(t *testing.T) { testIntegrity(t, cc.make(t)) })
	}
}

func testIntegrity(t *testing.T, cipher dynacrypt.Cipher) {
	db, table := usersTable(t)
	// Every byte of every wrapped key is flipped here, each a new invalid
	// key: let them all reach the Cipher, rather than be refused as a
	// flood of forgeries (TestForgedKeys covers that).
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("ver"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views"), dynacrypt.WithUnwrapLimit(1000, time.Second)}
	cards := mustNew[Card](t, db, table, opts...)
	ctx := context.Background()
	for _, c := range []*Card{
		{ID: "c1", Holder: "Ana", Number: "4111111111111111", CVC: "123"},
		{ID: "c2", Holder: "Bob", Number: "5500005555555559", CVC: "987"},
	} {
		if err := cards.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	orig := rawGet(t, db, table, "c1")
	other := rawGet(t, db, table, "c2")

	// expectIntegrity stores item under its own key and checks that
	// reading key gives ErrIntegrity from any Store of the table.
	expectIntegrity := func(what string, item map[string]types.AttributeValue, key string, store *dynacrypt.Store[Card]) {
		t.Helper()
		rawPut(t, db, store.Table(), item)
		got, err := store.Get(ctx, Card{ID: key}, dynacrypt.ConsistentRead())
		if !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s: Get gave %+v, %v; want ErrIntegrity", what, got, err)
		}
	}
	with := func(f func(map[string]types.AttributeValue)) map[string]types.AttributeValue {
		item := cloneItem(orig)
		f(item)
		return item
	}

	for _, attr := range []string{hdr, "number", "cvc"} {
		n := len(orig[attr].(*types.AttributeValueMemberB).Value)
		for i := 0; i < n; i++ {
			item := with(func(m map[string]types.AttributeValue) { m[attr].(*types.AttributeValueMemberB).Value[i] ^= 0xff })
			expectIntegrity(fmt.Sprintf("%s byte %d of %d flipped", attr, i, n), item, "c1", cards)
		}
	}
	for name, f := range map[string]func(map[string]types.AttributeValue){
		"plaintext changed":      func(m map[string]types.AttributeValue) { m["holder"] = &types.AttributeValueMemberS{Value: "Eve"} },
		"plaintext type changed": func(m map[string]types.AttributeValue) { m["ver"] = &types.AttributeValueMemberS{Value: "1"} },
		"version changed":        func(m map[string]types.AttributeValue) { m["ver"] = &types.AttributeValueMemberN{Value: "7"} },
		"attribute added":        func(m map[string]types.AttributeValue) { m["admin"] = &types.AttributeValueMemberBOOL{Value: true} },
		"plaintext removed":      func(m map[string]types.AttributeValue) { delete(m, "holder") },
		"encrypted removed":      func(m map[string]types.AttributeValue) { delete(m, "cvc") },
		"header removed":         func(m map[string]types.AttributeValue) { delete(m, hdr) },
		"header truncated": func(m map[string]types.AttributeValue) {
			b := m[hdr].(*types.AttributeValueMemberB)
			b.Value = b.Value[:len(b.Value)-1]
		},
		"header not binary":    func(m map[string]types.AttributeValue) { m[hdr] = &types.AttributeValueMemberS{Value: "x"} },
		"encrypted not binary": func(m map[string]types.AttributeValue) { m["cvc"] = &types.AttributeValueMemberS{Value: "123"} },
		"encrypted made plain": func(m map[string]types.AttributeValue) {
			m["number"] = &types.AttributeValueMemberS{Value: "4111111111111111"}
		},
		"swap attributes":         func(m map[string]types.AttributeValue) { m["number"], m["cvc"] = m["cvc"], m["number"] },
		"value from other item":   func(m map[string]types.AttributeValue) { m["number"] = other["number"] },
		"header from other item":  func(m map[string]types.AttributeValue) { m[hdr] = other[hdr] },
		"encrypted to other name": func(m map[string]types.AttributeValue) { m["holder"] = m["cvc"] },
	} {
		expectIntegrity(name, with(f), "c1", cards)
	}

	// The whole item copied to another key, then to another table.
	moved := cloneItem(orig)
	moved["id"] = &types.AttributeValueMemberS{Value: "c3"}
	expectIntegrity("item copied to another key", moved, "c3", cards)

	table2 := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	expectIntegrity("item copied to another table", cloneItem(orig), "c1", mustNew[Card](t, db, table2, opts...))

	// Unsigned attributes may change; the original still reads.
	rawPut(t, db, table, with(func(m map[string]types.AttributeValue) { m["views"] = &types.AttributeValueMemberN{Value: "41"} }))
	got, err := cards.Get(ctx, Card{ID: "c1"}, dynacrypt.ConsistentRead())
	if err != nil || got.Number != "4111111111111111" || got.CVC != "123" || got.Views != 41 {
		t.Fatalf("after changing an unsigned attribute: %+v, %v", got, err)
	}
}

// TestKMSErrors checks that KMS failures are wrapped so errors.As finds the
// KMS exception, and that a root key wrapped for one table does not unwrap
// for another even when the item bytes are copied whole.
func TestKMSErrors(t *testing.T) {
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	ctx := context.Background()

	missing := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, "alias/no-such-key")))
	err := missing.Put(ctx, &User{ID: "u", Token: "t"})
	var notFound interface{ ErrorCode() string }
	if !errors.As(err, &notFound) || notFound.ErrorCode() != "NotFoundException" {
		t.Errorf("Put under a missing KMS key: %v, want a wrapped NotFoundException", err)
	}

	// A reader that only accepts key B cannot read items wrapped under A;
	// with A as a previous key it can.
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	if err := writer.Put(ctx, &User{ID: "u", Token: "under-a"}); err != nil {
		t.Fatal(err)
	}
	onlyB := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyB)))
	if _, err := onlyB.Get(ctx, User{ID: "u"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("reading a key-A item with only key B: %v, want ErrIntegrity", err)
	}
	rotated := dynacrypt.NewKMSCipher(client, testrig.KeyB).WithPreviousKeys(testrig.KeyA)
	bThenA := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(rotated))
	got, err := bThenA.Get(ctx, User{ID: "u"}, dynacrypt.ConsistentRead())
	if err != nil || got.Token != "under-a" {
		t.Fatalf("reading a key-A item with B and previous key A: %+v, %v", got, err)
	}
	if err := bThenA.Put(ctx, got); err != nil {
		t.Fatal(err)
	}
	wrapped := wrappedKey(rawGet(t, db, table, "u")[hdr].(*types.AttributeValueMemberB).Value)
	if id, ok := rotated.WrappingKey(wrapped); !ok || id != testrig.KeyB {
		t.Errorf("after rewrite the root key is wrapped by %q (%v), want %q", id, ok, testrig.KeyB)
	}
}

// TestUnsignedCaseTwin: attributevalue matches attribute names to fields
// regardless of case, so an unsigned "Username" beside a signed field
// "username" would let anyone override the field. New refuses it; and an
// unsigned attribute that is not a field never reaches the item.
func TestUnsignedCaseTwin(t *testing.T) {
	err := newErr[User](dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithUnsignedAttributes("Username"))
	if err == nil || !strings.Contains(err.Error(), `"Username"`) || !strings.Contains(err.Error(), "case") {
		t.Errorf("unsigned Username beside username: %v, want a refusal", err)
	}
	ctx := context.Background()
	db, table := usersTable(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)),
		dynacrypt.WithUnsignedAttributes("ttl"))
	if err := users.Put(ctx, &User{ID: "u", Username: "ana", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "u")
	raw["ttl"] = &types.AttributeValueMemberN{Value: "1800000000"}
	rawPut(t, db, table, raw)
	if u, err := users.Get(ctx, User{ID: "u"}, dynacrypt.ConsistentRead()); err != nil || u.Username != "ana" {
		t.Errorf("item with an unsigned attribute set by another writer: %+v, %v", u, err)
	}
	raw["USERNAME"] = &types.AttributeValueMemberS{Value: "eve"}
	rawPut(t, db, table, raw)
	if u, err := users.Get(ctx, User{ID: "u"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("a case twin added to the item: %+v, %v; want ErrIntegrity (it is signed)", u, err)
	}
}
