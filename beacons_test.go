package dynacrypt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Member has an e-mail with beacons of three lengths, and a plaintext copy
// of it for the baseline: what a plaintext index costs.
type Member struct {
	ID      string `dynamodbav:"id"`
	Email8  string `dynamodbav:"email8" encrypt:"kms,beacon=8,lower,trim"`
	Email12 string `dynamodbav:"email12" encrypt:"kms,beacon=12,lower,trim"`
	Email16 string `dynamodbav:"email16" encrypt:"kms,beacon=16,lower,trim"`
	Plain   string `dynamodbav:"plain"`
}

var beaconKey = []byte("0123456789abcdef0123456789abcdef")

// queryCounter counts Query requests and the items they return.
type queryCounter struct {
	*dynamodb.Client
	queries, items atomic.Int64
}

func (q *queryCounter) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := q.Client.Query(ctx, in, opts...)
	q.queries.Add(1)
	if err == nil {
		q.items.Add(int64(len(out.Items)))
	}
	return out, err
}

func randomEmail() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@example.com"
}

// TestBeaconLookup: members with random e-mails, found by e-mail through
// indexes on beacons of 8, 12 and 16 bits: every lookup returns exactly the
// right member, in mixed case too; the false positives the index returns
// follow the theory, (n-1)/2^N per lookup; requests per lookup compare with
// a plaintext index.
func TestBeaconLookup(t *testing.T) {
	n, lookups := 10_000, 200
	if testing.Short() {
		n, lookups = 2_000, 100
	}
	ctx := context.Background()
	db := &queryCounter{Client: testrig.DynamoDB(t)}
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypttest.NewCipherWithKey("members")), dynacrypt.WithBeaconKey(beaconKey),
		dynacrypt.WithIndex("by-email8", dynacrypt.BeaconAttribute("email8"), ""),
		dynacrypt.WithIndex("by-email12", dynacrypt.BeaconAttribute("email12"), ""),
		dynacrypt.WithIndex("by-email16", dynacrypt.BeaconAttribute("email16"), ""),
		dynacrypt.WithIndex("by-plain", "plain", "")}
	members := dynacrypttest.NewStore[Member](t, db.Client, opts...)
	all := make([]*Member, n)
	for i := range all {
		e := randomEmail()
		all[i] = &Member{ID: fmt.Sprintf("m%05d", i), Email8: e, Email12: e, Email16: e, Plain: e}
	}
	if err := members.BatchPut(ctx, all); err != nil {
		t.Fatal(err)
	}
	// The same Store over the counting client.
	counted := mustNew[Member](t, db, members.Table(), opts...)

	baseline := 0.0
	for _, c := range []struct {
		index string
		bits  int
		probe func(email string) Member
	}{
		{"by-plain", 0, func(e string) Member { return Member{Plain: e} }},
		{"by-email16", 16, func(e string) Member { return Member{Email16: strings.ToUpper(e)} }},
		{"by-email12", 12, func(e string) Member { return Member{Email12: " " + e} }},
		{"by-email8", 8, func(e string) Member { return Member{Email8: e} }},
	} {
		db.queries.Store(0)
		db.items.Store(0)
		for i := 0; i < lookups; i++ {
			want := all[i*n/lookups]
			var got []*Member
			var seq func(func(*Member, error) bool)
			if c.bits == 0 {
				seq = counted.Query(ctx, c.probe(want.Plain), dynacrypt.UsingIndex(c.index))
			} else {
				seq = counted.Lookup(ctx, c.probe(want.Email8), c.index)
			}
			for m, err := range seq {
				if err != nil {
					t.Fatalf("%s: %v", c.index, err)
				}
				got = append(got, m)
			}
			if len(got) != 1 || got[0].ID != want.ID {
				t.Fatalf("%s lookup of %s: %d members (%v)", c.index, want.Email8, len(got), got)
			}
		}
		perLookup := float64(db.queries.Load()) / float64(lookups)
		if c.bits == 0 {
			baseline = perLookup
			t.Logf("beacon-lookup: plaintext index: %.2f requests per lookup", perLookup)
			continue
		}
		fp := float64(db.items.Load()-int64(lookups)) / float64(lookups)
		theory := float64(n-1) / math.Pow(2, float64(c.bits))
		t.Logf("beacon-lookup: N=%d: %.2f false positives per lookup (theory %.2f), %.2f requests per lookup (%.2fx the plaintext index)",
			c.bits, fp, theory, perLookup, perLookup/baseline)
		if fp > 2*theory+1 || (theory > 5 && fp < theory/2) {
			t.Errorf("N=%d: %.2f false positives per lookup, far from the theory's %.2f", c.bits, fp, theory)
		}
		if c.bits >= 12 && perLookup > 1.2*baseline {
			t.Errorf("N=%d: %.2f requests per lookup, more than 1.2x the plaintext index's %.2f", c.bits, perLookup, baseline)
		}
	}
}

// Customer is found by tenant and e-mail together, through a compound
// beacon, and listed by a compound sort key whose leading part is plain.
type Customer struct {
	Tenant string `dynamodbav:"tenant"`
	ID     string `dynamodbav:"id"`
	Region string `dynamodbav:"region"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=16,lower"`
	Name   string `dynamodbav:"name" encrypt:"kms"`
}

