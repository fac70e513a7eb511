package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dynacrypt/dynacrypt"
)

// rollBack puts the record of an older version of id back as its
// branch:ACTIVE record, as someone who can write the key store may.
func (r *rig) rollBack(id, version string) {
	r.t.Helper()
	r.put(moved(r.record(id, "branch:version:"+version), id, "branch:ACTIVE"))
}

// putUsers writes users with the given ids.
func putUsers(t *testing.T, s *dynacrypt.Store[User], ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.Put(context.Background(), &User{ID: id, Username: "u", Token: "secret of " + id}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWalkNeverRewrapsOntoRolledBackVersion: someone who can write the key
// store puts an older branch:ACTIVE record back after a rotation. A walk
// from a process that has cached nothing must not move the items under the
// newer version onto the older one, whatever item it meets first: it
// refuses them (ErrIntegrity) and leaves them as they are.
func TestWalkNeverRewrapsOntoRolledBackVersion(t *testing.T) {
	ctx := context.Background()
	t.Run("fleet branch key", func(t *testing.T) {
		r := newRig(t)
		table := r.usersTable()
		v1 := r.create("fleet")
		putUsers(t, r.users(table, r.cipher("fleet")), "a", "b")
		v2 := r.rotate("fleet")
		putUsers(t, r.users(table, r.cipher("fleet")), "c", "d", "e")
		r.rollBack("fleet", v1)

		p, err := r.users(table, r.cipher("fleet")).Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
		t.Logf("walk after the rollback: %+v, %v", p, err)
		for _, id := range []string{"c", "d", "e"} {
			if v := r.versionOf(table, id); v != v2 {
				t.Errorf("item %s moved from the newer version %s to %s", id, v2, v)
			}
		}
		if !errors.Is(err, dynacrypt.ErrIntegrity) || p.Failed < 3 {
			t.Errorf("walk after the rollback: %+v, %v; want the items under the newer version failed with ErrIntegrity", p, err)
		}
	})
	t.Run("tenant, first item under the old version", func(t *testing.T) {
		r := newRig(t)
		table := r.accountsTable()
		v1 := r.create("acme")
		putAccounts(t, r.accounts(table, r.cipher(""), nil), 2, "acme") // ids 0, 1: met first
		v2 := r.rotate("acme")
		newer := r.accounts(table, r.cipher(""), nil)
		for _, id := range []string{"2", "3", "4"} {
			if err := newer.Put(ctx, &Account{Tenant: "acme", ID: id, Token: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		r.rollBack("acme", v1)

		p, err := r.accounts(table, r.cipher(""), nil).Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
		t.Logf("walk after the rollback: %+v, %v", p, err)
		for _, id := range []string{"2", "3", "4"} {
			if _, v := r.wrappedOf(table, "acme", id); v != v2 {
				t.Errorf("acme/%s moved from the newer version %s to %s", id, v2, v)
			}
		}
		if !errors.Is(err, dynacrypt.ErrIntegrity) || p.Failed < 3 {
			t.Errorf("walk after the rollback: %+v, %v; want the items under the newer version failed with ErrIntegrity", p, err)
		}
	})
}

// TestStaleActiveVersionRefreshedOnSightOfNewer: process A has cached v1 as
// the active version; the key is rotated elsewhere, and process B writes
// under v2. Once A reads B's item, A's writes go under v2: a new root key
// (here, that of a second Store on A's Cipher) after one fresh read of the
// active record, and the root key A's first Store made under v1 is
// retired rather than used on.
func TestStaleActiveVersionRefreshedOnSightOfNewer(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	r.create("fleet")
	a := r.cipher("fleet")
	storeA := r.users(table, a)
	putUsers(t, storeA, "a1")
	v2 := r.rotate("fleet")
	putUsers(t, r.users(table, r.cipher("fleet")), "b1")

	if _, err := storeA.Get(ctx, User{ID: "b1"}); err != nil {
		t.Fatal(err)
	}
	g0, _ := r.counts()
	if err := r.users(table, a).Put(ctx, &User{ID: "a2", Token: "new root"}); err != nil {
		t.Fatalf("a write needing a new root key after reading a newer version: %v", err)
	}
	if gets, _ := r.since(g0, 0); gets != 2 {
		t.Errorf("the write made %d key store GetItem requests, want 2 (one fresh read of the active version)", gets)
	}
	putUsers(t, storeA, "a3")
	for _, id := range []string{"a2", "a3"} {
		if v := r.versionOf(table, id); v != v2 {
			t.Errorf("%s written under %s, want the active %s", id, v, v2)
		}
	}
}

// TestStaleProcessWalkDoesNotMoveTenantBack: a process that cached tenant
// x's active version v1 walks the table after rotating tenant y; x was
// rotated elsewhere meanwhile and has items under v2. The walk moves y's
// items and never x's back to v1.
func TestStaleProcessWalkDoesNotMoveTenantBack(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("x")
	r.create("y")
	c := r.cipher("")
	s := r.accounts(table, c, nil)
	putAccounts(t, s, 1, "x", "y")

	x2 := r.rotate("x")
	elsewhere := r.accounts(table, r.cipher(""), nil)
	for _, id := range []string{"1", "2"} {
		if err := elsewhere.Put(ctx, &Account{Tenant: "x", ID: id, Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	y2 := r.rotate("y")
	c.Forget("y")

	p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("walk: %+v, %v", p, err)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"0", "1", "2"} {
		if _, v := r.wrappedOf(table, "x", id); v != x2 {
			t.Errorf("x/%s under %s after the walk, want x's active %s", id, v, x2)
		}
	}
	if _, v := r.wrappedOf(table, "y", "0"); v != y2 {
		t.Errorf("y/0 under %s after the walk, want y's active %s", v, y2)
	}
}

// TestWalkLearnsActiveVersionFresh: a process whose Cipher still caches v1
// as active, rotated elsewhere, walks: the walk reads the active version
// before deciding what is current, so it moves the items under v1 rather
// than calling them current.
func TestWalkLearnsActiveVersionFresh(t *testing.T) {
	for _, tenants := range []bool{false, true} {
		t.Run(fmt.Sprintf("tenants=%v", tenants), func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			var (
				walk    func() (dynacrypt.ReencryptProgress, error)
				version func(id string) string
			)
			if tenants {
				table := r.accountsTable()
				r.create("acme")
				s := r.accounts(table, r.cipher(""), nil)
				putAccounts(t, s, 3, "acme")
				walk = func() (dynacrypt.ReencryptProgress, error) { return s.Reencrypt(ctx, dynacrypt.ReencryptOptions{}) }
				version = func(id string) string { _, v := r.wrappedOf(table, "acme", id); return v }
			} else {
				table := r.usersTable()
				r.create("acme")
				s := r.users(table, r.cipher("acme"))
				putUsers(t, s, "0", "1", "2")
				walk = func() (dynacrypt.ReencryptProgress, error) { return s.Reencrypt(ctx, dynacrypt.ReencryptOptions{}) }
				version = func(id string) string { return r.versionOf(table, id) }
			}
			v2 := r.rotate("acme") // elsewhere: this process's Cipher is not told
			p, err := walk()
			if err != nil || p.Rewritten != 3 {
				t.Errorf("walk after a rotation elsewhere: %+v, %v; want 3 items rewritten", p, err)
			}
			for _, id := range []string{"0", "1", "2"} {
				if v := version(id); v != v2 {
					t.Errorf("%s under %s after the walk, want the active %s", id, v, v2)
				}
			}
		})
	}
}
