package dynacrypt_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// nilInjectingDB is a DB wrapper (the DB interface invites them: tracing,
// caching) whose answers hold a typed nil deep in an item's list, as a
// wrapper with a decoder of its own may produce.
type nilInjectingDB struct {
	*dynamodb.Client
	bad types.AttributeValue
}

func (d nilInjectingDB) spoil(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	item = maps.Clone(item)
	item["tags"] = nestMap(nest(d.bad))
	return item
}

func (d nilInjectingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := d.Client.GetItem(ctx, in, opts...)
	if err == nil {
		out.Item = d.spoil(out.Item)
	}
	return out, err
}

func (d nilInjectingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	out, err := d.Client.Scan(ctx, in, opts...)
	if err == nil {
		for i := range out.Items {
			out.Items[i] = d.spoil(out.Items[i])
		}
	}
	return out, err
}

// TestTypedNilFromDBWrapperRefused: Store.Get and Store.Scan read items a
// DB (or a wrapper of it) returned; a typed nil nested in a list of a
// plaintext attribute must give ErrIntegrity, not a panic, as
// Store.UnmarshalItem does for the same map.
func TestTypedNilFromDBWrapperRefused(t *testing.T) {
	ctx := context.Background()
	raw := dynacrypttest.DynamoDB(t)
	table := dynacrypttest.NewTable(t, raw, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	cipher := dynacrypttest.NewCipher()
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}
	writer, err := dynacrypt.New[Parcel](raw, table, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Put(ctx, &Parcel{ID: "p1", Org: "acme", Label: "box", Tags: []any{"a"}, Secret: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range typedNils {
		reader, err := dynacrypt.New[Parcel](nilInjectingDB{raw, bad}, table, opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = noPanic(func() error { _, err := reader.Get(ctx, Parcel{ID: "p1"}); return err })
		if !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Get, %T nested: %v, want ErrIntegrity", bad, err)
		}
		err = noPanic(func() error {
			for _, err := range reader.Scan(ctx) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		if !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Scan, %T nested: %v, want ErrIntegrity", bad, err)
		}
	}
}
