package dbesdk_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Doc is an item of a tenant, with an e-mail found by its beacon.
type Doc struct {
	Tenant string `dynamodbav:"tenant"`
	ID     string `dynamodbav:"id"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=16,lower"`
	Body   string `dynamodbav:"body" encrypt:"kms"`
}

// docsTable makes a table of Docs keyed by tenant and id, with an index on
// the e-mail's beacon.
func docsTable(t *testing.T) (dynacrypt.DB, string, []dynacrypt.Option) {
	db := testrig.DynamoDB(t)
	beacon := dynacrypt.BeaconAttribute("email")
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("tenant"), SortKey: dynacrypttest.S("id"),
		Indexes: []dynacrypttest.Index{{Name: "by-email", PartitionKey: dynacrypttest.S(beacon)}}})
	return db, table, []dynacrypt.Option{dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithIndex("by-email", beacon, ""), dynacrypt.WithBeaconKey(newKey(t)), dynacrypt.WithTenantAttribute("tenant")}
}

// TestTenantsAndBeaconsOnDBESDKItems: a Store with tenants writes DB-ESDK
// items of format version 2, the tenant and the key attributes
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT (where a hierarchical keyring's
// supplier finds the tenant); an item moved to another tenant is refused;
// beacons stay dynacrypt's, written as signed attributes, and Lookup finds
// items by them, per tenant; a walk of one tenant rewrites its items only.
func TestTenantsAndBeaconsOnDBESDKItems(t *testing.T) {
	db, table, opts := docsTable(t)
	kr := rawAES(t, newKey(t))
	store := mustNew[Doc](t, db, table, append(opts, dbesdk.Format(kr, dbesdk.WithSuite(dbesdk.SuiteSymSig)))...)
	ctx := context.Background()
	for i := range 6 {
		tenant := []string{"acme", "globex"}[i%2]
		if err := store.Put(ctx, &Doc{Tenant: tenant, ID: fmt.Sprint(i), Email: fmt.Sprintf("User%d@example.com", i/2), Body: "body"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Put(ctx, &Doc{ID: "x"}); err == nil {
		t.Fatal("an item without a tenant was written")
	}

	raw := rawDoc(t, db, table, "acme", "0")
	head := raw[structure.HeaderAttr].(*types.AttributeValueMemberB).Value
	if head[0] != 2 {
		t.Fatalf("format version %d, want 2", head[0])
	}
	if _, ok := raw[dynacrypt.BeaconAttribute("email")].(*types.AttributeValueMemberS); !ok {
		t.Fatal("no beacon attribute")
	}

	// Lookup: the same e-mail under both tenants, each found in its own.
	for _, tenant := range []string{"acme", "globex"} {
		var found []*Doc
		for d, err := range store.Lookup(ctx, Doc{Tenant: tenant, Email: "user1@EXAMPLE.com"}, "by-email") {
			if err != nil {
				t.Fatal(err)
			}
			found = append(found, d)
		}
		if len(found) != 1 || found[0].Tenant != tenant || found[0].Email != "User1@example.com" {
			t.Fatalf("Lookup in %s: %+v", tenant, found)
		}
	}

	// The item copied under another tenant, and its beacon altered.
	moved := maps.Clone(raw)
	moved["tenant"] = &types.AttributeValueMemberS{Value: "globex"}
	moved["id"] = &types.AttributeValueMemberS{Value: "moved"}
	if _, err := store.UnmarshalItem(ctx, moved); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("an item moved to another tenant: %v, want ErrIntegrity", err)
	}
	tampered := maps.Clone(raw)
	tampered[dynacrypt.BeaconAttribute("email")] = &types.AttributeValueMemberS{Value: "0000"}
	if _, err := store.UnmarshalItem(ctx, tampered); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("an altered beacon: %v, want ErrIntegrity", err)
	}

	// A walk of one tenant, into the signed suite: globex's items only.
	signed := mustNew[Doc](t, db, table, append(opts, dbesdk.Format(kr))...)
	p, err := signed.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "globex"})
	if err != nil || p.Rewritten != 3 {
		t.Fatalf("walk of one tenant: %+v, %v; want 3 rewritten", p, err)
	}
	for i := range 6 {
		tenant := []string{"acme", "globex"}[i%2]
		flavor := rawDoc(t, db, table, tenant, fmt.Sprint(i))[structure.HeaderAttr].(*types.AttributeValueMemberB).Value[1]
		if want := byte(i % 2); flavor != want { // 0x00: 0x6700, 0x01: 0x6701
			t.Errorf("%s's item %d has flavor %d, want %d", tenant, i, flavor, want)
		}
	}
}

func rawDoc(t *testing.T, db dynacrypt.DB, table, tenant, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"tenant": &types.AttributeValueMemberS{Value: tenant}, "id": &types.AttributeValueMemberS{Value: id}}})
	if err != nil || out.Item == nil {
		t.Fatalf("raw item %s/%s: %v", tenant, id, err)
	}
	return out.Item
}
