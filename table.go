package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/schema"
	"github.com/dynacrypt/dynacrypt/internal/tables"
)

// TableAdmin is the part of *dynamodb.Client that [Store.CreateTable] and
// [Store.CheckTable] use, besides DB. They call it on the Store's DB, which
// must implement it (as *dynamodb.Client does).
type TableAdmin interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// ErrTableMismatch means the table is not what the Store was configured
// for: its keys, their types, or its indexes differ. See [Store.CheckTable].
var ErrTableMismatch = errors.New("the table does not match the Store")

// CreateTable creates the table the Store expects: its keys with the types
// their fields marshal to, the indexes declared with WithIndex (global) and
// WithLocalIndex, projecting all attributes, and on-demand billing. It
// waits until the table is active. It is for first set-up, tests and
// commands; production tables are usually made by infrastructure code, and
// [Store.CheckTable] then checks them.
//
// The Store's DB must also implement [TableAdmin] (as *dynamodb.Client
// does, and a wrapper that embeds one); otherwise CreateTable fails saying
// so, with no request.
func (s *Store[T]) CreateTable(ctx context.Context) error {
	admin, err := s.admin()
	if err == nil {
		err = tables.Create(ctx, admin, s.table, s.tableSpec())
	}
	if err != nil {
		return s.fail("CreateTable", err)
	}
	return nil
}

// CheckTable compares the Store's configuration with the table, as
// DescribeTable tells it, and reports every difference in one error
// wrapping ErrTableMismatch: keys missing or extra (a forgotten
// WithSortKey would otherwise go unnoticed until items written with it
// fail verification under a correctly configured Store), key types, and
// declared indexes missing, with other keys, or not projecting all
// attributes. Call it at start-up; it needs dynamodb:DescribeTable, and a
// DB that implements [TableAdmin], as CreateTable does.
func (s *Store[T]) CheckTable(ctx context.Context) error {
	admin, err := s.admin()
	if err != nil {
		return s.fail("CheckTable", err)
	}
	out, err := admin.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table})
	if err != nil {
		return s.fail("CheckTable", err)
	}
	if problems := tables.Compare(out.Table, s.tableSpec()); len(problems) > 0 {
		return s.fail("CheckTable", &mismatchError{problems})
	}
	return nil
}

func (s *Store[T]) admin() (TableAdmin, error) {
	admin, ok := s.db.(TableAdmin)
	if !ok {
		return nil, fmt.Errorf("the Store's DB (%T) has no CreateTable and DescribeTable methods (TableAdmin)", s.db)
	}
	return admin, nil
}

// tableSpec describes the table the Store's configuration implies.
func (s *Store[T]) tableSpec() tables.Spec {
	spec := tables.Spec{PartitionKey: keyAttr(s.keyAttrs[0])}
	if len(s.keyAttrs) > 1 {
		spec.SortKey = keyAttr(s.keyAttrs[1])
	}
	for _, ix := range s.cfg.indexes {
		fields := s.indexes[ix.name]
		tix := tables.Index{Name: ix.name, PartitionKey: keyAttr(fields[0]), Local: ix.local}
		if len(fields) > 1 {
			tix.SortKey = keyAttr(fields[1])
		}
		spec.Indexes = append(spec.Indexes, tix)
	}
	return spec
}

// keyAttr is a key field as the table defines it. New checked the type.
func keyAttr(f *schema.Field) tables.Attr {
	t, _ := f.KeyType()
	return tables.Attr{Name: f.Attr, Type: types.ScalarAttributeType(t)}
}

// mismatchError lists every difference CheckTable found.
type mismatchError struct{ problems []error }

func (e *mismatchError) Error() string {
	texts := make([]string, len(e.problems))
	for i, p := range e.problems {
		texts[i] = p.Error()
	}
	return fmt.Sprintf("%v: %s", ErrTableMismatch, strings.Join(texts, "; "))
}

func (e *mismatchError) Unwrap() []error { return append([]error{ErrTableMismatch}, e.problems...) }
