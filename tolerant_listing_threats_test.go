package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestTolerantListingOfForgedKeysCostsTheUnwrapLimit: a strict listing
// ends at the first item whose wrapped key KMS refuses; a tolerant one
// goes on to the next, so a table of forged items, each with a wrapped key
// of its own, would cost a KMS request per item. The unwrap limit bounds
// them all the same: a tolerant Scan, and tolerant pages one after
// another, cost at most the burst between them, report only forged items
// (ErrIntegrity), never yield one, and end with ErrUnwrapLimited, which
// is not the item's and is never reported.
func TestTolerantListingOfForgedKeysCostsTheUnwrapLimit(t *testing.T) {
	ctx := context.Background()
	db, table, _ := kmsUsers(t, 3)
	genuine := rawGet(t, db, table, userID(0))
	header := headerOf(t, genuine)
	const forged = 60
	for i := range forged {
		f := cloneItem(genuine)
		f["id"] = &types.AttributeValueMemberS{Value: fmt.Sprint("forged-", i)}
		wrapped := append([]byte(nil), wrappedKey(header)...)
		wrapped[len(wrapped)-1] ^= byte(1 + i%255)
		wrapped[len(wrapped)-2] ^= byte(1 + i/255)
		f[hdr] = &types.AttributeValueMemberB{Value: withWrappedKey(header, wrapped)}
		rawPut(t, db, table, f)
	}
	check := func(t *testing.T, reports []*dynacrypt.ItemError, requests int64) {
		t.Helper()
		for _, r := range reports {
			id := r.Key["id"].(*types.AttributeValueMemberS).Value
			if !strings.HasPrefix(id, "forged-") || !errors.Is(r, dynacrypt.ErrIntegrity) {
				t.Errorf("reported %s: %v, want forged items only, with ErrIntegrity", id, r)
			}
			if strings.Contains(r.Error(), "token-") {
				t.Errorf("a report shows plaintext: %v", r)
			}
		}
		if requests > dynacrypt.DefaultUnwrapBurst+1 { // +1: the genuine items' key
			t.Errorf("%d forged items cost %d KMS requests, want at most the burst, %d, and one for the genuine key", forged, requests, dynacrypt.DefaultUnwrapBurst)
		}
	}

	t.Run("Scan", func(t *testing.T) {
		client, counter := testrig.KMS(t)
		reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
		var reports []*dynacrypt.ItemError
		var ended error
		for u, err := range reader.Scan(ctx, dynacrypt.ReportFailures(func(e *dynacrypt.ItemError) { reports = append(reports, e) })) {
			if err != nil {
				ended = err
				continue
			}
			if strings.HasPrefix(u.ID, "forged-") {
				t.Errorf("a forged item was yielded: %s", u.ID)
			}
		}
		t.Logf("%d forged items: %d reported, ended with %v, %d KMS requests", forged, len(reports), ended, counter.Requests())
		if !errors.Is(ended, dynacrypt.ErrUnwrapLimited) {
			t.Errorf("a tolerant Scan of %d forged keys ended with %v, want ErrUnwrapLimited", forged, ended)
		}
		check(t, reports, counter.Requests())
	})

	t.Run("pages", func(t *testing.T) {
		client, counter := testrig.KMS(t)
		reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
		var reports []*dynacrypt.ItemError
		tolerant := dynacrypt.ReportFailures(func(e *dynacrypt.ItemError) { reports = append(reports, e) })
		cursor, limited := "", 0
		for range forged { // a client asking page after page
			page, err := reader.ScanPage(ctx, cursor, 5, tolerant)
			if errors.Is(err, dynacrypt.ErrUnwrapLimited) {
				limited++
				continue // the client retries the same page
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page.Items {
				if strings.HasPrefix(u.ID, "forged-") {
					t.Errorf("a forged item was in a page: %s", u.ID)
				}
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		t.Logf("%d forged items in pages of 5: %d reported, %d pages refused, %d KMS requests", forged, len(reports), limited, counter.Requests())
		if limited == 0 {
			t.Error("pages of forged keys never hit the unwrap limit")
		}
		check(t, reports, counter.Requests())
	})
}
