package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// Account is the item of a table shared by tenants: the tenant is the
// partition key. Email has a long beacon (values of two tenants should not
// collide), Plan a 1-bit one (they mostly do).
type Account struct {
	Tenant string `dynamodbav:"tenant"`
	ID     string `dynamodbav:"id"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=16,lower"`
	Plan   string `dynamodbav:"plan" encrypt:"kms,beacon=1"`
	Token  string `dynamodbav:"token" encrypt:"kms"`
}

func (r *rig) accountsTable() string {
	r.t.Helper()
	return dynacrypttest.NewTable(r.t, r.raw, dynacrypttest.Table{
		PartitionKey: dynacrypttest.S("tenant"),
		SortKey:      dynacrypttest.S("id"),
		Indexes: []dynacrypttest.Index{
			{Name: "by-email", PartitionKey: dynacrypttest.S(dynacrypt.BeaconAttribute("email"))},
			{Name: "by-plan", PartitionKey: dynacrypttest.S(dynacrypt.BeaconAttribute("plan"))},
		},
	})
}

// accounts opens a tenant Store of table over c, whose tenants' beacon
// keys come from the key store through beaconKeys (nil: r.ks's, any tenant).
func (r *rig) accounts(table string, c dynacrypt.Cipher, beaconKeys dynacrypt.BeaconKeySource, opts ...dynacrypt.Option) *dynacrypt.Store[Account] {
	r.t.Helper()
	if beaconKeys == nil {
		beaconKeys = r.beaconKeys(nil)
	}
	opts = append([]dynacrypt.Option{
		dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"), dynacrypt.WithCipher(c),
		dynacrypt.WithTenantAttribute("tenant"), dynacrypt.WithTenantBeaconKeys(beaconKeys),
		dynacrypt.WithIndex("by-email", dynacrypt.BeaconAttribute("email"), ""),
		dynacrypt.WithIndex("by-plan", dynacrypt.BeaconAttribute("plan"), ""),
	}, opts...)
	s, err := dynacrypt.New[Account](r.raw, table, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// beaconKeys returns the beacon keys of the key store's branch keys, for
// the tenants allowed (nil: any) and an error for the others.
func (r *rig) beaconKeys(allowed []string) dynacrypt.BeaconKeySource {
	return func(ctx context.Context, tenant string) ([]byte, error) {
		if allowed != nil && !slices.Contains(allowed, tenant) {
			return nil, errNotOurs
		}
		k, err := r.ks.BeaconKey(ctx, tenant)
		if err != nil {
			return nil, err
		}
		return k.Key(), nil
	}
}

var errNotOurs = errors.New("not a tenant of this service")

// onlyTenants maps the tenants allowed to their branch keys, and refuses
// the others: a service that serves some tenants only.
func onlyTenants(allowed ...string) keystore.CipherOption {
	return keystore.WithBranchKeyIDSupplier(func(_ context.Context, tenant string) (string, error) {
		if !slices.Contains(allowed, tenant) {
			return "", errNotOurs
		}
		return tenant, nil
	})
}

func accountKey(tenant, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"tenant": s(tenant), "id": s(id)}
}

// rawAccount reads an item as stored.
func (r *rig) rawAccount(table, tenant, id string) map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &table, Key: accountKey(tenant, id), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		r.t.Fatalf("item %s/%s: %v", tenant, id, err)
	}
	return out.Item
}

