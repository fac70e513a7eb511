package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// wantGone fails the test unless err says an item's key was shredded: not
// tampering, and not the unwrap limit.
func wantGone(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, dynacrypt.ErrKeyGone) || !errors.Is(err, keystore.ErrBranchKeyNotFound) ||
		errors.Is(err, dynacrypt.ErrIntegrity) || errors.Is(err, dynacrypt.ErrUnwrapLimited) {
		t.Errorf("%s: %v, want ErrKeyGone (not ErrIntegrity, not ErrUnwrapLimited)", what, err)
	}
}

// TestShreddedKeysNeverBlockOtherTenants: reading the items of more
// shredded branch key versions than the unwrap limit's burst, whether of
// many tenants or of one tenant rotated many times, gives ErrKeyGone for
// each (two key store GetItems per version, no KMS request), and a cold read
// of another tenant in the same process goes on.
func TestShreddedKeysNeverBlockOtherTenants(t *testing.T) {
	const n = 2*dynacrypt.DefaultUnwrapBurst + 2
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		tenants func(i int) string
	}{
		{"many tenants", func(i int) string { return fmt.Sprint("gone-", i) }},
		{"one tenant, many versions", func(int) string { return "gone" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			table := r.accountsTable()
			r.create("acme")
			putAccounts(t, r.accounts(table, r.cipher(""), nil), 1, "acme")
			var gone []string
			for i := range n {
				tenant := tc.tenants(i)
				if i == 0 || tenant != tc.tenants(i-1) {
					r.create(tenant)
					gone = append(gone, tenant)
				} else {
					r.rotate(tenant)
				}
				s := r.accounts(table, r.cipher(""), nil)
				if err := s.Put(ctx, &Account{Tenant: tenant, ID: fmt.Sprint(i), Token: "t"}); err != nil {
					t.Fatal(err)
				}
			}
			for _, tenant := range gone {
				if err := r.ks.Delete(ctx, tenant); err != nil {
					t.Fatal(err)
				}
			}

			reader := r.accounts(table, r.cipher(""), nil)
			g0, k0 := r.counts()
			for i := range n {
				_, err := reader.Get(ctx, Account{Tenant: tc.tenants(i), ID: fmt.Sprint(i)})
				wantGone(t, fmt.Sprintf("item %d under a shredded version", i), err)
			}
			gets, kmsN := r.since(g0, k0)
			t.Logf("%d items under %d shredded versions: %d GetItem, %d KMS", n, n, gets, kmsN)
			if gets > 2*n || kmsN != 0 {
				t.Errorf("%d shredded versions cost %d GetItem and %d KMS requests, want at most two GetItems each and no KMS", n, gets, kmsN)
			}
			if _, err := reader.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
				t.Errorf("a cold read of another tenant after the shredded items: %v", err)
			}
		})
	}
}

// TestRecreatedTenantOldItemsStayGone: a tenant shredded and then created
// again under the same id: its items from before (a backup, say) read as
// ErrKeyGone, not as tampering, and uncharged; its new items read.
func TestRecreatedTenantOldItemsStayGone(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("globex")
	putAccounts(t, r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1)), 2*dynacrypt.DefaultUnwrapBurst, "globex")
	if err := r.ks.Delete(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	r.create("globex")
	if err := r.accounts(table, r.cipher(""), nil).Put(ctx, &Account{Tenant: "globex", ID: "new", Token: "after"}); err != nil {
		t.Fatal(err)
	}

	reader := r.accounts(table, r.cipher(""), nil)
	for i := range 2 * dynacrypt.DefaultUnwrapBurst {
		_, err := reader.Get(ctx, Account{Tenant: "globex", ID: fmt.Sprint(i)})
		wantGone(t, fmt.Sprintf("old item %d of the re-created tenant", i), err)
	}
	if a, err := reader.Get(ctx, Account{Tenant: "globex", ID: "new"}); err != nil || a.Token != "after" {
		t.Errorf("the re-created tenant's new item: %v", err)
	}
}

// TestDeleteLeavesNoMaterial: Delete replaces every version record by one
// without material, which Versions lists as shredded; a Delete again finds
// nothing to delete; Create makes the id anew.
func TestDeleteLeavesNoMaterial(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	v1 := r.create("acme")
	v2 := r.rotate("acme")
	if err := r.ks.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{v1, v2} {
		rec := r.record("acme", "branch:version:"+v)
		if _, ok := rec["enc"]; ok {
			t.Errorf("version %s: the record still holds material after Delete", v)
		}
	}
	if n := r.recordCount("acme"); n != 2 {
		t.Errorf("%d records left after Delete, want the 2 shredded versions", n)
	}
	vs, err := r.ks.Versions(ctx, "acme")
	if err != nil || len(vs) != 2 || !vs[0].Shredded || !vs[1].Shredded || vs[0].Active || vs[1].Active {
		t.Errorf("Versions after Delete: %+v, %v; want both versions shredded, none active", vs, err)
	}
	if err := r.ks.Delete(ctx, "acme"); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("a second Delete: %v, want ErrBranchKeyNotFound", err)
	}
	v3 := r.create("acme")
	vs, err = r.ks.Versions(ctx, "acme")
	if err != nil || len(vs) != 3 || !vs[2].Active || vs[2].Version != v3 || vs[2].Shredded {
		t.Errorf("Versions after Create again: %+v, %v; want the new version active after the 2 shredded", vs, err)
	}
}
