package keystore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// Someone who writes the key store puts an older branch:ACTIVE record back,
// so that new data, and the rewrites of a walk run to move items off an old
// version, are wrapped under a version rotated away from. The copy agrees
// with the version record it names and its material unwraps under KMS, so
// the key store alone cannot tell; a Cipher that has read a newer version
// can, and then refuses. See also freshness_test.go.

// TestRolledBackActiveRecordRefusedForWrites: someone who writes the key
// store puts back, as branch:ACTIVE, a copy of an older version's record. A
// Cipher that has read the newer version refuses to wrap under the older
// one (ErrIntegrity), so a write fails and Store.Reencrypt, run to move
// items off the old version, fails on the items under the new version
// instead of rewrapping them under the old one.
func TestRolledBackActiveRecordRefusedForWrites(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	v1 := r.create("acme")
	v2 := r.rotate("acme")
	writer := r.accounts(table, r.cipher(""), nil)
	putAccounts(t, writer, 3, "acme")
	for _, id := range []string{"0", "1", "2"} {
		if _, v := r.wrappedOf(table, "acme", id); v != v2 {
			t.Fatalf("acme/%s written under %s, want the active %s", id, v, v2)
		}
	}

	// The attack: the v1 record, copied over branch:ACTIVE.
	r.put(moved(r.record("acme", "branch:version:"+v1), "acme", "branch:ACTIVE"))

	// A process that read an item under v2, then writes.
	reader := r.accounts(table, r.cipher(""), nil)
	if _, err := reader.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
		t.Fatal(err)
	}
	err := reader.Put(ctx, &Account{Tenant: "acme", ID: "new", Token: "written after the rollback"})
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("a write after reading v2, with ACTIVE rolled back to v1: %v, want ErrIntegrity", err)
	}

	p, err := r.accounts(table, r.cipher(""), nil).Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("Reencrypt after the rollback: %+v, %v", p, err)
	if p.Failed != 3 || !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("Reencrypt after the rollback: %+v, %v; want the 3 items under v2 failed with ErrIntegrity", p, err)
	}
	for _, id := range []string{"0", "1", "2"} {
		if _, v := r.wrappedOf(table, "acme", id); v != v2 {
			t.Errorf("Reencrypt rewrapped acme/%s from %s (newest) to %s (rolled back)", id, v2, v)
		}
	}
}

// TestWalkAfterRollbackDoesNotMoveBackWhenMemoryEvicted: someone who can
// write the key store puts tenant acme's older branch:ACTIVE record back.
// The process that walks acme wrote acme's items under the newer version
// itself, so its Store holds their root keys unwrapped; but the Cipher's
// memory of the newest version it saw is an LRU (WithCacheSize), and the
// other tenants it served since pushed acme out. Before each rewrite the
// walk asks the Cipher whether the item's version was created after the
// active one (CheckRewrap), fetching it if need be, so no item under v2
// ends under the rolled-back v1.
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
			t.Errorf("acme/%s moved from v2 %s back onto v1 %s (now under %s)", id, v2, v1, v)
		}
	}
}

// TestRotationAfterClockAheadRotationKeepsWrites: the rollback defence
// orders versions by their create-time. One rotation from a machine whose
// clock is a day ahead gives v2 a create-time a day ahead; a process that
// has read an item under v2 must not then take the genuine active version
// v3, rotated from a correct clock, for a rolled-back record (every new
// root key would fail with ErrIntegrity, and a walk could move nothing).
// Rotate keeps create-times increasing whatever the rotating machine's
// clock says, so the process writes under v3, and under v4 after rotating
// again.
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
		t.Errorf("a write after an honest rotation from a correct clock: %v", err)
	} else if v := r.versionOf(table, "p2"); v != v3 {
		t.Errorf("p2 written under %s, want the active %s", v, v3)
	}
	// The remedy the error gives: rotate again from a correct clock.
	v4 := r.rotate("fleet")
	c.Forget("fleet")
	if err := p.Put(ctx, &User{ID: "p3", Token: "after rotating again"}); err != nil {
		t.Errorf("a write after rotating again from a correct clock: %v", err)
	} else if v := r.versionOf(table, "p3"); v != v4 {
		t.Errorf("p3 written under %s, want the active %s", v, v4)
	}
}
