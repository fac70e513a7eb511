package keystore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// WithPreviousCipher lets a key store Cipher read root keys wrapped by the
// KMSCipher a table is moving from. Someone who writes the data table must
// not turn that door into a way round the key store's defences: the unwrap
// limit, the tenant mapping, the refusal to wrap under anything but the
// branch key.

// junkBytes returns n random bytes whose first is first.
func junkBytes(first byte, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	b[0] = first
	return b
}

// TestPreviousCipherJunkRootsSpendNoUnwrapLimit: someone who writes the
// data table writes Burst items whose wrapped root is junk (no KMS request
// needed). Without WithPreviousCipher the Cipher refuses such a root itself;
// with it, the root goes to the previous KMSCipher, which refuses it too
// without a request ("unknown format"). Either way the refusal is marked
// local and is not charged to the unwrap limit, so the genuine cold reads
// of every tenant go on (as in TestForgedItemsOfOneTenantLeaveOthersColdReads).
func TestPreviousCipherJunkRootsSpendNoUnwrapLimit(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("mallory")
	n := dynacrypt.DefaultUnwrapBurst
	writer := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	putAccounts(t, writer, 3, "acme")
	putAccounts(t, writer, 1, "mallory")

	// The attacker's items: mallory's item with junk in place of the
	// wrapped root (first byte 0x00: no Cipher's format).
	src := r.rawAccount(table, "mallory", "0")
	for i := range n {
		f := withWrappedRoot(t, src, junkBytes(0x00, 120))
		f["id"] = s(fmt.Sprint("junk-", i))
		r.putRaw(table, f)
	}

	for _, withPrevious := range []bool{false, true} {
		var opts []keystore.CipherOption
		if withPrevious {
			opts = append(opts, keystore.WithPreviousCipher(dynacrypt.NewKMSCipher(r.kms, testrig.KeyB)))
		}
		svc := r.accounts(table, r.cipher("", opts...), nil)
		_, k0 := r.counts()
		for i := range n {
			if _, err := svc.Get(ctx, Account{Tenant: "mallory", ID: fmt.Sprint("junk-", i)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Fatalf("previous=%t: junk item %d: %v, want ErrIntegrity", withPrevious, i, err)
			}
		}
		_, kmsN := r.since(0, k0)
		t.Logf("previous=%t: %d junk items refused with %d KMS requests", withPrevious, n, kmsN)
		for _, id := range []string{"0", "1", "2"} {
			a, err := svc.Get(ctx, Account{Tenant: "acme", ID: id})
			if err != nil {
				t.Errorf("previous=%t: acme's genuine item %s after %d junk items: %v (ErrUnwrapLimited: %v); want it read",
					withPrevious, id, n, err, errors.Is(err, dynacrypt.ErrUnwrapLimited))
				break
			}
			if a.Token != "acme secret "+id {
				t.Errorf("acme %s: wrong token", id)
			}
		}
	}
}

// TestPreviousCipherMovedItemCostsOneKMSRequest: during a move
// (WithPreviousCipher), someone who writes the data table copies items
// written before the move under another tenant. Such a root goes to KMS
// with the other tenant's context, which nothing but KMS can check, so it
// costs a KMS Decrypt, as it would with KMSCipher alone, and spends the
// unwrap limit. Each is refused (ErrIntegrity) at one request at most,
// reading it again costs none (the failure is remembered), and root keys
// under a branch key the Cipher holds still unwrap locally, outside the
// limit; only the cold fetch of a branch key waits for the limit to refill.
func TestPreviousCipherMovedItemCostsOneKMSRequest(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("mallory")
	n := dynacrypt.DefaultUnwrapBurst
	old := dynacrypt.NewKMSCipher(r.kms, testrig.KeyB)
	// Before the move: acme's items under KMS, a root key each.
	putAccounts(t, r.accounts(table, old, nil, dynacrypt.WithRootKeyMaxItems(1)), n, "acme")
	// After the move: more acme items under the branch key.
	ksWriter := r.accounts(table, r.cipher(""), nil, dynacrypt.WithRootKeyMaxItems(1))
	for i := range 2 {
		if err := ksWriter.Put(ctx, &Account{Tenant: "acme", ID: fmt.Sprint("new-", i), Email: "x@y", Token: fmt.Sprint("new secret ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The attacker copies acme's old items into mallory's partition.
	for i := range n {
		f := clone(r.rawAccount(table, "acme", fmt.Sprint(i)))
		f["tenant"], f["id"] = s("mallory"), s(fmt.Sprint("moved-", i))
		r.putRaw(table, f)
	}

	svc := r.accounts(table, r.cipher("", keystore.WithPreviousCipher(old)), nil)
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "new-0"}); err != nil { // the branch key is cached
		t.Fatal(err)
	}
	_, k0 := r.counts()
	for i := range n {
		if _, err := svc.Get(ctx, Account{Tenant: "mallory", ID: fmt.Sprint("moved-", i)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("moved item %d: %v, want ErrIntegrity", i, err)
		}
	}
	_, kmsN := r.since(0, k0)
	t.Logf("%d items moved under another tenant cost %d KMS requests", n, kmsN)
	if kmsN > int64(n) {
		t.Errorf("%d items moved under another tenant cost %d KMS requests, want at most one each", n, kmsN)
	}
	_, k0 = r.counts()
	for i := range n {
		if _, err := svc.Get(ctx, Account{Tenant: "mallory", ID: fmt.Sprint("moved-", i)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("moved item %d read again: %v, want ErrIntegrity", i, err)
		}
	}
	if _, kmsN := r.since(0, k0); kmsN != 0 {
		t.Errorf("reading the moved items again cost %d KMS requests, want none", kmsN)
	}
	// Another root key under the cached branch key unwraps locally: the
	// limit the moved items spent does not apply to it.
	if _, err := svc.Get(ctx, Account{Tenant: "acme", ID: "new-1"}); err != nil {
		t.Errorf("acme's genuine item new-1 after the moved items: %v (ErrUnwrapLimited: %v); want it read", err, errors.Is(err, dynacrypt.ErrUnwrapLimited))
	}
}

// TestPreviousCipherKeepsSupplierRefusal: a service that serves acme only
// (its WithBranchKeyIDSupplier refuses every other tenant) "never fetches
// their keys" and cannot read their items. With WithPreviousCipher, a root
// key in KMS format is handed to the KMSCipher only once the supplier has
// accepted the tenant, so the acme-only service neither reads globex's
// items written before the move nor pays KMS to refuse them.
func TestPreviousCipherKeepsSupplierRefusal(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	old := dynacrypt.NewKMSCipher(r.kms, testrig.KeyB)
	putAccounts(t, r.accounts(table, old, nil), 2, "acme", "globex")

	acmeOnly := r.accounts(table, r.cipher("", onlyTenants("acme"), keystore.WithPreviousCipher(old)), r.beaconKeys([]string{"acme"}))
	if _, err := acmeOnly.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil {
		t.Fatalf("acme's own pre-move item: %v", err)
	}
	_, k0 := r.counts()
	a, err := acmeOnly.Get(ctx, Account{Tenant: "globex", ID: "0"})
	_, kmsN := r.since(0, k0)
	switch {
	case err == nil:
		t.Errorf("the acme-only service read globex's item (token %q) through WithPreviousCipher, %d KMS requests; its supplier refuses globex",
			a.Token, kmsN)
	case kmsN != 0:
		t.Errorf("refusing globex's item cost %d KMS requests (%v), want none: the supplier's refusal is free", kmsN, err)
	}
}

// TestPreviousCipherNeverDowngrades: WithPreviousCipher never makes the
// Cipher wrap under the previous one (writes and walks put branch-key
// roots); a branch-key root rewritten to look like a KMS one does not read
// (ErrIntegrity); and after a tenant is shredded, a pre-move copy put back
// by someone who writes the table is not rewrapped by a walk under any key
// (it stays as it is, counted Failed), and no branch key records are made
// for the shredded tenant.
func TestPreviousCipherNeverDowngrades(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	old := dynacrypt.NewKMSCipher(r.kms, testrig.KeyB)
	putAccounts(t, r.accounts(table, old, nil), 2, "acme", "globex")
	moving := r.cipher("", keystore.WithPreviousCipher(old))
	svc := r.accounts(table, moving, nil)
	if err := svc.Put(ctx, &Account{Tenant: "acme", ID: "fresh", Email: "f@x", Token: "fresh secret"}); err != nil {
		t.Fatal(err)
	}
	if branch, _ := r.wrappedOf(table, "acme", "fresh"); branch != "acme" {
		t.Errorf("a write through WithPreviousCipher is under %q", branch)
	}
	preMoveGlobex := r.rawAccount(table, "globex", "0")
	p, err := svc.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	if err != nil || p.Rewritten != 4 {
		t.Fatalf("the move: %+v, %v", p, err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		for _, id := range []string{"0", "1"} {
			if branch, _ := r.wrappedOf(table, tenant, id); branch != tenant {
				t.Errorf("%s/%s moved under %q", tenant, id, branch)
			}
		}
	}

	// A branch-key root dressed as a KMS one (first byte 0x02).
	fresh := r.rawAccount(table, "acme", "fresh")
	h, _ := header.Parse(fresh[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	dressed := append([]byte{0x02}, h.Wrapped[1:]...)
	f := withWrappedRoot(t, fresh, dressed)
	f["id"] = s("dressed")
	r.putRaw(table, f)
	if a, err := svc.Get(ctx, Account{Tenant: "acme", ID: "dressed"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("a branch-key root dressed as KMS: %+v, %v; want ErrIntegrity", a, err)
	}
	if _, err := r.raw.DeleteItem(ctx, deleteInput(table, "acme", "dressed")); err != nil {
		t.Fatal(err)
	}

	// globex is shredded; the attacker puts back its pre-move copy.
	if err := r.ks.Delete(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	moving.Forget("globex")
	r.putRaw(table, preMoveGlobex)
	if a, err := r.accounts(table, r.cipher("", keystore.WithPreviousCipher(old)), nil).Get(ctx, Account{Tenant: "globex", ID: "0"}); err == nil {
		t.Logf("as documented, a shredded tenant's pre-move copy put back reads while WithPreviousCipher is on (token %q)", a.Token)
	}
	walker := r.accounts(table, r.cipher("", keystore.WithPreviousCipher(old)), nil)
	p, err = walker.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("walk after globex's shredding, its pre-move copy put back: %+v, %v", p, err)
	after := r.rawAccount(table, "globex", "0")
	h2, _ := header.Parse(after[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	if _, _, ok := keystore.WrappedBy(h2.Wrapped); ok || p.Failed == 0 {
		t.Errorf("the walk rewrapped a shredded tenant's put-back item, or did not count it failed (%+v)", p)
	}
	if r.materialCount("globex") != 0 {
		t.Error("the walk made branch key records for a shredded tenant")
	}
	if err != nil && strings.Contains(err.Error(), "globex secret") {
		t.Error("the walk's error shows plaintext")
	}
}

// deleteInput deletes an account.
func deleteInput(table, tenant, id string) *dynamodb.DeleteItemInput {
	return &dynamodb.DeleteItemInput{TableName: &table, Key: accountKey(tenant, id)}
}
