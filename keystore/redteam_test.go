package keystore_test

// Red-team attacks on tenants and the key store (branch redteam3). Each test
// asserts the safe behaviour, so it fails when the attack works. The report
// that goes with them says which fail, and why.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// putRaw writes an item into a data table as an attacker with write access
// would.
func (r *rig) putRaw(table string, item map[string]types.AttributeValue) {
	r.t.Helper()
	if _, err := r.raw.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		r.t.Fatal(err)
	}
}

// wrappedOf returns the branch key id and version that wrapped a stored
// account's root key.
func (r *rig) wrappedOf(table, tenant, id string) (string, string) {
	r.t.Helper()
	raw := r.rawAccount(table, tenant, id)
	h, err := header.Parse(raw[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	if err != nil {
		r.t.Fatal(err)
	}
	branch, version, ok := keystore.WrappedBy(h.Wrapped)
	if !ok {
		r.t.Fatalf("account %s/%s: root key not wrapped under a branch key", tenant, id)
	}
	return branch, version
}

// TestRedTeamForgedItemsOfOneTenantBlockAnother: an attacker who can write
// the data table copies Burst of acme's items into mallory's partition (the
// tenant attribute made mallory). The keystore Cipher refuses each one
// before any request (the wrapped root names acme's branch key, not
// mallory's), so the refusals cost neither a key store read nor KMS; yet
// the Store charges each to the unwrap limit of the Items source, which all
// tenants share. After that, acme's genuine items whose root key is not
// cached fail with ErrUnwrapLimited: one tenant's forged items deny the
// cold reads of every other tenant, for as long as someone reads them.
func TestRedTeamForgedItemsOfOneTenantBlockAnother(t *testing.T) {
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
			t.Errorf("ATTACK WORKS: acme's genuine item %s after mallory's forgeries: %v (ErrUnwrapLimited: %v)",
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
		t.Errorf("ATTACK WORKS: Reencrypt failed on %d items, %d of them genuine, after %d forgeries", p.Failed, p.Failed-int64(n), n)
	}
}

// TestRedTeamForeignTenantSpendsLimit: a service that serves acme only
// (its supplier refuses other tenants) reads a few items of another tenant
// sharing the table: genuine items, no attacker needed (a GSI query, a Scan,
// or an item an attacker moved there). The supplier's refusal makes no
// request at all, but it is charged to the Items unwrap limit, so acme's own
// cold reads then fail with ErrUnwrapLimited.
func TestRedTeamForeignTenantSpendsLimit(t *testing.T) {
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
		t.Errorf("ATTACK WORKS: acme's own item after %d refusals of globex's: %v (ErrUnwrapLimited: %v)",
			n, err, errors.Is(err, dynacrypt.ErrUnwrapLimited))
	}
}

// TestRedTeamTamperedBeaconRecordUnboundedKMS: the beacon key source is
// called again for every write and every Lookup of a tenant whose beacon key
// failed to load: nothing remembers the failure, and no limiter bounds it.
// An attacker with write access to the key store edits the create-time of a
// tenant's beacon:ACTIVE record (a change only KMS can see); from then on
// every Lookup probe an API client sends for that tenant costs a KMS Decrypt
// that fails. KMS request quotas are per account and region, so a stream of
// probes throttles the cold reads of every tenant.
func TestRedTeamTamperedBeaconRecordUnboundedKMS(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	svc := r.accounts(table, r.cipher(""), nil) // the tenant's BeaconKey, as WithTenantBeaconKeys advises

	rec := r.record("acme", "beacon:ACTIVE")
	rec["create-time"] = s("2020-01-01T00:00:00.000000Z")
	r.put(rec)

	const probes = 20
	_, k0 := r.counts()
	for i := range probes {
		for _, err := range svc.Lookup(ctx, Account{Tenant: "acme", Email: fmt.Sprintf("probe%d@example.com", i)}, "by-email") {
			if err == nil || !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Fatalf("probe %d: %v, want ErrIntegrity", i, err)
			}
			break
		}
	}
	_, kmsN := r.since(0, k0)
	t.Logf("%d lookups of a tenant with a tampered beacon record made %d KMS requests", probes, kmsN)
	if kmsN > 2 {
		t.Errorf("ATTACK WORKS: %d lookup probes made %d KMS Decrypt requests; a refusal should be remembered", probes, kmsN)
	}
	// Writes of the tenant too.
	_, k0 = r.counts()
	for i := range probes {
		if err := svc.Put(ctx, &Account{Tenant: "acme", ID: fmt.Sprint(i), Email: "a@b"}); err == nil {
			t.Fatal("a write with a tampered beacon key succeeded")
		}
	}
	if _, kmsN := r.since(0, k0); kmsN > 2 {
		t.Errorf("ATTACK WORKS: %d writes made %d KMS Decrypt requests", probes, kmsN)
	}
}

// TestRedTeamBeaconKeyFetchUsesFirstCallersContext: concurrent lookups of a
// tenant whose beacon keys are not cached share one fetch, which runs under
// the context of the first caller. An API client that sends a lookup and
// hangs up (its request context cancelled) fails the lookups of every other
// client of that tenant that joined the fetch meanwhile, with its
// context.Canceled. (The keyring and the Cipher detach shared calls from
// the caller's cancellation; the beacon key fetch does not.)
func TestRedTeamBeaconKeyFetchUsesFirstCallersContext(t *testing.T) {
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
		t.Errorf("ATTACK WORKS: a client's lookup failed because another client hung up: %v", err)
	}
}

// holdingSource is the key store, but holds one BranchKeyVersion fetch,
// after it has succeeded, until released: a read in flight.
type holdingSource struct {
	ks      *keystore.KeyStore
	armed   atomic.Bool
	fetched chan struct{}
	release chan struct{}
}

