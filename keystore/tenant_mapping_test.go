package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

var errRefused = errors.New("not a tenant id this service accepts")

// clinicTenants is a service's mapping of tenants to branch keys: tenant
// t is under "clinic-t", and a tenant id other than lowercase letters,
// digits and dashes is refused.
func clinicTenants() keystore.CipherOption {
	valid := regexp.MustCompile(`^[a-z0-9-]+$`)
	prefixed := keystore.PrefixSupplier("clinic-")
	return keystore.WithBranchKeyIDSupplier(func(ctx context.Context, tenant string) (string, error) {
		if !valid.MatchString(tenant) {
			return "", errRefused
		}
		return prefixed(ctx, tenant)
	})
}

// TestRefusedTenantFetchesNothing: a tenant the Cipher's mapping (the one
// place that maps tenants to branch keys) refuses costs no key store and no
// KMS request on Put, Lookup, LookupPage and Get, whether the Store's beacon
// keys come from the Cipher (configured once:
// WithTenantBeaconKeys(cipher.TenantBeaconKey)) or from a source of the
// service's own, which the Store does not call for a refused tenant. The
// tenant's items exist (its branch key too): nothing but the mapping stands
// in the way. The tenants the mapping accepts read and write, under their
// prefixed branch keys.
func TestRefusedTenantFetchesNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("clinic-acme")
	r.create("clinic-BAD!")
	anyTenant := r.cipher("", keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
	putAccounts(t, r.accounts(table, anyTenant, anyTenant.TenantBeaconKey), 4, "acme", "BAD!")

	var sourceCalls atomic.Int64
	ownSource := func(ctx context.Context, tenant string) ([]byte, error) { // as README advised before
		sourceCalls.Add(1)
		k, err := r.ks.BeaconKey(ctx, "clinic-"+tenant)
		if err != nil {
			return nil, err
		}
		return k.Key(), nil
	}
	for _, c := range []struct {
		name   string
		source func(*keystore.Cipher) dynacrypt.BeaconKeySource
	}{
		{"beacon keys from the Cipher", func(c *keystore.Cipher) dynacrypt.BeaconKeySource { return c.TenantBeaconKey }},
		{"beacon keys from a source of the service's own", func(*keystore.Cipher) dynacrypt.BeaconKeySource { return ownSource }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cipher := r.cipher("service", clinicTenants())
			svc := r.accounts(table, cipher, c.source(cipher))
			g0, k0 := r.counts()
			sourceCalls.Store(0)
			refused := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errRefused) {
					t.Errorf("%s of tenant BAD!: %v, want the mapping's refusal", what, err)
				}
			}
			refused("Put", svc.Put(ctx, &Account{Tenant: "BAD!", ID: "new", Email: "x@example.com", Token: "t"}))
			for _, err := range svc.Lookup(ctx, Account{Tenant: "BAD!", Email: "user1@example.com"}, "by-email") {
				refused("Lookup", err)
			}
			_, err := svc.LookupPage(ctx, Account{Tenant: "BAD!", Email: "user1@example.com"}, "by-email", "", 10)
			refused("LookupPage", err)
			_, err = svc.Get(ctx, Account{Tenant: "BAD!", ID: "1"})
			refused("Get", err)
			if gets, kmsN := r.since(g0, k0); gets != 0 || kmsN != 0 || sourceCalls.Load() != 0 {
				t.Errorf("tenant BAD!, refused: %d key store GetItem, %d KMS requests and %d calls of the beacon key source, want none", gets, kmsN, sourceCalls.Load())
			}

			// acme, which the mapping accepts, under clinic-acme.
			if err := svc.Put(ctx, &Account{Tenant: "acme", ID: "new", Email: "new@example.com", Token: "t"}); err != nil {
				t.Fatal(err)
			}
			found := 0
			for a, err := range svc.Lookup(ctx, Account{Tenant: "acme", Email: "USER1@example.com"}, "by-email") {
				if err != nil || a.Token != "acme secret 1" {
					t.Fatalf("acme's lookup: %+v, %v", a, err)
				}
				found++
			}
			if found != 1 {
				t.Errorf("acme's lookup found %d, want 1", found)
			}
		})
	}
}

