package keystore_test

// Attacks on the rollback defence of issue 18 (a Cipher that has seen a
// newer branch key version never wraps under an older one, and a walk never
// moves items back). Each test asserts the safe behaviour, so it fails when
// the attack works.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// TestWalkAfterRollbackDoesNotMoveBackWhenMemoryEvicted: someone who can
// write the key store puts tenant acme's older branch:ACTIVE record back.
// The process that walks acme wrote acme's items under the newer version
// itself, so its Store holds their root keys unwrapped; but the Cipher's
// memory of the newest version it saw is an LRU (WithCacheSize), and the
// other tenants it served since pushed acme out. The walk reads acme's
// active version afresh (the rolled-back v1), opens the items under v2 from
// the Store's root key cache without asking the Cipher, and wraps their new
// root under v1: the items move back onto the version rotated away from.
// Safe: no item under v2 ends under v1.
func TestWalkAfterRollbackDoesNotMoveBackWhenMemoryEvicted(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	v1 := r.create("acme")
	r.create("zeta")
	putAccounts(t, r.accounts(table, r.cipher(""), nil), 2, "acme") // 0, 1 under v1
	v2 := r.rotate("acme")

	// The service process: a small Cipher cache stands for a busy process
	// that has served more branch keys than its cache holds.
	c := r.cipher("", keystore.WithCacheSize(1))
	svc := r.accounts(table, c, nil)
	for _, id := range []string{"2", "3", "4"} {
		if err := svc.Put(ctx, &Account{Tenant: "acme", ID: id, Token: "under v2"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"2", "3", "4"} {
		if _, v := r.wrappedOf(table, "acme", id); v != v2 {
			t.Fatalf("acme/%s written under %s, want v2 %s", id, v, v2)
		}
	}
	// Another tenant served: acme leaves the Cipher's LRUs.
	putAccounts(t, svc, 1, "zeta")

	r.rollBack("acme", v1)
	p, err := svc.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "acme"})
	t.Logf("walk of acme after the rollback: %+v, %v", p, err)
	for _, id := range []string{"2", "3", "4"} {
		if _, v := r.wrappedOf(table, "acme", id); v != v2 {
			t.Errorf("ATTACK WORKS: acme/%s moved from v2 %s back onto v1 %s (now under %s)", id, v2, v1, v)
		}
	}
}

// TestRotationAfterClockAheadRotationKeepsWrites: the rollback defence
// orders versions by their create-time, which comes from the rotating
// machine's clock. One rotation from a machine whose clock is a day ahead
// makes v2 "newer" than every version rotated from a correct clock for a
// day. Once a process has read an item under v2, the genuine active
// version v3 (and v4, rotated "again from a correct clock" as the error
// advises) reads as a rolled-back record: every new root key of that
// process fails with ErrIntegrity, and a walk can move nothing.
// Safe: a process keeps writing under the active version an honest rotation
// made.
func TestRotationAfterClockAheadRotationKeepsWrites(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	r.create("fleet")
	keystore.SetKeyStoreClock(r.ks, func() time.Time { return time.Now().Add(24 * time.Hour) })
	r.rotate("fleet") // v2, from a clock a day ahead
	keystore.SetKeyStoreClock(r.ks, time.Now)
	putUsers(t, r.users(table, r.cipher("fleet")), "b") // under v2
	v3 := r.rotate("fleet")                             // from a correct clock

	c := r.cipher("fleet")
	p := r.users(table, c, dynacrypt.WithRootKeyMaxItems(1))
	putUsers(t, p, "p1")
	if _, err := p.Get(ctx, User{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	err := p.Put(ctx, &User{ID: "p2", Token: "after reading v2"})
	if err != nil {
		t.Errorf("ATTACK WORKS: a write after an honest rotation from a correct clock: %v", err)
	} else if v := r.versionOf(table, "p2"); v != v3 {
		t.Errorf("p2 written under %s, want the active %s", v, v3)
	}
	// The remedy the error gives: rotate again from a correct clock.
	v4 := r.rotate("fleet")
	c.Forget("fleet")
	if err := p.Put(ctx, &User{ID: "p3", Token: "after rotating again"}); err != nil {
		t.Errorf("ATTACK WORKS: a write after rotating again from a correct clock, as advised: %v", err)
	} else if v := r.versionOf(table, "p3"); v != v4 {
		t.Errorf("p3 written under %s, want the active %s", v, v4)
	}
}

// TestWalkOfForgedTenantsBoundedInKeyStoreReads: someone who can write the
// data table adds items whose tenant attribute names made-up tenants. A
// whole-table walk reads each item's tenant's active version afresh
// (RefreshCurrentKey) before anything else, outside the unwrap limit: one
// key store GetItem per made-up tenant, however many. Read through Get,
// the same forgeries cost at most the limit's worth. Safe: a walk over
// forged tenants is bounded in key store requests as reads are.
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
		t.Errorf("ATTACK WORKS: %d forged tenants cost the walk %d key store GetItems, want at most %d (the unwrap limit's worth)", forged, gets, limit)
	}
}
