package keystore_test

import (
	"context"
	"errors"
	"regexp"
	"sync/atomic"
	"testing"

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

// TestRefusedTenantFetchesNothing (issue 18, one place for the tenant
// mapping): a tenant the Cipher's mapping refuses costs no key store and
// no KMS request on Put, Lookup, LookupPage and Get, whether the Store's
// beacon keys come from the Cipher (configured once:
// WithTenantBeaconKeys(cipher.TenantBeaconKey)) or from a source of the
// service's own, which the Store does not call for a refused tenant. The
// tenant's items exist (its branch key too): nothing but the mapping
// stands in the way. The tenants the mapping accepts read and write, under
// their prefixed branch keys.
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
