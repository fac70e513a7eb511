package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
)

// Someone who writes the data table forges items whose wrapped roots name
// branch keys and versions of their choosing, each of which a key store
// Cipher may have to fetch (GetItem, KMS Decrypt) to refuse. Unwraps under
// a version the Cipher holds make no request and are not limited; the
// fetches forgeries cause are, like KMS requests, bounded by the Store's
// unwrap limit.

// TestForgedRootsRacingForgetCostOneFetchPerForget: forged items naming
// the branch key version a reader holds unwrap locally, unlimited and
// uncharged. The decision is made before Decrypt, which looks the version
// up again: a Forget (or the cache TTL ending) in between makes the Decrypt
// fetch. 200 distinct forged items read concurrently while the version is
// forgotten five times cost at most one fetch (one GetItem, one KMS
// Decrypt) per Forget, and more only within the unwrap limit; every
// forgery is refused and genuine reads go on.
func TestForgedRootsRacingForgetCostOneFetchPerForget(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	writer := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	putAccounts(t, writer, 3, "acme")
	_, version := r.wrappedOf(table, "acme", "0")
	src := r.rawAccount(table, "acme", "0")
	const forged = 200
	for i := range forged {
		r.forgeItem(t, table, src, "acme", fmt.Sprint("forged-", i), forgedWrappedRoot("acme", version))
	}

	cipher := r.cipher("")
	svc := r.accounts(table, cipher, nil)
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil { // the version is cached
		t.Fatal(err)
	}
	g0, k0 := r.counts()
	const forgets = 5
	var wg sync.WaitGroup
	errs := make(chan error, forged)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < forged; i += 8 {
				_, err := svc.Get(ctx, Account{Tenant: "acme", ID: fmt.Sprint("forged-", i)})
				if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
					errs <- fmt.Errorf("forged %d: %v", i, err)
				}
			}
		}()
	}
	for range forgets {
		time.Sleep(5 * time.Millisecond)
		cipher.Forget("acme")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v, want ErrIntegrity or ErrUnwrapLimited", err)
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d forged items naming the held version, %d Forgets meanwhile: %d GetItem, %d KMS", forged, forgets, gets, kmsN)
	if kmsN > forgets+1 || gets > forgets+1 {
		t.Errorf("%d GetItem and %d KMS requests for %d forgeries across %d Forgets, want at most one fetch per Forget (%d)", gets, kmsN, forged, forgets, forgets+1)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: id}); err != nil {
			t.Errorf("acme's genuine item %s after the forgeries: %v; want it read", id, err)
		}
	}
}

// TestForgedRootsOfAbsentBranchKeysChargedToLimit: a forged item whose
// tenant has no branch key (never created, or shredded) is refused with
// ErrKeyGone. Finding the key gone costs two key store GetItems (the
// version record, then branch:ACTIVE), and each forgery can name another
// made-up tenant. A refusal that made a fetch is charged to the unwrap
// limit (one refused from the Cipher's memory costs nothing and is not), so
// 40 such forgeries cost at most the limit's worth of GetItems, and reads
// under branch keys the Cipher holds go on.
func TestForgedRootsOfAbsentBranchKeysChargedToLimit(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	putAccounts(t, r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1)), 2, "acme") // a root key each
	src := r.rawAccount(table, "acme", "0")
	const forged = 40
	for i := range forged {
		ghost := fmt.Sprint("ghost-", i)
		r.forgeItem(t, table, src, ghost, "x", forgedWrappedRoot(ghost, randomVersion()))
	}
	svc := r.accounts(table, r.cipher(""), nil)
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil { // acme's branch key is held
		t.Fatal(err)
	}
	g0, k0 := r.counts()
	for i := range forged {
		_, err := svc.Get(ctx, Account{Tenant: fmt.Sprint("ghost-", i), ID: "x"})
		if err == nil || errors.Is(err, dynacrypt.ErrUnwrapLimited) && i < dynacrypt.DefaultUnwrapBurst {
			t.Fatalf("forged ghost item %d: %v", i, err)
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d forged items of absent branch keys: %d key store GetItem, %d KMS", forged, gets, kmsN)
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "1"}); err != nil {
		t.Errorf("acme's genuine item under another root key after the ghosts: %v", err)
	}
	if bound := int64(2 * (dynacrypt.DefaultUnwrapBurst + 1)); gets > bound {
		t.Errorf("%d forged items of absent branch keys cost %d key store GetItems (%d KMS), want at most %d (the unwrap limit's worth)",
			forged, gets, kmsN, bound)
	}
}

