package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// tamperedOrders writes orders 0..n-1 of customer "c" and one of "other",
// then changes orders 3 and n-1 at rest (another placement date, signed),
// and moves order 5's card ciphertext into order 6. It returns a Store
// that reads the table, its Cipher, the table's client and name, and the
// sequence numbers tampered with.
func tamperedOrders(t *testing.T, n int) (*dynacrypt.Store[Order], *dynacrypttest.Cipher, *dynamodb.Client, string, []int) {
	t.Helper()
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, orderTable)
	writer := mustNew[Order](t, db, table, orderOptions(ordersCipher())...)
	for i := range n {
		if err := writer.Put(ctx, order("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := writer.Put(ctx, order("other", 1)); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int{3, n - 1} {
		raw := dynacrypttest.StoredItem(t, db, writer, Order{Customer: "c", Seq: seq})
		raw["placed"] = &types.AttributeValueMemberS{Value: "1999-0001"}
		rawPut(t, db, table, raw)
	}
	five := dynacrypttest.StoredItem(t, db, writer, Order{Customer: "c", Seq: 5})
	six := dynacrypttest.StoredItem(t, db, writer, Order{Customer: "c", Seq: 6})
	six["card"] = five["card"]
	rawPut(t, db, table, six)
	cipher := ordersCipher()
	return mustNew[Order](t, db, table, orderOptions(cipher)...), cipher, db, table, []int{3, 6, n - 1}
}

// listing records what a tolerant listing gave, in order: "c/4" for an
// item, "!c/3" for a report.
type listing struct {
	events  []string
	reports []*dynacrypt.ItemError
}

func (l *listing) report(e *dynacrypt.ItemError) {
	l.reports = append(l.reports, e)
	l.events = append(l.events, fmt.Sprintf("!%s/%s", e.Key["customer"].(*types.AttributeValueMemberS).Value,
		e.Key["seq"].(*types.AttributeValueMemberN).Value))
}

func (l *listing) item(o *Order) {
	l.events = append(l.events, fmt.Sprintf("%s/%d", o.Customer, o.Seq))
}

// drain runs a listing to its end, failing the test on an error.
func (l *listing) drain(t *testing.T, seq func(func(*Order, error) bool)) {
	t.Helper()
	for o, err := range seq {
		if err != nil {
			t.Fatalf("a tolerant listing ended with %v", err)
		}
		l.item(o)
	}
}

// expect builds the events of customer c's orders from..to (inclusive,
// either direction), the tampered ones reported.
func expect(c string, from, to int, tampered []int) []string {
	var out []string
	step := 1
	if to < from {
		step = -1
	}
	for i := from; ; i += step {
		e := fmt.Sprintf("%s/%d", c, i)
		if slices.Contains(tampered, i) {
			e = "!" + e
		}
		out = append(out, e)
		if i == to {
			return out
		}
	}
}

// TestTolerantListings: with ReportFailures, Query, Scan (in parallel
// segments too) and Lookup yield every item that verifies and report every
// one that does not, in order, once each, with its key and no plaintext;
// Limit and page sizes count reports as the stored items they are, and a
// page's cursor resumes after its last item or report. Without the option
// a listing still ends at the first item that fails.
func TestTolerantListings(t *testing.T) {
	const n = 12
	ctx := context.Background()
	store, _, _, table, tampered := tamperedOrders(t, n)
	key := Order{Customer: "c"}

	var strict []string
	for o, err := range store.Query(ctx, key) {
		if err != nil {
			if !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Errorf("a strict Query ended with %v, want ErrIntegrity", err)
			}
			strict = append(strict, "error")
			continue
		}
		strict = append(strict, fmt.Sprintf("%s/%d", o.Customer, o.Seq))
	}
	if want := []string{"c/0", "c/1", "c/2", "error"}; !slices.Equal(strict, want) {
		t.Errorf("a strict Query gave %v, want %v: it ends at the first item that fails", strict, want)
	}

	check := func(name string, got *listing, want []string) {
		t.Helper()
		if !slices.Equal(got.events, want) {
			t.Errorf("%s gave %v\nwant %v", name, got.events, want)
		}
		for _, r := range got.reports {
			msg := r.Error()
			if !errors.Is(r, dynacrypt.ErrIntegrity) || r.Table != table || strings.Contains(msg, "card-") ||
				!strings.Contains(msg, `item {"customer":"c","seq":`) {
				t.Errorf("%s reported %q (op %s, table %s): want ErrIntegrity, the key, no plaintext", name, msg, r.Op, r.Table)
			}
		}
	}
	t.Run("Query", func(t *testing.T) {
		var l listing
		l.drain(t, store.Query(ctx, key, dynacrypt.ReportFailures(l.report)))
		check("Query", &l, expect("c", 0, n-1, tampered))
		var d listing
		d.drain(t, store.Query(ctx, key, dynacrypt.ReportFailures(d.report), dynacrypt.Descending(), dynacrypt.PageSize(2)))
		check("Query, descending, 2 a request", &d, expect("c", n-1, 0, tampered))
		var lim listing
		lim.drain(t, store.Query(ctx, key, dynacrypt.ReportFailures(lim.report), dynacrypt.Limit(5)))
		check("Query, Limit(5)", &lim, expect("c", 0, 4, tampered))
		if len(lim.reports) > 0 && lim.reports[0].Op != "Query" {
			t.Errorf("a Query's report names operation %q", lim.reports[0].Op)
		}
	})
	t.Run("Scan", func(t *testing.T) {
		want := append(expect("c", 0, n-1, tampered), "other/1")
		slices.Sort(want)
		for _, opts := range [][]dynacrypt.QueryOption{{}, {dynacrypt.PageSize(3)}, {dynacrypt.Parallel(4)}} {
			var l listing
			l.drain(t, store.Scan(ctx, append(opts, dynacrypt.ReportFailures(l.report))...))
			// A partition comes in sort key order; partitions in any.
			var c []string
			for _, e := range l.events {
				if strings.Contains(e, "c/") {
					c = append(c, e)
				}
			}
			if len(opts) == 0 && !slices.Equal(c, expect("c", 0, n-1, tampered)) {
				t.Errorf("Scan gave customer c's orders as %v", c)
			}
			slices.Sort(l.events)
			check(fmt.Sprintf("Scan %d options", len(opts)), &l, want)
		}
	})
	t.Run("pages", func(t *testing.T) {
		for _, size := range []int{1, 3, 4, n + 5} {
			var l listing
			cursor, pages := "", 0
			for {
				before := len(l.events)
				page, err := store.QueryPage(ctx, key, cursor, size, dynacrypt.ReportFailures(l.report))
				if err != nil {
					t.Fatalf("size %d, page %d: %v", size, pages, err)
				}
				reports := len(l.events) - before
				// The page's reports came first in l.events; put its
				// items where they belong, by sequence number.
				for _, o := range page.Items {
					l.item(o)
				}
				pageEvents := l.events[before:]
				slices.SortFunc(pageEvents, func(a, b string) int { return seqOf(a) - seqOf(b) })
				pages++
				if got := len(page.Items) + reports; got > size || (page.Next != "" && got != size) {
					t.Errorf("size %d, page %d: %d items and %d reports, next %q", size, pages, len(page.Items), reports, page.Next)
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			check(fmt.Sprintf("QueryPage(%d)", size), &l, expect("c", 0, n-1, tampered))
		}
		// ScanPage: every item and report once.
		var l listing
		for cursor := ""; ; {
			page, err := store.ScanPage(ctx, cursor, 4, dynacrypt.ReportFailures(l.report))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Items {
				l.item(o)
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		want := append(expect("c", 0, n-1, tampered), "other/1")
		slices.Sort(want)
		slices.Sort(l.events)
		check("ScanPage(4)", &l, want)
	})
}

// seqOf returns the sequence number of an event of listing.
func seqOf(event string) int {
	var seq int
	fmt.Sscanf(event[strings.LastIndex(event, "/")+1:], "%d", &seq)
	return seq
}

// TestTolerantListingThreats: a cursor of a tolerant listing, which may
// stand after an item that failed, resumes no strict one (which would
// then skip it unseen), nor the reverse; reporting an item costs no Cipher
// call; and a failure that is not the item's (the Cipher unreachable) ends
// a tolerant listing as a strict one, yielding nothing for the items it
// could not read and handing out no cursor past them.
func TestTolerantListingThreats(t *testing.T) {
	ctx := context.Background()
	store, cipher, db, table, _ := tamperedOrders(t, 12)
	key := Order{Customer: "c"}
	var reports []*dynacrypt.ItemError
	tolerant := dynacrypt.ReportFailures(func(e *dynacrypt.ItemError) { reports = append(reports, e) })

	// A page of 0..3, 3 reported: its cursor stands past 3.
	page, err := store.QueryPage(ctx, key, "", 4, tolerant)
	if err != nil || page.Next == "" || len(reports) != 1 {
		t.Fatalf("the first page: %v, %d reports", err, len(reports))
	}
	if _, err := store.QueryPage(ctx, key, page.Next, 4); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Errorf("a strict listing resumed from a tolerant one's cursor: %v, want ErrInvalidCursor", err)
	}
	strictPage, err := store.QueryPage(ctx, key, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.QueryPage(ctx, key, strictPage.Next, 4, tolerant); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Errorf("a tolerant listing resumed from a strict one's cursor: %v, want ErrInvalidCursor", err)
	}

	// Warm: every item's root key is cached. Reporting costs no call.
	before := cipher.Decrypts()
	reports = nil
	for _, err := range store.Query(ctx, key, tolerant) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := cipher.Decrypts() - before; got != 0 || len(reports) != 3 {
		t.Errorf("a warm tolerant Query reported %d items with %d Cipher calls, want 3 and none", len(reports), got)
	}

	// The Cipher unreachable: no item is reported, the listing ends.
	down := errors.New("KMS unreachable")
	coldCipher := ordersCipher()
	coldCipher.FailDecrypt(down)
	cold := mustNew[Order](t, db, table, orderOptions(coldCipher)...)
	reports = nil
	var got []error
	for o, err := range cold.Query(ctx, key, tolerant) {
		if o != nil {
			t.Errorf("order %d read with the Cipher down", o.Seq)
		}
		got = append(got, err)
	}
	if len(got) != 1 || !errors.Is(got[0], down) || len(reports) != 0 {
		t.Errorf("a tolerant Query with the Cipher down gave %v and %d reports, want the Cipher's error once and none", got, len(reports))
	}
	if page, err := cold.QueryPage(ctx, key, "", 4, tolerant); !errors.Is(err, down) || page != nil || len(reports) != 0 {
		t.Errorf("a tolerant page with the Cipher down: %v, %v, %d reports", page, err, len(reports))
	}
	if page, err := cold.ScanPage(ctx, "", 4, tolerant); !errors.Is(err, down) || page != nil || len(reports) != 0 {
		t.Errorf("a tolerant ScanPage with the Cipher down: %v, %v, %d reports", page, err, len(reports))
	}
}

// TestTolerantListingOfUnsignedAttributes: an unsigned attribute, which
// anyone who can write the table can change, given a type its field cannot
// hold, fails the item's unmarshalling: a tolerant listing reports that
// item and goes on, where a strict one ends.
func TestTolerantListingOfUnsignedAttributes(t *testing.T) {
	type Page struct {
		ID    string `dynamodbav:"id"`
		Views int    `dynamodbav:"views"`
		Body  string `dynamodbav:"body" encrypt:"kms"`
	}
	ctx := context.Background()
	db, table := usersTable(t)
	store := mustNew[Page](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypttest.NewCipher()),
		dynacrypt.WithUnsignedAttributes("views"))
	for _, id := range []string{"a", "b", "c"} {
		if err := store.Put(ctx, &Page{ID: id, Views: 1, Body: "body of " + id}); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawGet(t, db, table, "b")
	raw["views"] = &types.AttributeValueMemberS{Value: "lots"}
	rawPut(t, db, table, raw)

	var read, reported []string
	for p, err := range store.Scan(ctx, dynacrypt.ReportFailures(func(e *dynacrypt.ItemError) {
		reported = append(reported, e.Key["id"].(*types.AttributeValueMemberS).Value)
		if strings.Contains(e.Error(), "body of") {
			t.Errorf("the report shows plaintext: %v", e)
		}
	})) {
		if err != nil {
			t.Fatalf("a tolerant Scan: %v", err)
		}
		read = append(read, p.ID)
	}
	slices.Sort(read)
	if !slices.Equal(read, []string{"a", "c"}) || !slices.Equal(reported, []string{"b"}) {
		t.Errorf("a tolerant Scan read %v and reported %v, want a, c and b", read, reported)
	}
	failed := false
	for _, err := range store.Scan(ctx) {
		failed = failed || err != nil
	}
	if !failed {
		t.Error("a strict Scan read past the item that does not unmarshal")
	}
}
