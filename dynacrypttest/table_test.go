package dynacrypttest_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

func TestNewTable(t *testing.T) {
	db := dynacrypttest.DynamoDB(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = dynacrypttest.NewTable(t, db, dynacrypttest.Table{
			PartitionKey: dynacrypttest.S("tenant"),
			SortKey:      dynacrypttest.N("seq"),
		})
		out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			t.Fatal(err)
		}
		d := out.Table
		if d.TableStatus != types.TableStatusActive || len(d.KeySchema) != 2 ||
			*d.KeySchema[0].AttributeName != "tenant" || d.KeySchema[0].KeyType != types.KeyTypeHash ||
			*d.KeySchema[1].AttributeName != "seq" || d.KeySchema[1].KeyType != types.KeyTypeRange {
			t.Errorf("table %s: %+v", name, d)
		}
	})
	// Gone, or going: DynamoDB deletes tables asynchronously.
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) && (err != nil || out.Table.TableStatus != types.TableStatusDeleting) {
		t.Errorf("table %s still there after its test ended: %v", name, err)
	}
}

// TestNewStore: the Store's table, made from its options, passes the check
// the service makes at start-up.
func TestNewStore(t *testing.T) {
	ctx := context.Background()
	notes := dynacrypttest.NewStore[Memo](t, dynacrypttest.DynamoDB(t), dynacrypt.WithPartitionKey("owner"),
		dynacrypt.WithSortKey("created"), dynacrypt.WithVersion("version"),
		dynacrypt.WithLocalIndex("by-version", "version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := notes.CheckTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := notes.Put(ctx, &Memo{Owner: "ana", Created: 1, Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	if n, err := notes.Get(ctx, Memo{Owner: "ana", Created: 1}); err != nil || n.Body != "hello" {
		t.Fatalf("%+v, %v", n, err)
	}
}

// Memo is the item of the Store tests.
type Memo struct {
	Owner   string `dynamodbav:"owner"`
	Created int64  `dynamodbav:"created"`
	Body    string `dynamodbav:"body" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// countingDB counts the item requests of a DynamoDB client, as a service's
// own wrapper for metrics or tracing would: it embeds the client, so it
// has its table methods too.
type countingDB struct {
	*dynamodb.Client
	puts, gets atomic.Int64
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts.Add(1)
	return c.Client.PutItem(ctx, in, opts...)
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, opts...)
}

// TestNewStoreOverWrapper: NewStore takes a wrapper of the client, and the
// Store it opens sends its requests through it.
func TestNewStoreOverWrapper(t *testing.T) {
	ctx := context.Background()
	db := &countingDB{Client: dynacrypttest.DynamoDB(t)}
	notes := dynacrypttest.NewStore[Memo](t, db, dynacrypt.WithPartitionKey("owner"), dynacrypt.WithSortKey("created"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := notes.Put(ctx, &Memo{Owner: "ana", Created: 1, Body: "hello"}); err != nil {
		t.Fatal(err)
	}
	if n, err := notes.Get(ctx, Memo{Owner: "ana", Created: 1}); err != nil || n.Body != "hello" {
		t.Fatalf("%+v, %v", n, err)
	}
	if p, g := db.puts.Load(), db.gets.Load(); p != 1 || g != 1 {
		t.Errorf("the wrapper saw %d PutItem and %d GetItem requests; want 1 and 1", p, g)
	}
}

// TestStoredItem: StoredItem reads an item as stored, encrypted and signed,
// so that a test can check that a read refuses it once edited; a missing
// item fails the test.
func TestStoredItem(t *testing.T) {
	ctx := context.Background()
	db := dynacrypttest.DynamoDB(t)
	notes := dynacrypttest.NewStore[Memo](t, db, dynacrypt.WithPartitionKey("owner"), dynacrypt.WithSortKey("created"),
		dynacrypt.WithCipher(dynacrypttest.NewCipher()))
	if err := notes.Put(ctx, &Memo{Owner: "ana", Created: 1, Body: "a secret"}); err != nil {
		t.Fatal(err)
	}
	raw := dynacrypttest.StoredItem(t, db, notes, Memo{Owner: "ana", Created: 1})
	body, ok := raw["body"].(*types.AttributeValueMemberB)
	if !ok || strings.Contains(string(body.Value), "a secret") || raw[dynacrypt.DefaultHeaderAttribute] == nil {
		t.Fatalf("stored item %v; want the body as ciphertext and a header", raw)
	}
	if n, err := notes.UnmarshalItem(ctx, raw); err != nil || n.Body != "a secret" {
		t.Fatalf("the item as stored reads %+v, %v", n, err)
	}
	edited := maps.Clone(raw)
	edited["created"] = &types.AttributeValueMemberN{Value: "2"}
	if n, err := notes.UnmarshalItem(ctx, edited); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("the item moved to another key reads %+v, %v; want ErrIntegrity", n, err)
	}

	o := run(t, func(tb testing.TB) { dynacrypttest.StoredItem(tb, db, notes, Memo{Owner: "ana", Created: 2}) })
	if !o.failed || !strings.Contains(o.msg, "no item") || !strings.Contains(o.msg, "created:2") {
		t.Errorf("a missing item: failed %v, %q; want a failure naming its key", o.failed, o.msg)
	}
}