func customerStore(t *testing.T, more ...dynacrypt.Option) (*dynacrypt.Store[Customer], *dynamodb.Client) {
	db := testrig.DynamoDB(t)
	return dynacrypttest.NewStore[Customer](t, db, append(customerOptions(), more...)...), db
}

// customerOptions are the options of customerStore: beacon key beaconKey
// (a later WithBeaconKey replaces it).
func customerOptions() []dynacrypt.Option {
	return []dynacrypt.Option{dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithCipher(dynacrypttest.NewCipherWithKey("customers")), dynacrypt.WithBeaconKey(beaconKey),
		dynacrypt.WithCompoundBeacon("tenant_email", ".", dynacrypt.BeaconPart{Prefix: "T-", Attr: "tenant"}, dynacrypt.BeaconPart{Prefix: "E-", Attr: "email"}),
		dynacrypt.WithCompoundBeacon("region_email", ".", dynacrypt.BeaconPart{Prefix: "R-", Attr: "region"}, dynacrypt.BeaconPart{Prefix: "E-", Attr: "email"}),
		dynacrypt.WithIndex("by-tenant-email", "tenant_email", ""),
		dynacrypt.WithIndex("by-email-region", dynacrypt.BeaconAttribute("email"), "region_email")}
}

// TestCompoundLongSeparator: with a separator of two characters, the parts
// ("x:", "b") and ("x", ":b") join into the same compound beacon "x:::b"; a
// Lookup of one must not return the other.
func TestCompoundLongSeparator(t *testing.T) {
	ctx := context.Background()
	customers, _ := customerStore(t,
		dynacrypt.WithCompoundBeacon("tenant_region", "::", dynacrypt.BeaconPart{Attr: "tenant"}, dynacrypt.BeaconPart{Attr: "region"}),
		dynacrypt.WithIndex("by-tenant-region", "tenant_region", ""))
	for _, c := range []*Customer{
		{Tenant: "x:", ID: "1", Region: "b", Email: "ana@example.com", Name: "Ana"},
		{Tenant: "x", ID: "1", Region: ":b", Email: "bob@example.com", Name: "Bob"},
	} {
		if err := customers.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, probe := range []Customer{{Tenant: "x:", Region: "b"}, {Tenant: "x", Region: ":b"}} {
		var got []string
		for c, err := range customers.Lookup(ctx, probe, "by-tenant-region") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c.Tenant+"|"+c.Region)
		}
		if want := probe.Tenant + "|" + probe.Region; len(got) != 1 || got[0] != want {
			t.Errorf("lookup of tenant %q, region %q: %v, want only %s", probe.Tenant, probe.Region, got, want)
		}
	}
}

