package dynacrypt_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
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