func (h *holdingSource) ActiveBranchKey(ctx context.Context, id string) (*keystore.BranchKey, error) {
	return h.ks.ActiveBranchKey(ctx, id)
}

func (h *holdingSource) BranchKeyVersion(ctx context.Context, id, version string) (*keystore.BranchKey, error) {
	k, err := h.ks.BranchKeyVersion(ctx, id, version)
	if h.armed.CompareAndSwap(true, false) {
		h.fetched <- struct{}{}
		<-h.release
	}
	return k, err
}

// TestRedTeamShreddingForgetRace: a read of the tenant was in flight when
// its branch key was deleted and the process told to forget it
// (Cipher.Forget, Store.ForgetRootKeys: "stops reading the tenant's items
// at once"). The Cipher's cache knows a fetch under way when its id is
// forgotten must not be kept (its generation counter), but the Store's
// keyring does not: the read in flight caches the tenant's root key after
// ForgetRootKeys, and every item under that root stays readable for
// WithRootKeyMaxAge (5 minutes by default), the deletion notwithstanding.
func TestRedTeamShreddingForgetRace(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("globex")
	writer := r.accounts(table, r.cipher(""), nil)
	putAccounts(t, writer, 3, "globex") // one root key for the three

	src := &holdingSource{ks: r.ks, fetched: make(chan struct{}), release: make(chan struct{})}
	c, err := keystore.NewCipher(src, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := r.accounts(table, c, nil)
	src.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := svc.Get(ctx, Account{Tenant: "globex", ID: "0"})
		done <- err
	}()
	<-src.fetched
	if err := r.ks.Delete(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	c.Forget("globex")
	svc.ForgetRootKeys("globex")
	close(src.release)
	t.Logf("the read in flight: %v", <-done)

	for _, id := range []string{"1", "2"} {
		a, err := svc.Get(ctx, Account{Tenant: "globex", ID: id})
		if err == nil {
			t.Errorf("ATTACK WORKS: after Delete, Forget and ForgetRootKeys, globex/%s still reads (token %q)", id, a.Token)
		} else if !errors.Is(err, dynacrypt.ErrKeyGone) {
			t.Errorf("globex/%s: %v, want ErrKeyGone", id, err)
		}
	}
}

// TestRedTeamActiveRollback: an attacker with write access to the key store
// puts back, as branch:ACTIVE, a copy of an older version's record. The
// copy agrees with the version record it names and its material unwraps
// under KMS (the encryption context names that version), so the key store
// alone cannot tell (keystore's doc says so). A Cipher that has read the
// newer version refuses to wrap under the older one, so Store.Reencrypt,
// run to move items off the old version, fails on the items under the new
// version instead of rewrapping them under the old one.
func TestRedTeamActiveRollback(t *testing.T) {
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
			t.Errorf("ATTACK WORKS: Reencrypt rewrapped acme/%s from %s (newest) to %s (rolled back)", id, v2, v)
		}
	}
}

// --- Attacks that are refused (these pass). ---

// TestRedTeamLookupCursorAcrossTenants: a cursor of acme's LookupPage, sent
// with a probe of globex's (a 1-bit beacon, so both tenants' probes query
// the same index partitions), is refused.
func TestRedTeamLookupCursorAcrossTenants(t *testing.T) {
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

// TestRedTeamDataWriterCannotFakeShredding: an attacker who writes only the
// data table cannot make a live tenant's item read as shredded
// (ErrKeyGone): a wrapped root naming the tenant's branch key with a
// version it never had is tampering; one naming a missing branch key is
// refused before any fetch. Reencrypt rewrites neither, nor a genuine
// header pasted into an altered item.
func TestRedTeamDataWriterCannotFakeShredding(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	v := r.create("acme")
	writer := r.accounts(table, r.cipher(""), nil)
	putAccounts(t, writer, 2, "acme")

	edit := func(id, newID, old, new string) {
		t.Helper()
		f := clone(r.rawAccount(table, "acme", id))
		h := f[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB)
		h.Value = []byte(replaceOnce(string(h.Value), old, new))
		f["id"] = s(newID)
		r.putRaw(table, f)
	}
	edit("0", "bad-version", v, forged)
	edit("0", "bad-branch", "acme", "ghst")
	pasted := clone(r.rawAccount(table, "acme", "0"))
	pasted["id"] = s("pasted")
	r.putRaw(table, pasted)

	for _, id := range []string{"bad-version", "bad-branch", "pasted"} {
		_, err := r.accounts(table, r.cipher(""), nil).Get(ctx, Account{Tenant: "acme", ID: id})
		if !errors.Is(err, dynacrypt.ErrIntegrity) || errors.Is(err, dynacrypt.ErrKeyGone) {
			t.Errorf("%s: %v, want ErrIntegrity and not ErrKeyGone", id, err)
		}
	}
	before := map[string]string{}
	for _, id := range []string{"bad-version", "bad-branch", "pasted"} {
		before[id] = string(r.rawAccount(table, "acme", id)[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	}
	// A fresh Store whose Cipher has not fetched acme's active version:
	// every item looks "not current" to the walk.
	p, _ := r.accounts(table, r.cipher(""), nil).Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("Reencrypt: %+v", p)
	for id, h := range before {
		if got := string(r.rawAccount(table, "acme", id)[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value); got != h {
			t.Errorf("Reencrypt rewrote the forged item %s", id)
		}
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("not found: " + old)
}

// TestRedTeamSharedBeaconKeyStillSplitsTenants: two tenants whose beacon
// key source returns the same key (a supplier mapping both to one branch
// key) still get unrelated beacons for the same value.
func TestRedTeamSharedBeaconKeyStillSplitsTenants(t *testing.T) {
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