// TestTenantWithoutBranchKey: a tenant with no branch key (an unknown
// tenant) holds no items. For one never created, every read finds nothing
// (Get ErrNotFound, Query and its pages empty, a filtered ScanPage empty,
// Lookup and LookupPage empty, Update ErrNotFound, Delete nothing to do, a
// walk of the tenant nothing to walk), not ErrKeyGone; every write fails
// with ErrKeyGone, never ErrIntegrity; a LookupPage cursor cannot be checked
// without the tenant's beacon key, so it is ErrInvalidCursor. None of it
// costs a KMS request. For a tenant whose branch key was deleted (shredded),
// its items remain: reading them gives ErrKeyGone; Lookup finds nothing, its
// beacon key gone with the branch key; writes fail with ErrKeyGone.
func TestTenantWithoutBranchKey(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("clinic-acme")
	r.create("clinic-gone")
	const n = 4
	store := func() *dynacrypt.Store[Account] { // a cold process
		c := r.cipher("service", keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
		return r.accounts(table, c, c.TenantBeaconKey)
	}
	putAccounts(t, store(), n, "acme", "gone")
	r.create("service") // the cursors' branch key
	acmePage, err := store().LookupPage(ctx, Account{Tenant: "acme", Plan: "pro"}, "by-plan", "", 1)
	if err != nil || acmePage.Next == "" {
		t.Fatalf("acme's lookup by plan, first page: %v (or no cursor)", err)
	}
	if err := r.ks.Delete(ctx, "clinic-gone"); err != nil {
		t.Fatal(err)
	}
	keyGone := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, dynacrypt.ErrKeyGone) || errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s: %v, want ErrKeyGone, not ErrIntegrity", what, err)
		}
	}
	count := func(t *testing.T, what string, seq func(func(*Account, error) bool)) int {
		t.Helper()
		found := 0
		for _, err := range seq {
			if err != nil {
				t.Errorf("%s: %v, want no error", what, err)
				break
			}
			found++
		}
		return found
	}
	_, k0 := r.counts()

	t.Run("never created", func(t *testing.T) {
		s := store()
		ghost := func(id string) Account {
			return Account{Tenant: "ghost", ID: id, Email: "user1@example.com", Plan: "pro", Token: "t"}
		}
		if _, err := s.Get(ctx, ghost("1")); !errors.Is(err, dynacrypt.ErrNotFound) {
			t.Errorf("Get: %v, want ErrNotFound", err)
		}
		if found := count(t, "Query", s.Query(ctx, ghost(""))); found != 0 {
			t.Errorf("Query found %d items", found)
		}
		if p, err := s.QueryPage(ctx, ghost(""), "", 10); err != nil || len(p.Items) != 0 || p.Next != "" {
			t.Errorf("QueryPage: %+v, %v; want an empty last page", p, err)
		}
		onlyGhost := dynacrypt.Filter(expression.Name("tenant").Equal(expression.Value("ghost")))
		if p, err := s.ScanPage(ctx, "", 10, onlyGhost); err != nil || len(p.Items) != 0 || p.Next != "" {
			t.Errorf("ScanPage filtered on the tenant: %+v, %v; want an empty last page", p, err)
		}
		if found := count(t, "Lookup", s.Lookup(ctx, ghost(""), "by-email")); found != 0 {
			t.Errorf("Lookup found %d items", found)
		}
		if p, err := s.LookupPage(ctx, ghost(""), "by-plan", "", 10); err != nil || p == nil || len(p.Items) != 0 || p.Next != "" {
			t.Errorf("LookupPage: %+v, %v; want an empty last page", p, err)
		}
		if _, err := s.LookupPage(ctx, ghost(""), "by-plan", acmePage.Next, 10); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Errorf("LookupPage with another lookup's cursor: %v, want ErrInvalidCursor", err)
		}
		if _, err := s.Update(ctx, ghost("1"), func(*Account) error { return nil }); !errors.Is(err, dynacrypt.ErrNotFound) {
			t.Errorf("Update: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, ghost("1")); err != nil {
			t.Errorf("Delete: %v, want nothing to do", err)
		}
		if p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "ghost"}); err != nil || p.Scanned != 0 {
			t.Errorf("a walk of the tenant: %+v, %v; want nothing to walk", p, err)
		}
		a := ghost("new")
		keyGone("Put", s.Put(ctx, &a))
		keyGone("BatchPut", s.BatchPut(ctx, []*Account{&a}))
		withoutBeacons := r.accounts(table, r.cipher("service", keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-"))),
			func(context.Context, string) ([]byte, error) { return make([]byte, 32), nil })
		keyGone("Put through a Store whose beacon keys are not the key store's", withoutBeacons.Put(ctx, &a))
		if _, err := s.Get(ctx, ghost("new")); !errors.Is(err, dynacrypt.ErrNotFound) {
			t.Errorf("Get after the failed writes: %v, want ErrNotFound", err)
		}
	})

	t.Run("shredded", func(t *testing.T) {
		s := store()
		gone := func(id string) Account {
			return Account{Tenant: "gone", ID: id, Email: "user1@example.com", Plan: "pro"}
		}
		_, err := s.Get(ctx, gone("1"))
		keyGone("Get", err)
		for _, err := range s.Query(ctx, gone("")) {
			keyGone("Query", err)
			break
		}
		_, err = s.QueryPage(ctx, gone(""), "", 10)
		keyGone("QueryPage", err)
		_, err = s.Update(ctx, gone("1"), func(*Account) error { return nil })
		keyGone("Update", err)
		if found := count(t, "Lookup", s.Lookup(ctx, gone(""), "by-email")); found != 0 {
			t.Errorf("Lookup found %d items", found)
		}
		a := gone("new")
		keyGone("Put", s.Put(ctx, &a))
		p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "gone"})
		keyGone("a walk of the tenant", err)
		if p.Scanned != n || p.Failed != n {
			t.Errorf("a walk of the tenant: %+v, want its %d items failed", p, n)
		}
	})
	if _, kmsN := r.since(0, k0); kmsN != 0 {
		t.Errorf("the tenants without a branch key cost %d KMS requests, want none", kmsN)
	}
}

