package keystore_test

// Attacks on the shredded version records of issue 18 (Delete leaves a
// record without material; items under it read as ErrBranchKeyShredded,
// not charged to the unwrap limit). Each test asserts the safe behaviour,
// so it fails when the attack works.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

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
		ghost, v := fmt.Sprint("ghost-", i), rt5Version()
		r.put(shredRecord(ghost, v))
		r.rt5Forge(t, table, src, ghost, "x", rt5Wrapped(ghost, v))
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
// a shredded record. Delete removes branch:ACTIVE before it shreds, so a
// shredded active version is never the key store's own doing; yet the
// items under it read as ErrBranchKeyShredded (a key deleted on purpose),
// uncharged, where removing the record outright reads as tampering
// (ErrIntegrity). Safe: tampering, not a shredding.
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
		t.Errorf("ATTACK WORKS: %v, want ErrIntegrity (branch:ACTIVE still names the version)", err)
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