// TestCompoundBeacons: a lookup by tenant and e-mail finds exactly the
// customer of that tenant; a compound sort key with a plaintext leading part
// serves begins_with; edits and forged beacons fail verification; nothing of
// the e-mail shows in the table.
func TestCompoundBeacons(t *testing.T) {
	ctx := context.Background()
	customers, db := customerStore(t)
	for _, c := range []*Customer{
		{Tenant: "acme", ID: "1", Region: "eu", Email: "ana@example.com", Name: "Ana"},
		{Tenant: "acme", ID: "2", Region: "us", Email: "bob@example.com", Name: "Bob"},
		{Tenant: "initech", ID: "1", Region: "eu", Email: "ana@example.com", Name: "Ana at Initech"},
		{Tenant: "initech", ID: "2", Region: "us", Email: "ana@example.com", Name: "Ana in the US"},
	} {
		if err := customers.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(probe Customer, index string, opts ...dynacrypt.QueryOption) []string {
		var names []string
		for c, err := range customers.Lookup(ctx, probe, index, opts...) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, c.Name)
		}
		return names
	}
	if got := lookup(Customer{Tenant: "initech", Email: "ANA@example.com"}, "by-tenant-email"); strings.Join(slices.Sorted(slices.Values(got)), ",") != "Ana at Initech,Ana in the US" {
		t.Errorf("tenant initech, e-mail ana: %v, want the 2 initech Anas", got)
	}
	if got := lookup(Customer{Email: "ana@example.com"}, "by-email-region", dynacrypt.SortKeyBeginsWith("R-eu.")); len(got) != 2 {
		t.Errorf("e-mail ana in region eu: %v, want 2", got)
	}
	if got := lookup(Customer{Email: "ana@example.com"}, "by-email-region", dynacrypt.SortKeyBeginsWith("R-us.")); len(got) != 1 || got[0] != "Ana in the US" {
		t.Errorf("e-mail ana in region us: %v", got)
	}

	raw := rawGetKey(t, db, customers.Table(), map[string]types.AttributeValue{
		"tenant": &types.AttributeValueMemberS{Value: "acme"}, "id": &types.AttributeValueMemberS{Value: "1"}})
	for name, v := range raw {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(strings.ToLower(s.Value), "ana") {
			t.Errorf("attribute %q shows the plaintext: %q", name, s.Value)
		}
	}
	beaconAttr := dynacrypt.BeaconAttribute("email")
	if _, ok := raw[beaconAttr]; !ok {
		t.Fatalf("no %s in %v", beaconAttr, raw)
	}
	raw[beaconAttr] = &types.AttributeValueMemberS{Value: "0000"}
	rawPut(t, db, customers.Table(), raw)
	if _, err := customers.Get(ctx, Customer{Tenant: "acme", ID: "1"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("an edited beacon: %v, want ErrIntegrity", err)
	}

	// A type may not hold a beacon's attribute, nor an unsigned part.
	type Forger struct {
		Tenant string `dynamodbav:"tenant"`
		ID     string `dynamodbav:"id"`
		Email  string `dynamodbav:"email" encrypt:"kms,beacon=16"`
		Beacon string `dynamodbav:"_dynacrypt_b_email"`
	}
	if err := newErr[Forger](dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithBeaconKey(beaconKey)); err == nil {
		t.Error("a type with a field named like its beacon was accepted")
	}
	for name, opts := range map[string][]dynacrypt.Option{
		"no beacon key":             {dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithCipher(newAES(t))},
		"unsigned part":             {dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithBeaconKey(beaconKey), dynacrypt.WithUnsignedAttributes("region"), dynacrypt.WithCompoundBeacon("c", ".", dynacrypt.BeaconPart{Attr: "region"})},
		"encrypted part":            {dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithBeaconKey(beaconKey), dynacrypt.WithCompoundBeacon("c", ".", dynacrypt.BeaconPart{Attr: "name"})},
		"prefix with the separator": {dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithBeaconKey(beaconKey), dynacrypt.WithCompoundBeacon("c", ".", dynacrypt.BeaconPart{Prefix: "a.", Attr: "region"})},
	} {
		if err := newErr[Customer](opts...); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	for _, err := range customers.Query(ctx, Customer{Email: "x"}, dynacrypt.UsingIndex("by-email-region")) {
		if err == nil || !strings.Contains(err.Error(), "Lookup") {
			t.Errorf("Query on a beacon index: %v, want a pointer to Lookup", err)
		}
	}
	if err := customers.Put(ctx, &Customer{Tenant: "acme", ID: "3", Region: "e.u", Email: "x@y"}); err == nil || !strings.Contains(err.Error(), "separator") {
		t.Errorf("a part with the separator: %v", err)
	}
}

// TestBeaconsAddedByTheWalk: items written before a beacon was declared get
// it from Store.Reencrypt, and lookups then find them.
func TestBeaconsAddedByTheWalk(t *testing.T) {
	type Before struct {
		Tenant string `dynamodbav:"tenant"`
		ID     string `dynamodbav:"id"`
		Region string `dynamodbav:"region"`
		Email  string `dynamodbav:"email" encrypt:"kms"`
		Name   string `dynamodbav:"name" encrypt:"kms"`
	}
	ctx := context.Background()
	customers, db := customerStore(t)
	before := mustNew[Before](t, db, customers.Table(), dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithCipher(dynacrypttest.NewCipherWithKey("customers")))
	for i := 0; i < 20; i++ {
		if err := before.Put(ctx, &Before{Tenant: "acme", ID: fmt.Sprint(i), Region: "eu", Email: fmt.Sprintf("c%d@example.com", i), Name: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	find := func() int {
		n := 0
		for _, err := range customers.Lookup(ctx, Customer{Tenant: "acme", Email: "c7@example.com"}, "by-tenant-email") {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if n := find(); n != 0 {
		t.Fatalf("found %d before the walk", n)
	}
	progress, err := customers.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 2})
	if err != nil || progress.Rewritten != 20 {
		t.Fatalf("walk: %+v, %v", progress, err)
	}
	if n := find(); n != 1 {
		t.Errorf("found %d after the walk, want 1", n)
	}
	if again, err := customers.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err != nil || again.Rewritten != 0 {
		t.Errorf("second walk: %+v, %v; want nothing to rewrite", again, err)
	}

	// A changed beacon key: the beacons there no longer match until a walk
	// with All writes every item again.
	otherKey := bytes.Repeat([]byte{7}, 32)
	rekeyed := mustNew[Customer](t, db, customers.Table(), append(customerOptions(), dynacrypt.WithBeaconKey(otherKey))...)
	customers = rekeyed
	if n := find(); n != 0 {
		t.Fatalf("found %d under another beacon key before the walk", n)
	}
	if p, err := rekeyed.Reencrypt(ctx, dynacrypt.ReencryptOptions{All: true}); err != nil || p.Rewritten != 20 {
		t.Fatalf("walk with All after the beacon key changed: %+v, %v", p, err)
	}
	if n := find(); n != 1 {
		t.Errorf("found %d under the new beacon key after the walk with All, want 1", n)
	}
}

// rawGetKey reads an item by its whole key.
func rawGetKey(t *testing.T, db *dynamodb.Client, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: boolPtr(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("raw get %v: %v", key, err)
	}
	return out.Item
}

func boolPtr(b bool) *bool { return &b }
