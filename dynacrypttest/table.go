package dynacrypttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is the part of *dynamodb.Client that NewTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DeleteTable(ctx context.Context, params *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Table describes a table for NewTable.
type Table struct {
	PartitionKey Attr
	SortKey      Attr // the zero Attr means no sort key
	Indexes      []Index
}

// Index describes a secondary index. Indexes project all attributes, as
// dynacrypt needs to verify the items it reads from them.
type Index struct {
	Name         string
	PartitionKey Attr // for a local index, the table's partition key
	SortKey      Attr // the zero Attr means no sort key
	Local        bool // a local secondary index rather than a global one
}

// Attr is a key attribute: its name and scalar type.
type Attr struct {
	Name string
	Type types.ScalarAttributeType
}

// S, N and B name a key attribute of type string, number or binary.
func S(name string) Attr { return Attr{name, types.ScalarAttributeTypeS} }

// N names a number key attribute.
func N(name string) Attr { return Attr{name, types.ScalarAttributeTypeN} }

// B names a binary key attribute.
func B(name string) Attr { return Attr{name, types.ScalarAttributeTypeB} }

type attrDefs struct{ list []types.AttributeDefinition }

// keySchema returns the key schema of a table or index, adding each key
// attribute to defs once.
func keySchema(pk, sk Attr, defined map[string]bool, defs *attrDefs) []types.KeySchemaElement {
	ks := []types.KeySchemaElement{}
	for i, a := range []Attr{pk, sk} {
		if a.Name == "" {
			continue
		}
		kt := types.KeyTypeHash
		if i == 1 {
			kt = types.KeyTypeRange
		}
		ks = append(ks, types.KeySchemaElement{AttributeName: &a.Name, KeyType: kt})
		if !defined[a.Name] {
			defined[a.Name] = true
			defs.list = append(defs.list, types.AttributeDefinition{AttributeName: &a.Name, AttributeType: a.Type})
		}
	}
	return ks
}

var notTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// tableWait bounds how long NewTable waits for a table to become active.
const tableWait = 2 * time.Minute

// NewTable creates a table with a unique name (from the test's name and
// random bytes) and on-demand billing, waits until it is active, and
// deletes it when the test and its subtests end. It returns the name. Any
// failure fails the test.
func NewTable(tb testing.TB, db TableAPI, spec Table) string {
	tb.Helper()
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := notTableChars.ReplaceAllString(tb.Name(), "-")
	if len(prefix) > 64 {
		prefix = prefix[:64]
	}
	name := "dynacrypttest-" + prefix + "-" + hex.EncodeToString(rnd[:])

	defined := map[string]bool{}
	in := &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: types.BillingModePayPerRequest,
	}
	defs := &attrDefs{}
	in.KeySchema = keySchema(spec.PartitionKey, spec.SortKey, defined, defs)
	for _, ix := range spec.Indexes {
		ks := keySchema(ix.PartitionKey, ix.SortKey, defined, defs)
		proj := &types.Projection{ProjectionType: types.ProjectionTypeAll}
		if ix.Local {
			in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes,
				types.LocalSecondaryIndex{IndexName: &ix.Name, KeySchema: ks, Projection: proj})
		} else {
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes,
				types.GlobalSecondaryIndex{IndexName: &ix.Name, KeySchema: ks, Projection: proj})
		}
	}
	in.AttributeDefinitions = defs.list
	ctx := context.Background()
	if _, err := db.CreateTable(ctx, in); err != nil {
		tb.Fatalf("dynacrypttest: creating table %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}); err != nil {
			tb.Errorf("dynacrypttest: deleting table %s: %v", name, err)
		}
	})
	if err := waitActive(ctx, db, name); err != nil {
		tb.Fatalf("dynacrypttest: waiting for table %s: %v", name, err)
	}
	return name
}

// waitActive polls until the table is active. A server that reports no
// status at all (some in-memory ones create tables at once) counts as
// active.
func waitActive(ctx context.Context, db TableAPI, name string) error {
	ctx, cancel := context.WithTimeout(ctx, tableWait)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return err
		}
		if st := out.Table.TableStatus; st == types.TableStatusActive || st == "" {
			return nil
		}
		select {
		case <-time.After(delay):
			delay = min(2*delay, time.Second)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
