package dynacrypttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/tables"
)

// TableAPI is the part of *dynamodb.Client that NewTable uses to create a
// table and delete it: [dynacrypt.TableAdmin] (CreateTable and
// DescribeTable) and DeleteTable.
type TableAPI interface {
	dynacrypt.TableAdmin
	DeleteTable(ctx context.Context, params *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
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

var notTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// NewTable creates a table with a unique name (from the test's name and
// random bytes) and on-demand billing, waits until it is active, and
// deletes it when the test and its subtests end. It returns the name. Any
// failure fails the test.
func NewTable(tb testing.TB, db TableAPI, spec Table) string {
	tb.Helper()
	name := tableName(tb)
	if err := tables.Create(context.Background(), db, name, spec.internal()); err != nil {
		tb.Fatalf("dynacrypttest: creating table %s: %v", name, err)
	}
	deleteAtEnd(tb, db, name)
	return name
}

// StoreDB is what [NewStore] needs of a DynamoDB client: the
// [dynacrypt.DB] a Store uses, and what it takes to create its table
// ([dynacrypt.TableAdmin]) and delete it. *dynamodb.Client implements it,
// and so does a wrapper that embeds one, such as one that counts requests.
type StoreDB interface {
	dynacrypt.DB
	TableAPI
}

// NewStore opens a Store of T over db and a new table with a unique name,
// made by [dynacrypt.Store.CreateTable] from the options (keys and
// indexes), and deletes the table when the test ends. Any failure fails the
// test.
func NewStore[T any](tb testing.TB, db StoreDB, opts ...dynacrypt.Option) *dynacrypt.Store[T] {
	tb.Helper()
	name := tableName(tb)
	s, err := dynacrypt.New[T](db, name, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateTable(context.Background()); err != nil {
		tb.Fatal(err)
	}
	deleteAtEnd(tb, db, name)
	return s
}

// tableName returns a new table name for the test.
func tableName(tb testing.TB) string {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := notTableChars.ReplaceAllString(tb.Name(), "-")
	if len(prefix) > 64 {
		prefix = prefix[:64]
	}
	return "dynacrypttest-" + prefix + "-" + hex.EncodeToString(rnd[:])
}

func deleteAtEnd(tb testing.TB, db TableAPI, name string) {
	tb.Cleanup(func() {
		if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}); err != nil {
			tb.Errorf("dynacrypttest: deleting table %s: %v", name, err)
		}
	})
}

// internal converts the spec for package tables.
func (t Table) internal() tables.Spec {
	spec := tables.Spec{PartitionKey: tables.Attr(t.PartitionKey), SortKey: tables.Attr(t.SortKey)}
	for _, ix := range t.Indexes {
		spec.Indexes = append(spec.Indexes, tables.Index{Name: ix.Name,
			PartitionKey: tables.Attr(ix.PartitionKey), SortKey: tables.Attr(ix.SortKey), Local: ix.Local})
	}
	return spec
}
