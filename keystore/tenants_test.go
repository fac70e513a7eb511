package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

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

// TestTenantIsolation: each tenant's items are wrapped under its own branch
// key and have beacons of their own; a reader serving one tenant never
// fetches another's keys; an item copied under another tenant, or read
// through a mapping that names another branch key, fails with ErrIntegrity
// without a request.
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

// TestTenantShredding: after a tenant's branch key is deleted, every read
// path fails on its items with ErrKeyGone (not ErrIntegrity) and no KMS
// request, without tripping the unwrap limit for the other tenants; a warm
// reader stops at once after Forget and ForgetRootKeys; Reencrypt counts the
// items as failed.
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

// TestForgedItemsOfOneTenantLeaveOthersColdReads: someone who writes the
// data table copies Burst of acme's items into mallory's partition (the
// tenant attribute made mallory). The key store Cipher refuses each one
// before any request (the wrapped root names acme's branch key, not
// mallory's), and a refusal that made no request is not charged to the
// unwrap limit, which all tenants share: acme's genuine items whose root
// key is not cached still read, and a walk fails only the forgeries.
func TestForgedItemsOfOneTenantLeaveOthersColdReads(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("mallory")
	n := dynacrypt.DefaultUnwrapBurst
	// A root key per item, so that every acme item is a cold read.
	writer := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	putAccounts(t, writer, n+2, "acme")
	putAccounts(t, writer, 1, "mallory")

	for i := range n {
		f := clone(r.rawAccount(table, "acme", fmt.Sprint(i)))
		f["tenant"], f["id"] = s("mallory"), s(fmt.Sprint("forged-", i))
		r.putRaw(table, f)
	}

	svc := r.accounts(table, r.cipher(""), nil)
	g0, k0 := r.counts()
	for i := range n {
		if _, err := svc.Get(ctx, Account{Tenant: "mallory", ID: fmt.Sprint("forged-", i)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("forged item %d: %v, want ErrIntegrity", i, err)
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("refusing %d forged mallory items cost %d key store GetItem and %d KMS requests", n, gets, kmsN)

	for _, id := range []string{fmt.Sprint(n), fmt.Sprint(n + 1)} {
		a, err := svc.Get(ctx, Account{Tenant: "acme", ID: id})
		if err != nil {
			t.Errorf("acme's genuine item %s after mallory's forgeries: %v (ErrUnwrapLimited: %v); want it read",
				id, err, errors.Is(err, dynacrypt.ErrUnwrapLimited))
		} else if a.Token != "acme secret "+id {
			t.Errorf("acme's item %s: wrong token", id)
		}
	}
	// The same through a Reencrypt walk: it reads the forgeries (Failed)
	// and then cannot unwrap the genuine items either.
	p, err := r.accounts(table, r.cipher(""), nil).Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("Reencrypt: %+v, %v", p, err)
	if p.Failed > int64(n) {
		t.Errorf("Reencrypt failed on %d items, %d of them genuine, after %d forgeries; want only the forgeries failed", p.Failed, p.Failed-int64(n), n)
	}
}

// TestLookupCursorOfOneTenantRefusedForAnother: an API client sends a
// cursor of acme's LookupPage with a probe of globex's (a 1-bit beacon, so
// both tenants' probes query the same index partitions), to page through
// another tenant's items. The cursor is bound to its tenant: it is
// ErrInvalidCursor with globex's probes, and works with acme's.
func TestLookupCursorOfOneTenantRefusedForAnother(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	r.create("cursors")
	writer := r.accounts(table, r.cipher("cursors"), nil)
	putAccounts(t, writer, 6, "acme", "globex")
	svc := r.accounts(table, r.cipher("cursors"), nil)
	p, err := svc.LookupPage(ctx, Account{Tenant: "acme", Plan: "pro"}, "by-plan", "", 1)
	if err != nil || p.Next == "" {
		t.Fatalf("acme's first page: %v, next %q", err, p.Next)
	}
	for _, plan := range []string{"pro", "free"} {
		_, err := svc.LookupPage(ctx, Account{Tenant: "globex", Plan: plan}, "by-plan", p.Next, 1)
		if !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Errorf("acme's cursor with globex's %s probe: %v, want ErrInvalidCursor", plan, err)
		}
	}
	if _, err := svc.LookupPage(ctx, Account{Tenant: "acme", Plan: "pro"}, "by-plan", p.Next, 1); err != nil {
		t.Errorf("acme's cursor with acme's probe: %v", err)
	}
}

// TestSharedBeaconKeyStillSplitsTenants: two tenants whose beacon key
// source returns the same key (a supplier mapping both to one branch key)
// still get unrelated beacons for the same value, so one tenant's beacons
// tell nothing of another's; and t1's item relabelled t2 does not read
// under the shared branch key (ErrIntegrity).
func TestSharedBeaconKeyStillSplitsTenants(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("shared")
	sharedBeacon := func(ctx context.Context, _ string) ([]byte, error) {
		k, err := r.ks.BeaconKey(ctx, "shared")
		if err != nil {
			return nil, err
		}
		return k.Key(), nil
	}
	c := r.cipher("", keystore.WithBranchKeyIDSupplier(func(context.Context, string) (string, error) { return "shared", nil }))
	writer := r.accounts(table, c, sharedBeacon)
	const n = 16
	putAccounts(t, writer, n, "t1", "t2")
	same := 0
	for i := range n {
		b := func(tenant string) string {
			return r.rawAccount(table, tenant, fmt.Sprint(i))[dynacrypt.BeaconAttribute("email")].(*types.AttributeValueMemberS).Value
		}
		if b("t1") == b("t2") {
			same++
		}
	}
	if same > 1 {
		t.Errorf("%d of %d e-mails have the same beacon under t1 and t2, which share a beacon key", same, n)
	}
	// And t1's item, relabelled t2, does not read under the shared branch key.
	f := clone(r.rawAccount(table, "t1", "0"))
	f["tenant"] = s("t2")
	f["id"] = s("from-t1")
	r.putRaw(table, f)
	if _, err := r.accounts(table, c, sharedBeacon).Get(ctx, Account{Tenant: "t2", ID: "from-t1"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("t1's item relabelled t2, one branch key for both: %v, want ErrIntegrity", err)
	}
}

// TestBeaconKeyFetchSurvivesCallerHangingUp: concurrent lookups of a tenant
// whose beacon keys are not cached share one fetch. An API client sends a
// lookup and hangs up (its request context cancelled) while another
// client's lookup has joined the fetch. The shared fetch is detached from
// the first caller's cancellation, as the keyring's and the Cipher's shared
// calls are, so the other client's lookup succeeds.
func TestBeaconKeyFetchSurvivesCallerHangingUp(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	writer := r.accounts(table, r.cipher(""), nil)
	putAccounts(t, writer, 2, "acme")

	started := make(chan struct{}, 8)
	release := make(chan struct{})
	var calls atomic.Int64
	real := r.beaconKeys(nil)
	slow := func(ctx context.Context, tenant string) ([]byte, error) {
		calls.Add(1)
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return real(ctx, tenant)
	}
	svc := r.accounts(table, r.cipher(""), slow)

	lookup := func(ctx context.Context) error {
		for _, err := range svc.Lookup(ctx, Account{Tenant: "acme", Email: "user1@example.com"}, "by-email") {
			if err != nil {
				return err
			}
		}
		return nil
	}
	hangUp, cancel := context.WithCancel(ctx)
	first := make(chan error, 1)
	go func() { first <- lookup(hangUp) }()
	<-started
	second := make(chan error, 1)
	go func() { second <- lookup(ctx) }()
	time.Sleep(200 * time.Millisecond) // let the second lookup join the fetch
	cancel()
	t.Logf("the client that hung up: %v", <-first)
	close(release)
	err := <-second
	t.Logf("the other client: %v (beacon key source called %d times)", err, calls.Load())
	if err != nil {
		t.Errorf("a client's lookup failed because another client hung up: %v", err)
	}
}