// putAccounts writes n accounts of each tenant: ids 0..n-1, the same e-mails
// and plans under every tenant.
func putAccounts(t *testing.T, s *dynacrypt.Store[Account], n int, tenants ...string) {
	t.Helper()
	for _, tenant := range tenants {
		for i := range n {
			a := &Account{Tenant: tenant, ID: fmt.Sprint(i), Email: fmt.Sprintf("user%d@example.com", i),
				Plan: []string{"free", "pro"}[i%2], Token: fmt.Sprintf("%s secret %d", tenant, i)}
			if err := s.Put(context.Background(), a); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// lookupIDs returns "tenant/id" of the accounts a Lookup of probe through
// index yields, sorted; an error fails the test.
func lookupIDs(t *testing.T, s *dynacrypt.Store[Account], probe Account, index string, opts ...dynacrypt.QueryOption) []string {
	t.Helper()
	var ids []string
	for a, err := range s.Lookup(context.Background(), probe, index, opts...) {
		if err != nil {
			t.Fatalf("the lookup of %+v: %v", probe, err)
		}
		ids = append(ids, a.Tenant+"/"+a.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestTenantIsolation (issue 10, tenants; issue 11, tenants): each tenant's
// items are wrapped under its own branch key and have beacons of their
// own; a reader serving one tenant never fetches another's keys; an item
// copied under another tenant, or read through a mapping that names
// another branch key, fails with ErrIntegrity without a request.
func TestTenantIsolation(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	writer := r.accounts(table, r.cipher(""), nil)
	const n = 8
	putAccounts(t, writer, n, "acme", "globex")

	sameBeacon := 0
	for i := range n {
		id := fmt.Sprint(i)
		for _, tenant := range []string{"acme", "globex"} {
			raw := r.rawAccount(table, tenant, id)
			h, err := header.Parse(raw[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
			if err != nil {
				t.Fatal(err)
			}
			if branch, _, _ := keystore.WrappedBy(h.Wrapped); branch != tenant {
				t.Errorf("an item of %s has its root key wrapped under branch key %q", tenant, branch)
			}
		}
		beacon := func(tenant string) string {
			return r.rawAccount(table, tenant, id)[dynacrypt.BeaconAttribute("email")].(*types.AttributeValueMemberS).Value
		}
		if beacon("acme") == beacon("globex") {
			sameBeacon++
		}
	}
	// 16-bit beacons under unrelated keys: 8 pairs collide about 8/65536
	// of the time, two of them about never.
	if sameBeacon > 1 {
		t.Errorf("%d of %d e-mails have the same beacon under both tenants", sameBeacon, n)
	}

	// A service that serves acme only: a cold reader.
	acmeOnly := r.accounts(table, r.cipher("", onlyTenants("acme")), r.beaconKeys([]string{"acme"}))
	g0, k0 := r.counts()
	if a, err := acmeOnly.Get(ctx, Account{Tenant: "acme", ID: "1"}); err != nil || a.Token != "acme secret 1" {
		t.Fatalf("acme's reader, acme's item: %v", err)
	}
	if gets, kmsN := r.since(g0, k0); gets != 1 || kmsN != 1 {
		t.Errorf("a cold read made %d GetItem and %d KMS requests, want 1 and 1", gets, kmsN)
	}
	g0, k0 = r.counts()
	if _, err := acmeOnly.Get(ctx, Account{Tenant: "globex", ID: "1"}); !errors.Is(err, errNotOurs) {
		t.Errorf("acme's reader, globex's item: %v, want the supplier's refusal", err)
	}
	// Lookups: the probe names the tenant; the other tenant's items that
	// share the 1-bit beacon are dropped unread.
	plans := lookupIDs(t, acmeOnly, Account{Tenant: "acme", Plan: "pro"}, "by-plan")
	if want := []string{"acme/1", "acme/3", "acme/5", "acme/7"}; !slices.Equal(plans, want) {
		t.Errorf("acme's pro accounts: %v, want %v", plans, want)
	}
	if gets, kmsN := r.since(g0, k0); gets != 1 || kmsN != 1 {
		// The beacon key of acme: one GetItem, one KMS Decrypt. Nothing of globex.
		t.Errorf("acme's reader made %d key store GetItem and %d KMS requests for globex's item and a lookup, want 1 and 1 (acme's beacon key)", gets, kmsN)
	}
	for _, err := range acmeOnly.Lookup(ctx, Account{Plan: "pro"}, "by-plan") {
		if err == nil || errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("a lookup naming no tenant: %v, want a usage error", err)
		}
	}
	n0 := 0
	for _, err := range acmeOnly.Lookup(ctx, Account{Tenant: "acme", Email: "USER2@example.com"}, "by-email") {
		if err != nil {
			t.Fatal(err)
		}
		n0++
	}
	if n0 != 1 {
		t.Errorf("acme's lookup of user2 (mixed case) found %d, want 1", n0)
	}

	// An acme item copied into globex's partition, its tenant made globex:
	// refused before any key is fetched.
	forged := r.rawAccount(table, "acme", "1")
	forged["tenant"] = s("globex")
	forged["id"] = s("forged")
	if _, err := r.raw.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: forged}); err != nil {
		t.Fatal(err)
	}
	cold := r.accounts(table, r.cipher(""), nil)
	g0, k0 = r.counts()
	if _, err := cold.Get(ctx, Account{Tenant: "globex", ID: "forged"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("an acme item moved to globex: %v, want ErrIntegrity", err)
	}
	if gets, kmsN := r.since(g0, k0); gets != 0 || kmsN != 0 {
		t.Errorf("refusing the moved item made %d GetItem and %d KMS requests, want none", gets, kmsN)
	}
	// A mapping that sends acme to globex's branch key.
	crossed := r.accounts(table, r.cipher("", keystore.WithBranchKeyIDSupplier(func(context.Context, string) (string, error) {
		return "globex", nil
	})), nil)
	g0, k0 = r.counts()
	if _, err := crossed.Get(ctx, Account{Tenant: "acme", ID: "1"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("acme's item through a mapping to globex's key: %v, want ErrIntegrity", err)
	}
	if gets, kmsN := r.since(g0, k0); gets != 0 || kmsN != 0 {
		t.Errorf("refusing it made %d GetItem and %d KMS requests, want none", gets, kmsN)
	}
	// A write without a tenant is refused.
	if err := writer.Put(ctx, &Account{ID: "x", Token: "t"}); err == nil {
		t.Error("an item without a tenant was written")
	}
}

// TestTenantShredding (issue 10, tenants): after a tenant's branch key is
// deleted, every read path fails on its items with ErrKeyGone (not
// ErrIntegrity) and no KMS request, without tripping the unwrap limit for
// the other tenants; a warm reader stops at once after Forget and
// ForgetRootKeys; Reencrypt counts the items as failed.
func TestTenantShredding(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	// A root key per item: the shredded tenant's items have more root
	// keys than the unwrap limit's burst.
	writer := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	const n = 2 * dynacrypt.DefaultUnwrapBurst
	putAccounts(t, writer, n, "acme", "globex")

	warmCipher := r.cipher("")
	warm := r.accounts(table, warmCipher, nil)
	for i := range n {
		if _, err := warm.Get(ctx, Account{Tenant: "globex", ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.ks.Delete(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Get(ctx, Account{Tenant: "globex", ID: "0"}); err != nil {
		t.Errorf("a warm reader within its caches' TTL: %v", err)
	}

	shredded := func(what string, err error) {
		t.Helper()
		var kerr *keystore.Error
		if !errors.Is(err, dynacrypt.ErrKeyGone) || !errors.Is(err, keystore.ErrBranchKeyNotFound) || errors.Is(err, dynacrypt.ErrIntegrity) || !errors.As(err, &kerr) || kerr.ID != "globex" {
			t.Errorf("%s: %v, want ErrKeyGone naming globex, not ErrIntegrity", what, err)
		}
	}
	cold := r.accounts(table, r.cipher(""), nil)
	_, k0 := r.counts()
	for i := range n {
		_, err := cold.Get(ctx, Account{Tenant: "globex", ID: fmt.Sprint(i)})
		shredded("Get", err)
	}
	for _, err := range cold.Query(ctx, Account{Tenant: "globex"}) {
		shredded("Query", err)
		break
	}
	_, err := cold.BatchGet(ctx, []Account{{Tenant: "globex", ID: "0"}, {Tenant: "globex", ID: "1"}})
	shredded("BatchGet", err)
	if _, kmsN := r.since(0, k0); kmsN != 0 {
		t.Errorf("reading the shredded tenant made %d KMS requests, want none", kmsN)
	}
	// The other tenant still reads, cold, after all these failures.
	for i := range n {
		if a, err := cold.Get(ctx, Account{Tenant: "acme", ID: fmt.Sprint(i)}); err != nil || a.Token != fmt.Sprintf("acme secret %d", i) {
			t.Fatalf("acme after globex's shredding: %v", err)
		}
	}

	// The warm reader, told to forget.
	warmCipher.Forget("globex")
	warm.ForgetRootKeys("globex")
	_, err = warm.Get(ctx, Account{Tenant: "globex", ID: "0"})
	shredded("a warm reader after Forget", err)
	if _, err := warm.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
		t.Errorf("the warm reader, acme: %v", err)
	}

	p, err := r.accounts(table, r.cipher(""), nil).Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if p.Failed != n || p.Scanned != 2*n {
		t.Errorf("Reencrypt: %+v, want %d scanned and %d failed", p, 2*n, n)
	}
	shredded("Reencrypt", err)
}
