package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// Parcel has an attribute in every role an item has: keys, a tenant, a
// version, plaintext values nested in lists and maps, an encrypted one.
type Parcel struct {
	ID      string         `dynamodbav:"id"`
	Org     string         `dynamodbav:"org"`
	Label   string         `dynamodbav:"label"`
	Tags    []any          `dynamodbav:"tags"`
	Props   map[string]any `dynamodbav:"props"`
	Secret  string         `dynamodbav:"secret" encrypt:"kms"`
	Version int64          `dynamodbav:"version"`
}

// typedNils are nil pointers of every attribute value type: what a caller's
// own code, or a decoder of its own, can put in a map.
var typedNils = []types.AttributeValue{
	(*types.AttributeValueMemberS)(nil), (*types.AttributeValueMemberN)(nil), (*types.AttributeValueMemberB)(nil),
	(*types.AttributeValueMemberBOOL)(nil), (*types.AttributeValueMemberNULL)(nil),
	(*types.AttributeValueMemberSS)(nil), (*types.AttributeValueMemberNS)(nil), (*types.AttributeValueMemberBS)(nil),
	(*types.AttributeValueMemberL)(nil), (*types.AttributeValueMemberM)(nil), (*types.UnknownUnionMember)(nil),
}

// TestNilAttributeValuesRefused: an attribute map handed to
// Store.UnmarshalItem or Items.Open with a nil value (a typed nil pointer
// such as (*types.AttributeValueMemberB)(nil), or a nil interface) anywhere
// (a key, the tenant, the version, the header, an encrypted attribute, a
// plaintext one, inside a list or a map, an unsigned attribute) fails with
// ErrIntegrity, in both suites, verified or with SkipDecryption, and does
// not panic. Items.Seal refuses one with an error too.
func TestNilAttributeValuesRefused(t *testing.T) {
	ctx := context.Background()
	hdr := dynacrypt.DefaultHeaderAttribute
	edits := map[string]func(av map[string]types.AttributeValue, bad types.AttributeValue){
		"partition key":      func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["id"] = bad },
		"tenant":             func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["org"] = bad },
		"version":            func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["version"] = bad },
		"header":             func(av map[string]types.AttributeValue, bad types.AttributeValue) { av[hdr] = bad },
		"encrypted":          func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["secret"] = bad },
		"plaintext":          func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["label"] = bad },
		"unsigned":           func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["note"] = bad },
		"new attribute":      func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["other"] = bad },
		"in a list":          func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["tags"] = nest(bad) },
		"in a map":           func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["props"] = nestMap(bad) },
		"in an unsigned map": func(av map[string]types.AttributeValue, bad types.AttributeValue) { av["note"] = nestMap(nest(bad)) },
	}
	bads := append(slices.Clone(typedNils), nil)
	for _, suite := range []dynacrypt.Suite{dynacrypt.Suite1, dynacrypt.Suite2} {
		cipher := dynacrypttest.NewCipher()
		opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithTenantAttribute("org"), dynacrypt.WithVersion("version"),
			dynacrypt.WithUnsignedAttributes("note"), dynacrypt.WithCipher(cipher), dynacrypt.WithWriteSuite(suite)}
		store, err := dynacrypt.New[Parcel](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "parcels", opts...)
		if err != nil {
			t.Fatal(err)
		}
		items, err := dynacrypt.NewItems("parcels", append(opts, dynacrypt.WithEncryptedAttributes("secret"))...)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := store.MarshalItem(ctx, &Parcel{ID: "p1", Org: "acme", Label: "box", Tags: []any{"a", 1.0},
			Props: map[string]any{"k": "v"}, Secret: "s3cret"})
		if err != nil {
			t.Fatal(err)
		}
		sealed["note"] = &types.AttributeValueMemberS{Value: "unsigned"}
		if _, err := store.UnmarshalItem(ctx, sealed); err != nil {
			t.Fatalf("suite %d: the genuine item: %v", suite, err)
		}
		readers := map[string]func(av map[string]types.AttributeValue) error{
			"UnmarshalItem": func(av map[string]types.AttributeValue) error { _, err := store.UnmarshalItem(ctx, av); return err },
			"UnmarshalItem/SkipDecryption": func(av map[string]types.AttributeValue) error {
				_, err := store.UnmarshalItem(ctx, av, dynacrypt.SkipDecryption())
				return err
			},
			"Open": func(av map[string]types.AttributeValue) error { _, err := items.Open(ctx, av); return err },
			"Open/SkipDecryption": func(av map[string]types.AttributeValue) error {
				_, err := items.Open(ctx, av, dynacrypt.SkipDecryption())
				return err
			},
		}
		for _, reader := range slices.Sorted(maps.Keys(readers)) {
			for _, where := range slices.Sorted(maps.Keys(edits)) {
				t.Run(fmt.Sprintf("suite%d/%s/%s", suite, reader, where), func(t *testing.T) {
					for _, bad := range bads {
						av := maps.Clone(sealed)
						edits[where](av, bad)
						if err := noPanic(func() error { return readers[reader](av) }); !errors.Is(err, dynacrypt.ErrIntegrity) {
							t.Errorf("%T: %v, want ErrIntegrity", bad, err)
						}
					}
				})
			}
		}
		t.Run(fmt.Sprintf("suite%d/Seal", suite), func(t *testing.T) {
			plain := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "p1"}, "org": &types.AttributeValueMemberS{Value: "acme"}}
			for _, where := range []string{"partition key", "tenant", "encrypted", "plaintext", "in a list", "in a map"} {
				for _, bad := range bads {
					av := maps.Clone(plain)
					edits[where](av, bad)
					if err := noPanic(func() error { _, err := items.Seal(ctx, av); return err }); err == nil || errors.Is(err, errPanicked) {
						t.Errorf("%s %T: %v, want an error", where, bad, err)
					}
				}
			}
		})
	}
}

var errPanicked = errors.New("panicked")

// noPanic runs f and turns a panic into errPanicked.
func noPanic(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	return f()
}

func nest(v types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "a"}, v}}
}

func nestMap(v types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": v}}
}

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
// plaintext attribute gives ErrIntegrity, not a panic, as
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