// TestForgedVersionsCostNoKMS: forged items naming random versions of a
// live branch key cost a fetch each (a GetItem that finds nothing; no KMS)
// and are charged, so the fetches stop at the unwrap limit's worth; after
// Burst of them, a genuine read needing a fetch waits for the limit (a
// documented limitation). No KMS request is made, reads under a held
// version are unaffected, and the forgeries read again cost nothing (the
// failures are remembered).
func TestForgedVersionsCostNoKMS(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	writer := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	putAccounts(t, writer, 3, "acme", "globex")
	src := r.rawAccount(table, "acme", "0")
	n := 3 * dynacrypt.DefaultUnwrapBurst
	for i := range n {
		r.forgeItem(t, table, src, "acme", fmt.Sprint("v-", i), forgedWrappedRoot("acme", randomVersion()))
	}
	svc := r.accounts(table, r.cipher(""), nil)
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
		t.Fatal(err)
	}
	g0, k0 := r.counts()
	for i := range n {
		if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: fmt.Sprint("v-", i)}); err == nil {
			t.Fatalf("forged version %d read", i)
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d forged versions: %d GetItem, %d KMS", n, gets, kmsN)
	if kmsN != 0 || gets > int64(2*(dynacrypt.DefaultUnwrapBurst+1)) {
		t.Errorf("%d forged versions cost %d GetItem and %d KMS requests, want no KMS and at most %d GetItem", n, gets, kmsN, 2*(dynacrypt.DefaultUnwrapBurst+1))
	}
	for _, id := range []string{"1", "2"} {
		if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: id}); err != nil {
			t.Errorf("acme's genuine item %s (version held) after the forged versions: %v; want it read", id, err)
		}
	}
	_, err := svc.Get(ctx, Account{Tenant: "globex", ID: "0"})
	t.Logf("globex's cold read (its branch key not held) after the forged versions: %v (documented: uncached keys wait for the limit)", err)
	g0, k0 = r.counts()
	for i := range n {
		svc.Get(ctx, Account{Tenant: "acme", ID: fmt.Sprint("v-", i)})
	}
	if gets, kmsN := r.since(g0, k0); gets+kmsN != 0 {
		t.Errorf("the forged versions read again cost %d GetItem and %d KMS requests, want none", gets, kmsN)
	}
}

// TestWalkOfForgedTenantsBoundedInKeyStoreReads: someone who can write the
// data table adds items whose tenant attribute names made-up tenants. A
// whole-table walk reads a tenant's active version afresh
// (RefreshCurrentKey) only once one of its items has opened, so the
// made-up tenants cost it no more key store GetItems than reads of the
// same forgeries through Get would: at most the unwrap limit's worth.
func TestWalkOfForgedTenantsBoundedInKeyStoreReads(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	putAccounts(t, r.accounts(table, r.cipher(""), nil), 1, "acme")
	src := r.rawAccount(table, "acme", "0")
	const forged = 40
	for i := range forged {
		f := clone(src)
		f["tenant"] = s(fmt.Sprint("ghost-", i))
		r.putRaw(table, f)
	}
	svc := r.accounts(table, r.cipher(""), nil)
	g0, k0 := r.counts()
	p, err := svc.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	gets, kmsN := r.since(g0, k0)
	t.Logf("walk over %d items of made-up tenants: %+v, %v; %d GetItem, %d KMS", forged, p, err, gets, kmsN)
	if limit := int64(2*dynacrypt.DefaultUnwrapBurst + 4); gets > limit {
		t.Errorf("%d forged tenants cost the walk %d key store GetItems, want at most %d (the unwrap limit's worth)", forged, gets, limit)
	}
}
