package dynacrypt_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// TestMarshalItem: the map MarshalItem makes, sent by the caller's own
// PutItem, reads back through Get and through UnmarshalItem of what GetItem
// returned; UnmarshalItem verifies as Get does and leaves its argument as
// it was.
func TestMarshalItem(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[Kinds](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("v"), dynacrypt.WithCipher(newAES(t)))
	want := sampleKinds("k1")
	av, err := s.MarshalItem(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if want.Version != 0 {
		t.Errorf("MarshalItem changed the item's version to %d", want.Version)
	}
	if _, ok := av["str"].(*types.AttributeValueMemberB); !ok || av[hdr] == nil {
		t.Fatalf("MarshalItem did not seal: %v", av)
	}
	rawPut(t, db, table, av)
	got, err := s.Get(ctx, Kinds{ID: "k1"}, dynacrypt.ConsistentRead())
	want.Version = 1
	if err != nil || !sameKinds(got, want) {
		t.Fatalf("Get of a MarshalItem item: %+v, %v", got, err)
	}
	raw := rawGet(t, db, table, "k1")
	before := maps.Clone(raw)
	if got, err := s.UnmarshalItem(ctx, raw); err != nil || !sameKinds(got, want) {
		t.Fatalf("UnmarshalItem: %+v, %v", got, err)
	}
	if !reflect.DeepEqual(raw, before) {
		t.Error("UnmarshalItem changed its argument")
	}
	if got, err := s.UnmarshalItem(ctx, raw, dynacrypt.SkipDecryption()); err != nil || got.Str != "" || got.Name != want.Name {
		t.Errorf("UnmarshalItem with SkipDecryption: %+v, %v", got, err)
	}
	raw["name"] = &types.AttributeValueMemberS{Value: "eve"}
	var oe *dynacrypt.OpError
	if _, err := s.UnmarshalItem(ctx, raw); !errors.Is(err, dynacrypt.ErrIntegrity) || !errors.As(err, &oe) || oe.Op != "UnmarshalItem" {
		t.Errorf("UnmarshalItem of a tampered item: %v, want an UnmarshalItem OpError of kind ErrIntegrity", err)
	}
	if _, err := s.MarshalItem(ctx, &Kinds{}); err == nil {
		t.Error("MarshalItem of an item without its key succeeded")
	}
}

// TestItems: the type-free Items opens what a Store wrote and seals what a
// Store reads, given the same keys, encrypted attributes and Cipher.
func TestItems(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	items, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, &User{ID: "u1", Username: "ana", Token: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	opened, err := items.Open(ctx, rawGet(t, db, table, "u1"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: "u1"}, "username": &types.AttributeValueMemberS{Value: "ana"},
		"token": &types.AttributeValueMemberS{Value: "s3cret"}, "version": &types.AttributeValueMemberN{Value: "1"},
	}
	if !reflect.DeepEqual(opened, want) {
		t.Errorf("Items.Open: %v, want %v", opened, want)
	}
	want["id"] = &types.AttributeValueMemberS{Value: "u2"}
	sealed, err := items.Seal(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, db, table, sealed)
	if u, err := users.Get(ctx, User{ID: "u2"}, dynacrypt.ConsistentRead()); err != nil || u.Token != "s3cret" || u.Version != 1 {
		t.Errorf("Store.Get of an item Items sealed: %+v, %v", u, err)
	}
	sealed["username"] = &types.AttributeValueMemberS{Value: "eve"}
	if _, err := items.Open(ctx, sealed); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("Items.Open of a tampered item: %v, want ErrIntegrity", err)
	}
	for name, opts := range map[string][]dynacrypt.Option{
		"no cipher":     {dynacrypt.WithPartitionKey("id")},
		"encrypted key": {dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithEncryptedAttributes("id")},
	} {
		if _, err := dynacrypt.NewItems(table, opts...); err == nil {
			t.Errorf("NewItems with %s succeeded", name)
		}
	}
	if err := newErr[User](dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithEncryptedAttributes("username")); err == nil {
		t.Error("New accepted WithEncryptedAttributes")
	}
}

// TestItemsOpenUndeclared: Items that leave an encrypted attribute out of
// WithEncryptedAttributes refuse the items it is in, naming it (ErrIntegrity,
// no value in the message), rather than return its ciphertext as its value;
// a plaintext binary attribute opens as it is.
func TestItemsOpenUndeclared(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	if err := users.Put(ctx, &User{ID: "u1", Username: "ana", Token: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "u1")
	forgetful, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	got, err := forgetful.Open(ctx, raw)
	if !errors.Is(err, dynacrypt.ErrIntegrity) || got != nil || !strings.Contains(err.Error(), `attribute "token" is encrypted, but not declared`) ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open without the encrypted attribute: %v, %v; want ErrIntegrity naming token", got, err)
	}
	if _, err := forgetful.Open(ctx, raw, dynacrypt.SkipDecryption()); err != nil {
		t.Errorf("Open with SkipDecryption, which verifies nothing: %v", err)
	}

	// A plaintext binary attribute is no ciphertext: it opens as it is,
	// under Items that declare the encrypted attribute or not.
	items, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	avatar := &types.AttributeValueMemberB{Value: bytes.Repeat([]byte{0xff, 0xd8, 1, 2}, 12)}
	plain := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "u2"}, "avatar": avatar}
	for name, it := range map[string]*dynacrypt.Items{"declaring token": items, "without token": forgetful} {
		sealed, err := it.Seal(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := it.Open(ctx, sealed); err != nil || !reflect.DeepEqual(got["avatar"], avatar) {
			t.Errorf("Items %s: Open of an item with a plaintext binary attribute: %v, %v", name, got, err)
		}
	}
}
