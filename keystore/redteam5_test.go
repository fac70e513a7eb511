package keystore_test

// Red-team attacks of branch redteam5 on LocalUnwrapper: unwraps the key
// store Cipher says make no request are neither limited nor charged. Each
// test asserts the safe behaviour, so it fails when the attack works.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// rt5Wrapped builds a wrapped root key in the key store's format (FORMAT.md
// §11) naming id and version, with random salt and sealed bytes.
func rt5Wrapped(id, version string) []byte {
	b := []byte{0x10}
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(version)))
	b = append(b, version...)
	junk := make([]byte, 16+32+16)
	rand.Read(junk)
	return append(b, junk...)
}

func rt5Version() string {
	v := make([]byte, 16)
	rand.Read(v)
	return hex.EncodeToString(v)
}

// rt5Forge puts a copy of item under tenant and id with wrapped in its header.
func (r *rig) rt5Forge(t *testing.T, table string, item map[string]types.AttributeValue, tenant, id string, wrapped []byte) {
	t.Helper()
	f := rt4WithWrapped(t, item, wrapped)
	f["tenant"], f["id"] = s(tenant), s(id)
	r.putRaw(table, f)
}

// TestRedTeam5LocalUnwrapRaces: forged items naming the branch key
// version a reader holds unwrap "locally", unlimited and uncharged. The
// decision is made before Decrypt, which looks the version up again: a
// Forget (or the cache TTL ending) in between makes the Decrypt fetch,
// outside the limit. Many distinct forged items read concurrently while
// the version is forgotten over and over must cost at most one fetch (one
// GetItem, one KMS Decrypt) per Forget, refuse every forgery, and leave
// genuine reads working.
func TestRedTeam5LocalUnwrapRaces(t *testing.T) {
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
		r.rt5Forge(t, table, src, "acme", fmt.Sprint("forged-", i), rt5Wrapped("acme", version))
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
		t.Errorf("ATTACK WORKS: %v, want ErrIntegrity", err)
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d forged items naming the held version, %d Forgets meanwhile: %d GetItem, %d KMS", forged, forgets, gets, kmsN)
	if kmsN > forgets+1 || gets > forgets+1 {
		t.Errorf("ATTACK WORKS: %d GetItem and %d KMS requests for %d forgeries across %d Forgets, want at most one fetch per Forget", gets, kmsN, forged, forgets)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: id}); err != nil {
			t.Errorf("ATTACK WORKS: acme's genuine item %s after the forgeries: %v", id, err)
		}
	}
}

// TestRedTeam5AbsentBranchKeysFree: a forged item whose tenant has no
// branch key (never created, or shredded) is refused with ErrKeyGone.
// Finding the key gone costs two key store GetItems (the version record,
// then branch:ACTIVE), and each forgery can name another tenant: the red
// team found those fetches unbounded, since ErrKeyGone was never charged.
// It now is when it made a fetch (a shredded tenant's other items are
// refused from the Cipher's memory, locally, and cost nothing), so the
// fetches stop at the unwrap limit; reads under branch keys the Cipher
// holds go on.
func TestRedTeam5AbsentBranchKeysFree(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	putAccounts(t, r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1)), 2, "acme") // a root key each
	src := r.rawAccount(table, "acme", "0")
	const forged = 40
	for i := range forged {
		ghost := fmt.Sprint("ghost-", i)
		r.rt5Forge(t, table, src, ghost, "x", rt5Wrapped(ghost, rt5Version()))
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
		t.Errorf("ATTACK WORKS: %d forged items of absent branch keys cost %d key store GetItems (%d KMS), unlimited: want at most %d (the unwrap limit's worth)",
			forged, gets, kmsN, bound)
	}
}

// TestRedTeam5ForgedVersionsAndColdReads: forged items naming random
// versions of a live branch key cost a fetch each (GetItem; no KMS) and are
// charged: after Burst of them, a genuine read needing a fetch waits for
// the limit (documented). What must hold: no KMS request, reads under a
// held version unaffected, the forgeries read again cost nothing.
func TestRedTeam5ForgedVersionsAndColdReads(t *testing.T) {
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
		r.rt5Forge(t, table, src, "acme", fmt.Sprint("v-", i), rt5Wrapped("acme", rt5Version()))
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
		t.Errorf("ATTACK WORKS: %d forged versions cost %d GetItem and %d KMS", n, gets, kmsN)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: id}); err != nil {
			t.Errorf("ATTACK WORKS: acme's genuine item %s (version held) after the forged versions: %v", id, err)
		}
	}
	_, err := svc.Get(ctx, Account{Tenant: "globex", ID: "0"})
	t.Logf("globex's cold read (its branch key not held) after the forged versions: %v (documented: uncached keys wait for the limit)", err)
	g0, k0 = r.counts()
	for i := range n {
		svc.Get(ctx, Account{Tenant: "acme", ID: fmt.Sprint("v-", i)})
	}
	if gets, kmsN := r.since(g0, k0); gets+kmsN != 0 {
		t.Errorf("ATTACK WORKS: the forged versions read again cost %d GetItem, %d KMS", gets, kmsN)
	}
}
