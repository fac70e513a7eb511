package dynacrypt_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/tables"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestCreateTableFromSchema: a table made from a Store's configuration
// (keys, a global and a local index) passes CheckTable and serves Query on
// both indexes.
func TestCreateTableFromSchema(t *testing.T) {
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	name := uniqueTable(t, db)
	orders := mustNew[Order](t, db, name, dynacrypt.WithPartitionKey("customer"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()),
		dynacrypt.WithIndex("by-status", "status", "placed"), dynacrypt.WithLocalIndex("by-placed", "placed"))
	if err := orders.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := orders.CheckTable(ctx); err != nil {
		t.Fatalf("CheckTable of the table CreateTable made: %v", err)
	}
	for i := 1; i <= 3; i++ {
		if err := orders.Put(ctx, order("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := collect(t, orders.Query(ctx, Order{Status: "open"}, dynacrypt.UsingIndex("by-status"))); len(got) != 2 {
		t.Errorf("Query on the global index: %d orders, want 2", len(got))
	}
	if got := collect(t, orders.Query(ctx, Order{Customer: "c"}, dynacrypt.UsingIndex("by-placed"), dynacrypt.SortKeyBeginsWith("2026-"))); len(got) != 3 {
		t.Errorf("Query on the local index: %d orders, want 3", len(got))
	}
	if err := orders.CreateTable(ctx); err == nil {
		t.Error("CreateTable of an existing table succeeded")
	}
}

// uniqueTable returns a new table name for the test, and deletes the table
// at the end if the test made one.
func uniqueTable(t *testing.T, db *dynamodb.Client) string {
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "dynacrypt-" + strings.NewReplacer("/", "-").Replace(t.Name()) + "-" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) })
	return name
}

// TestCheckTable: a Store that does not fit its table is reported, every
// difference in one error, with the fix where there is one.
func TestCheckTable(t *testing.T) {
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, orderTable)
	c := dynacrypt.WithCipher(dynacrypttest.NewCipher())
	type NumericCustomer struct {
		Customer int    `dynamodbav:"customer"`
		Seq      int    `dynamodbav:"seq"`
		Status   string `dynamodbav:"status"`
	}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"no sort key", mustNew[Order](t, db, table, dynacrypt.WithPartitionKey("customer"), c).CheckTable(ctx),
			[]string{`the table has sort key "seq" (N), the Store none: use WithSortKey("seq")`}},
		{"wrong key type", mustNew[NumericCustomer](t, db, table, dynacrypt.WithPartitionKey("customer"), dynacrypt.WithSortKey("seq")).CheckTable(ctx),
			[]string{`partition key "customer" is of type S, but the field marshals to N`}},
		{"missing index and wrong kind", mustNew[Order](t, db, table, dynacrypt.WithPartitionKey("customer"), dynacrypt.WithSortKey("seq"), c,
			dynacrypt.WithIndex("by-nothing", "status", ""), dynacrypt.WithLocalIndex("by-status", "placed")).CheckTable(ctx),
			[]string{`no index "by-nothing"`, `index "by-status" is global, the Store declares it local`, `index "by-status" has partition key "status", the Store "customer"`}},
		{"all at once", mustNew[Order](t, db, table, dynacrypt.WithPartitionKey("status"), c, dynacrypt.WithIndex("gone", "status", "")).CheckTable(ctx),
			[]string{`partition key "customer", the Store "status": use WithPartitionKey("customer")`, `sort key "seq"`, `no index "gone"`}},
		{"missing table", mustNew[Order](t, db, "no-such-table", dynacrypt.WithPartitionKey("customer"), c).CheckTable(ctx),
			[]string{"ResourceNotFound"}},
	} {
		if tc.err == nil {
			t.Errorf("%s: CheckTable found nothing", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, tc.err, w)
			}
		}
		if tc.name != "missing table" && !errors.Is(tc.err, dynacrypt.ErrTableMismatch) {
			t.Errorf("%s: %v is not ErrTableMismatch", tc.name, tc.err)
		}
	}

	// An index that does not project all attributes cannot serve verified
	// reads.
	keysOnly := tables.Input(uniqueTable(t, db), tables.Spec{
		PartitionKey: tables.Attr{Name: "customer", Type: types.ScalarAttributeTypeS},
		Indexes:      []tables.Index{{Name: "by-status", PartitionKey: tables.Attr{Name: "status", Type: types.ScalarAttributeTypeS}}},
	})
	keysOnly.GlobalSecondaryIndexes[0].Projection.ProjectionType = types.ProjectionTypeKeysOnly
	if _, err := db.CreateTable(ctx, keysOnly); err != nil {
		t.Fatal(err)
	}
	err := mustNew[Order](t, db, *keysOnly.TableName, dynacrypt.WithPartitionKey("customer"), c,
		dynacrypt.WithIndex("by-status", "status", "")).CheckTable(ctx)
	if err == nil || !strings.Contains(err.Error(), "ProjectionType ALL") {
		t.Errorf("keys-only index: %v, want a projection problem", err)
	}
}

// TestTableMethodsNeedTableAdmin: over a DB without the TableAdmin methods
// (a wrapper of DB alone), CreateTable and CheckTable fail with an error
// that names TableAdmin, before any request: the wrapped DB is nil, so a
// request would panic.
func TestTableMethodsNeedTableAdmin(t *testing.T) {
	itemsOnly := struct{ dynacrypt.DB }{}
	orders := mustNew[Order](t, itemsOnly, "orders", dynacrypt.WithPartitionKey("customer"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	for name, call := range map[string]func(context.Context) error{"CreateTable": orders.CreateTable, "CheckTable": orders.CheckTable} {
		if err := call(context.Background()); err == nil || !strings.Contains(err.Error(), "TableAdmin") {
			t.Errorf("%s: %v; want an error naming TableAdmin", name, err)
		}
	}
}
