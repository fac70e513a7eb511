package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// TestForgetDuringReadInFlightStopsReads: a read of the tenant is in
// flight when its branch key is deleted and the process told to forget it
// (Cipher.Forget, Store.ForgetRootKeys: "stops reading the tenant's items
// at once"). Neither the Cipher's cache nor the Store's keyring keeps what
// a fetch or unwrap under way when its id was forgotten brings back (their
// generation counters), so the tenant's other items under the same root
// key fail with ErrKeyGone at once, not for WithRootKeyMaxAge more.
func TestForgetDuringReadInFlightStopsReads(t *testing.T) {
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
			t.Errorf("after Delete, Forget and ForgetRootKeys, globex/%s still reads (token %q), want ErrKeyGone", id, a.Token)
		} else if !errors.Is(err, dynacrypt.ErrKeyGone) {
			t.Errorf("globex/%s: %v, want ErrKeyGone", id, err)
		}
	}
}

// TestDataWriterCannotFakeShredding: someone who writes only the data
// table cannot make a live tenant's item read as shredded (ErrKeyGone, which
// a service may treat as "deleted on purpose"): a wrapped root naming the
// tenant's branch key with a version it never had is tampering
// (ErrIntegrity); one naming a missing branch key is refused before any
// fetch. Reencrypt rewrites neither, nor a genuine header pasted into an
// altered item.
func TestDataWriterCannotFakeShredding(t *testing.T) {
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

// replaceOnce replaces the first old in s by new, and panics if s has none.
func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("not found: " + old)
}

// shredRecord is what Delete leaves of a version, as anyone who can write
// the key store can write it: it holds nothing only KMS could make.
func shredRecord(id, version string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"branch-key-id":     s(id),
		"type":              s("branch:version:" + version),
		"version":           s(version),
		"hierarchy-version": &types.AttributeValueMemberN{Value: "1"},
		"shred-time":        s(time.Now().UTC().Format(time.RFC3339Nano)),
	}
}

// TestForgedShredRecordsCostNoKMS: someone who can write both the key store
// and the data table writes shredded records for made-up branch keys (no
// KMS needed: they hold no material) and items naming them. Each forged
// item reads as ErrBranchKeyShredded, which the Store does not charge to
// the unwrap limit (a key the key store says was deleted): it costs the
// key store GetItems of its version, once per failure TTL, and never a KMS
// request, and other tenants' cold reads go on. (Such an attacker can deny
// service outright by deleting the branch keys; the limit protects KMS.)
func TestForgedShredRecordsCostNoKMS(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	putAccounts(t, r.accounts(table, r.cipher(""), nil), 1, "acme")
	src := r.rawAccount(table, "acme", "0")
	const forged = 40
	for i := range forged {
		ghost, v := fmt.Sprint("ghost-", i), randomVersion()
		r.put(shredRecord(ghost, v))
		r.forgeItem(t, table, src, ghost, "x", forgedWrappedRoot(ghost, v))
	}
	svc := r.accounts(table, r.cipher(""), nil)
	g0, k0 := r.counts()
	limited := 0
	for i := range forged {
		_, err := svc.Get(ctx, Account{Tenant: fmt.Sprint("ghost-", i), ID: "x"})
		switch {
		case errors.Is(err, dynacrypt.ErrUnwrapLimited):
			limited++
		case !errors.Is(err, dynacrypt.ErrKeyGone):
			t.Fatalf("forged item %d: %v, want ErrKeyGone or ErrUnwrapLimited", i, err)
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d forged items naming forged shredded records: %d GetItem, %d KMS, %d limited", forged, gets, kmsN, limited)
	if kmsN != 0 || gets > 2*forged || limited != 0 {
		t.Errorf("%d forgeries naming forged shredded records cost %d key store GetItems and %d KMS requests (%d limited): want at most 2 GetItems each, no KMS, none limited", forged, gets, kmsN, limited)
	}
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
		t.Errorf("acme's cold read after the forgeries: %v", err)
	}
}

// TestShredRecordOfLiveActiveVersionIsTampering: someone who can write the
// key store replaces the record of the version branch:ACTIVE still names by
// a shredded record, so that the items under it would read as deleted on
// purpose (ErrBranchKeyShredded), uncharged. Delete removes branch:ACTIVE
// before it shreds, so a shredded active version is never the key store's
// own doing: the read is ErrIntegrity, tampering, as removing the record
// outright would be.
func TestShredRecordOfLiveActiveVersionIsTampering(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	v1 := r.create("acme")
	putAccounts(t, r.accounts(table, r.cipher(""), nil), 1, "acme")
	r.put(shredRecord("acme", v1))
	_, err := r.accounts(table, r.cipher(""), nil).Get(ctx, Account{Tenant: "acme", ID: "0"})
	t.Logf("item under the active version whose record was replaced by a shredded one: %v", err)
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("item under the active version whose record was replaced by a shredded one: %v, want ErrIntegrity (branch:ACTIVE still names the version)", err)
	}
}

// TestShreddedVersionsBeyondCacheCostNoKMS: items under real shredded
// versions (copies of deleted tenants' items from a backup) are refused
// uncharged, each version's failure remembered for WithFailureTTL in an LRU
// of WithCacheSize entries. A reader cycling through more shredded
// versions than it holds asks the key store again on each read (two
// GetItems, as many as the table read of the item costs) and never KMS.
func TestShreddedVersionsBeyondCacheCostNoKMS(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	const tenants = 3
	for i := range tenants {
		g := fmt.Sprint("gone-", i)
		r.create(g)
		putAccounts(t, r.accounts(table, r.cipher(""), nil), 1, g)
		if err := r.ks.Delete(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	svc := r.accounts(table, r.cipher("", keystore.WithCacheSize(tenants-1)), nil)
	g0, k0 := r.counts()
	const rounds = 10
	for range rounds {
		for i := range tenants {
			_, err := svc.Get(ctx, Account{Tenant: fmt.Sprint("gone-", i), ID: "0"})
			if !errors.Is(err, keystore.ErrBranchKeyShredded) {
				t.Fatalf("item of shredded tenant %d: %v", i, err)
			}
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("%d reads of items under %d shredded versions (cache of %d): %d GetItem, %d KMS", rounds*tenants, tenants, tenants-1, gets, kmsN)
	if reads := int64(rounds * tenants); kmsN != 0 || gets > 2*reads {
		t.Errorf("%d reads cycling through %d shredded versions cost %d key store GetItems and %d KMS requests: want at most 2 GetItems a read, no KMS", reads, tenants, gets, kmsN)
	}
}
