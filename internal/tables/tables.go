// Package tables creates DynamoDB tables from a key description, waits for
// them, and compares a description with an existing table. dynacrypt uses
// it to create and check a Store's table; dynacrypttest, to make throwaway
// tables.
package tables

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Admin is the part of *dynamodb.Client this package uses.
type Admin interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Attr is a key attribute: its name and scalar type.
type Attr struct {
	Name string
	Type types.ScalarAttributeType
}

// Spec describes the keys and indexes of a table.
type Spec struct {
	PartitionKey Attr
	SortKey      Attr // the zero Attr means no sort key
	Indexes      []Index
}

// Index describes a secondary index, which projects all attributes.
type Index struct {
	Name         string
	PartitionKey Attr // for a local index, the table's partition key
	SortKey      Attr
	Local        bool
}

// Input returns the CreateTableInput of spec, with on-demand billing.
func Input(name string, spec Spec) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{TableName: &name, BillingMode: types.BillingModePayPerRequest}
	defined := map[string]bool{}
	in.KeySchema = keySchema(spec.PartitionKey, spec.SortKey, defined, &in.AttributeDefinitions)
	for _, ix := range spec.Indexes {
		ks := keySchema(ix.PartitionKey, ix.SortKey, defined, &in.AttributeDefinitions)
		proj := &types.Projection{ProjectionType: types.ProjectionTypeAll}
		if ix.Local {
			in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes,
				types.LocalSecondaryIndex{IndexName: &ix.Name, KeySchema: ks, Projection: proj})
		} else {
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes,
				types.GlobalSecondaryIndex{IndexName: &ix.Name, KeySchema: ks, Projection: proj})
		}
	}
	return in
}

// keySchema returns the key schema of a table or index, adding each key
// attribute to defs once.
func keySchema(pk, sk Attr, defined map[string]bool, defs *[]types.AttributeDefinition) []types.KeySchemaElement {
	var ks []types.KeySchemaElement
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
			*defs = append(*defs, types.AttributeDefinition{AttributeName: &a.Name, AttributeType: a.Type})
		}
	}
	return ks
}

// Wait bounds how long Create waits for a table to become active.
const Wait = 2 * time.Minute

// Create creates the table and waits until it is active.
func Create(ctx context.Context, db Admin, name string, spec Spec) error {
	if _, err := db.CreateTable(ctx, Input(name, spec)); err != nil {
		return err
	}
	return WaitActive(ctx, db, name)
}

// WaitActive polls until the table is active. A server that reports no
// status at all (some in-memory ones create tables at once) counts as
// active.
func WaitActive(ctx context.Context, db Admin, name string) error {
	ctx, cancel := context.WithTimeout(ctx, Wait)
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

// Compare returns every way table differs from spec: keys, their types,
// and the declared indexes (present, same keys, projecting all attributes).
// Each problem says what to change.
func Compare(table *types.TableDescription, spec Spec) []error {
	typeOf := map[string]types.ScalarAttributeType{}
	for _, d := range table.AttributeDefinitions {
		typeOf[deref(d.AttributeName)] = d.AttributeType
	}
	var problems []error
	// compareKeys compares the keys of the table (suggest set) or of an
	// index with the Store's, and suggests the option that matches the
	// table's own.
	compareKeys := func(what string, ks []types.KeySchemaElement, pk, sk Attr, suggest bool) {
		gotPK, gotSK := keysOf(ks)
		for _, k := range []struct {
			role      string
			got, want Attr
			option    string
		}{{"partition key", gotPK, pk, "WithPartitionKey"}, {"sort key", gotSK, sk, "WithSortKey"}} {
			k.got.Type = typeOf[k.got.Name]
			fix := ""
			if suggest {
				fix = fmt.Sprintf(": use %s(%q)", k.option, k.got.Name)
			}
			switch {
			case k.got.Name != k.want.Name && k.want.Name == "":
				problems = append(problems, fmt.Errorf("%s has %s %q (%s), the Store none%s", what, k.role, k.got.Name, k.got.Type, fix))
			case k.got.Name != k.want.Name && k.got.Name == "":
				problems = append(problems, fmt.Errorf("%s has no %s, the Store has %q", what, k.role, k.want.Name))
			case k.got.Name != k.want.Name:
				problems = append(problems, fmt.Errorf("%s has %s %q, the Store %q%s", what, k.role, k.got.Name, k.want.Name, fix))
			case k.got.Type != k.want.Type:
				problems = append(problems, fmt.Errorf("%s's %s %q is of type %s, but the field marshals to %s", what, k.role, k.got.Name, k.got.Type, k.want.Type))
			}
		}
	}
	compareKeys("the table", table.KeySchema, spec.PartitionKey, spec.SortKey, true)
	for _, ix := range spec.Indexes {
		ks, proj, local, found := findIndex(table, ix.Name)
		what := fmt.Sprintf("index %q", ix.Name)
		switch {
		case !found:
			problems = append(problems, fmt.Errorf("the table has no index %q", ix.Name))
			continue
		case ix.Local && !local:
			problems = append(problems, fmt.Errorf("%s is global, the Store declares it local", what))
		}
		compareKeys(what, ks, ix.PartitionKey, ix.SortKey, false)
		if proj == nil || proj.ProjectionType != types.ProjectionTypeAll {
			problems = append(problems, fmt.Errorf("%s does not project all attributes: items are verified whole, so it must be ProjectionType ALL", what))
		}
	}
	return problems
}

func keysOf(ks []types.KeySchemaElement) (pk, sk Attr) {
	for _, k := range ks {
		if k.KeyType == types.KeyTypeHash {
			pk.Name = deref(k.AttributeName)
		} else {
			sk.Name = deref(k.AttributeName)
		}
	}
	return pk, sk
}

func findIndex(t *types.TableDescription, name string) (ks []types.KeySchemaElement, proj *types.Projection, local, found bool) {
	for _, g := range t.GlobalSecondaryIndexes {
		if deref(g.IndexName) == name {
			return g.KeySchema, g.Projection, false, true
		}
	}
	for _, l := range t.LocalSecondaryIndexes {
		if deref(l.IndexName) == name {
			return l.KeySchema, l.Projection, true, true
		}
	}
	return nil, nil, false, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