// TestTenantBeaconKeySource: TenantBeaconKey and CheckTenant map the
// tenant as the Cipher wraps under it, and refuse what the mapping refuses
// without asking the source; a source without beacon keys gives an error
// naming the branch key, not a panic.
func TestTenantBeaconKeySource(t *testing.T) {
	ctx := context.Background()
	src := newFakeSource()
	src.rotate(t, "clinic-acme")
	c, err := keystore.NewCipher(src, "", clinicTenants())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckTenant(ctx, "acme"); err != nil {
		t.Errorf("CheckTenant of acme: %v", err)
	}
	var kerr *keystore.Error
	if _, err := c.TenantBeaconKey(ctx, "acme"); err == nil || !errors.As(err, &kerr) || kerr.ID != "clinic-acme" {
		t.Errorf("TenantBeaconKey from a source without beacon keys: %v, want an error naming clinic-acme", err)
	}
	for _, tenant := range []string{"BAD!", ""} {
		if err := c.CheckTenant(ctx, tenant); !errors.Is(err, errRefused) {
			t.Errorf("CheckTenant of %q: %v, want the mapping's refusal", tenant, err)
		}
		if _, err := c.TenantBeaconKey(ctx, tenant); !errors.Is(err, errRefused) {
			t.Errorf("TenantBeaconKey of %q: %v, want the mapping's refusal", tenant, err)
		}
	}
	if n := src.activeFetches.Load() + src.versionFetches.Load(); n != 0 {
		t.Errorf("%d fetches from the source, want none", n)
	}
}

// TestRefusedForeignTenantSpendsNoUnwrapLimit: a service that serves acme
// only (its supplier refuses other tenants) reads Burst items of another
// tenant sharing the table: genuine items, no attacker needed (a GSI query,
// a Scan, or an item an attacker moved there). The supplier's refusal makes
// no request at all, so it is not charged to the unwrap limit: acme's own
// cold reads go on.
func TestRefusedForeignTenantSpendsNoUnwrapLimit(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	n := dynacrypt.DefaultUnwrapBurst
	writer := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	putAccounts(t, writer, n, "acme", "globex")

	acmeOnly := r.accounts(table, r.cipher("", onlyTenants("acme")), r.beaconKeys([]string{"acme"}))
	g0, k0 := r.counts()
	for i := range n {
		if _, err := acmeOnly.Get(ctx, Account{Tenant: "globex", ID: fmt.Sprint(i)}); !errors.Is(err, errNotOurs) {
			t.Fatalf("globex item %d: %v, want the supplier's refusal", i, err)
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d refusals of another tenant's items cost %d GetItem, %d KMS", n, gets, kmsN)
	if _, err := acmeOnly.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
		t.Errorf("acme's own item after %d refusals of globex's: %v (ErrUnwrapLimited: %v); want it read",
			n, err, errors.Is(err, dynacrypt.ErrUnwrapLimited))
	}
}
