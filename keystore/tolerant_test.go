package keystore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// TestTolerantListingOfATenant: an item of another tenant moved into a
// tenant's partition (its tenant rewritten) is reported by a tolerant
// Query of the tenant, never yielded, and refusing it costs no key store
// or KMS request; the tenant's own items all come. A tolerant Lookup drops
// the other tenant's candidates unread, as a strict one does, and never
// reports them: their keys are that tenant's.
func TestTolerantListingOfATenant(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	r.create("globex")
	writer := r.accounts(table, r.cipher(""), nil)
	putAccounts(t, writer, 8, "acme", "globex")
	moved := r.rawAccount(table, "globex", "1")
	moved["tenant"], moved["id"] = s("acme"), s("9-moved")
	r.putRaw(table, moved)

	reader := r.accounts(table, r.cipher(""), nil)
	if _, err := reader.Get(ctx, Account{Tenant: "acme", ID: "0"}); err != nil { // acme's keys, warm
		t.Fatal(err)
	}
	var reports []*dynacrypt.ItemError
	tolerant := dynacrypt.ReportFailures(func(e *dynacrypt.ItemError) { reports = append(reports, e) })
	g0, k0 := r.counts()
	var ids []string
	for a, err := range reader.Query(ctx, Account{Tenant: "acme"}, tolerant) {
		if err != nil {
			t.Fatalf("acme's tolerant Query: %v", err)
		}
		if a.Tenant != "acme" || strings.Contains(a.Token, "globex") {
			t.Errorf("acme's tolerant Query yielded %s/%s, token %q", a.Tenant, a.ID, a.Token)
		}
		ids = append(ids, a.ID)
	}
	if want := []string{"0", "1", "2", "3", "4", "5", "6", "7"}; !slices.Equal(ids, want) {
		t.Errorf("acme's tolerant Query yielded %v, want %v", ids, want)
	}
	if len(reports) != 1 || !errors.Is(reports[0], dynacrypt.ErrIntegrity) ||
		reports[0].Key["id"].(*types.AttributeValueMemberS).Value != "9-moved" || strings.Contains(reports[0].Error(), "secret") {
		t.Errorf("acme's tolerant Query reported %v, want the moved item, ErrIntegrity, no plaintext", reports)
	}
	if gets, kmsN := r.since(g0, k0); gets != 0 || kmsN != 0 {
		t.Errorf("the tolerant Query made %d key store GetItem and %d KMS requests, want none", gets, kmsN)
	}

	reports = nil
	pro := lookupIDs(t, reader, Account{Tenant: "acme", Plan: "pro"}, "by-plan", tolerant)
	if want := []string{"acme/1", "acme/3", "acme/5", "acme/7"}; !slices.Equal(pro, want) {
		t.Errorf("acme's tolerant Lookup yielded %v, want %v", pro, want)
	}
	for _, e := range reports { // the moved item, if its beacon matches
		if e.Key["tenant"].(*types.AttributeValueMemberS).Value != "acme" || e.Key["id"].(*types.AttributeValueMemberS).Value != "9-moved" {
			t.Errorf("acme's tolerant Lookup reported %v: another tenant's item", e)
		}
	}
}
