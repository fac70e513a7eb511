package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Order is keyed by customer and sequence number, with a global index by
// status and placement date and a local index by placement date.
type Order struct {
	Customer string `dynamodbav:"customer"`
	Seq      int    `dynamodbav:"seq"`
	Status   string `dynamodbav:"status"`
	Placed   string `dynamodbav:"placed"`
	Card     string `dynamodbav:"card" encrypt:"kms"`
	Amount   int    `dynamodbav:"amount" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

func order(customer string, seq int) *Order {
	status := "open"
	if seq%3 == 0 {
		status = "closed"
	}
	return &Order{Customer: customer, Seq: seq, Status: status, Placed: fmt.Sprintf("2026-%04d", seq),
		Card: fmt.Sprintf("card-%s-%d", customer, seq), Amount: seq * 100}
}

var orderTable = dynacrypttest.Table{
	PartitionKey: dynacrypttest.S("customer"),
	SortKey:      dynacrypttest.N("seq"),
	Indexes: []dynacrypttest.Index{
		{Name: "by-status", PartitionKey: dynacrypttest.S("status"), SortKey: dynacrypttest.S("placed")},
		{Name: "by-placed", PartitionKey: dynacrypttest.S("customer"), SortKey: dynacrypttest.S("placed"), Local: true},
	},
}

func orderOptions(c dynacrypt.Cipher, more ...dynacrypt.Option) []dynacrypt.Option {
	return append([]dynacrypt.Option{dynacrypt.WithPartitionKey("customer"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c),
		dynacrypt.WithIndex("by-status", "status", "placed"), dynacrypt.WithIndex("by-placed", "customer", "placed")}, more...)
}

// ordersCipher is a fake Cipher with the key every orders Store of the
// tests shares, and its own counters.
func ordersCipher() *dynacrypttest.Cipher { return dynacrypttest.NewCipherWithKey("orders") }

// newOrders makes a table with n orders of customer "c" and one of "other".
func newOrders(t *testing.T, n int, opts ...dynacrypt.Option) (*dynacrypt.Store[Order], []*Order) {
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, orderTable)
	store := mustNew[Order](t, db, table, orderOptions(ordersCipher(), opts...)...)
	ctx := context.Background()
	orders := make([]*Order, n)
	for i := range orders {
		orders[i] = order("c", i)
	}
	parallel(t, n, func(i int) error { return store.Put(ctx, orders[i]) })
	other := order("other", 1)
	other.Status = "archived" // out of the index partitions the tests query
	if err := store.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	return store, orders
}

// collect drains a sequence, failing the test on an error.
func collect(t *testing.T, seq func(func(*Order, error) bool)) []*Order {
	t.Helper()
	var out []*Order
	for o, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func sameOrders(t *testing.T, what string, got, want []*Order) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d items, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if *got[i] != *want[i] {
			t.Errorf("%s: item %d is %+v, want %+v", what, i, *got[i], *want[i])
			return
		}
	}
}

func where(orders []*Order, keep func(*Order) bool) []*Order {
	var out []*Order
	for _, o := range orders {
		if keep(o) {
			out = append(out, o)
		}
	}
	return out
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 99, 100, 101, 2500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			store, orders := newOrders(t, n)
			mid, hi := n/2, n*3/4
			tableConds := []struct {
				name string
				opt  dynacrypt.QueryOption
				keep func(*Order) bool
			}{
				{"all", nil, func(*Order) bool { return true }},
				{"=", dynacrypt.SortKeyEqual(mid), func(o *Order) bool { return o.Seq == mid }},
				{"<", dynacrypt.SortKeyLessThan(mid), func(o *Order) bool { return o.Seq < mid }},
				{"<=", dynacrypt.SortKeyLessThanEqual(mid), func(o *Order) bool { return o.Seq <= mid }},
				{">", dynacrypt.SortKeyGreaterThan(mid), func(o *Order) bool { return o.Seq > mid }},
				{">=", dynacrypt.SortKeyGreaterThanEqual(mid), func(o *Order) bool { return o.Seq >= mid }},
				{"between", dynacrypt.SortKeyBetween(mid, hi), func(o *Order) bool { return o.Seq >= mid && o.Seq <= hi }},
			}
			for _, c := range tableConds {
				opts := []dynacrypt.QueryOption{dynacrypt.ConsistentRead()}
				if c.opt != nil {
					opts = append(opts, c.opt)
				}
				want := where(orders, c.keep)
				sameOrders(t, "table "+c.name, collect(t, store.Query(ctx, Order{Customer: "c"}, opts...)), want)
				desc := slices.Clone(want)
				slices.Reverse(desc)
				sameOrders(t, "table desc "+c.name, collect(t, store.Query(ctx, Order{Customer: "c"}, append(opts, dynacrypt.Descending())...)), desc)
			}

			// The global index, sorted by the string "placed": every
			// condition, begins_with included.
			open := where(orders, func(o *Order) bool { return o.Status == "open" })
			placed := func(i int) string { return fmt.Sprintf("2026-%04d", i) }
			indexConds := []struct {
				name string
				opt  dynacrypt.QueryOption
				keep func(*Order) bool
			}{
				{"all", nil, func(*Order) bool { return true }},
				{"=", dynacrypt.SortKeyEqual(placed(mid)), func(o *Order) bool { return o.Placed == placed(mid) }},
				{"<", dynacrypt.SortKeyLessThan(placed(mid)), func(o *Order) bool { return o.Placed < placed(mid) }},
				{"<=", dynacrypt.SortKeyLessThanEqual(placed(mid)), func(o *Order) bool { return o.Placed <= placed(mid) }},
				{">", dynacrypt.SortKeyGreaterThan(placed(mid)), func(o *Order) bool { return o.Placed > placed(mid) }},
				{">=", dynacrypt.SortKeyGreaterThanEqual(placed(mid)), func(o *Order) bool { return o.Placed >= placed(mid) }},
				{"between", dynacrypt.SortKeyBetween(placed(mid), placed(hi)), func(o *Order) bool { return o.Placed >= placed(mid) && o.Placed <= placed(hi) }},
				{"begins_with", dynacrypt.SortKeyBeginsWith("2026-00"), func(o *Order) bool { return strings.HasPrefix(o.Placed, "2026-00") }},
			}
			for _, c := range indexConds {
				opts := []dynacrypt.QueryOption{dynacrypt.UsingIndex("by-status")}
				if c.opt != nil {
					opts = append(opts, c.opt)
				}
				sameOrders(t, "index "+c.name, collect(t, store.Query(ctx, Order{Status: "open"}, opts...)), where(open, c.keep))
			}
			sameOrders(t, "local index", collect(t, store.Query(ctx, Order{Customer: "c"},
				dynacrypt.UsingIndex("by-placed"), dynacrypt.SortKeyBeginsWith("2026-00"), dynacrypt.ConsistentRead())),
				where(orders, func(o *Order) bool { return strings.HasPrefix(o.Placed, "2026-00") }))

			sameOrders(t, "filter", collect(t, store.Query(ctx, Order{Customer: "c"}, dynacrypt.ConsistentRead(),
				dynacrypt.Filter(expression.Name("status").Equal(expression.Value("closed"))))),
				where(orders, func(o *Order) bool { return o.Status == "closed" }))
			sameOrders(t, "limit", collect(t, store.Query(ctx, Order{Customer: "c"}, dynacrypt.ConsistentRead(), dynacrypt.Limit(7), dynacrypt.PageSize(3))),
				orders[:min(7, n)])

			scanned := collect(t, store.Scan(ctx, dynacrypt.ConsistentRead(), dynacrypt.Parallel(4)))
			scanned = where(scanned, func(o *Order) bool { return o.Customer == "c" })
			slices.SortFunc(scanned, func(a, b *Order) int { return a.Seq - b.Seq })
			sameOrders(t, "parallel scan", scanned, orders)
		})
	}
}

func TestQueryPages(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 99, 100, 101, 2500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			store, orders := newOrders(t, n)
			open := where(orders, func(o *Order) bool { return o.Status == "open" })
			for size := 1; size <= 7; size++ {
				got := allPages(t, size, func(cursor string) (*dynacrypt.Page[Order], error) {
					return store.QueryPage(ctx, Order{Customer: "c"}, cursor, size, dynacrypt.ConsistentRead())
				})
				sameOrders(t, fmt.Sprintf("table pages of %d", size), got, orders)
				got = allPages(t, size, func(cursor string) (*dynacrypt.Page[Order], error) {
					return store.QueryPage(ctx, Order{Status: "open"}, cursor, size, dynacrypt.UsingIndex("by-status"))
				})
				sameOrders(t, fmt.Sprintf("index pages of %d", size), got, open)
			}
		})
	}
}

// allPages follows cursors from the first page to the last, and checks that
// only the last page is short and that no empty page follows a full one
// (without a filter, the Store knows where the listing ends).
func allPages(t *testing.T, size int, next func(cursor string) (*dynacrypt.Page[Order], error)) []*Order {
	t.Helper()
	var got []*Order
	cursor := ""
	for pages := 1; ; pages++ {
		page, err := next(cursor)
		if err != nil {
			t.Fatalf("size %d page %d: %v", size, pages, err)
		}
		if len(page.Items) > size {
			t.Fatalf("size %d: a page of %d items", size, len(page.Items))
		}
		if page.Next != "" && len(page.Items) < size {
			t.Fatalf("size %d: a short page of %d items before the end", size, len(page.Items))
		}
		if len(page.Items) == 0 && pages > 1 {
			t.Fatalf("size %d: page %d is empty: the page before should have ended the listing", size, pages)
		}
		got = append(got, page.Items...)
		if page.Next == "" {
			return got
		}
		cursor = page.Next
	}
}

func TestCursorTampering(t *testing.T) {
	ctx := context.Background()
	// Each edit below is a new invalid cursor: let them all reach the
	// Cipher (TestForgedKeys covers floods of them).
	store, orders := newOrders(t, 20, dynacrypt.WithUnwrapLimit(1000, time.Second))
	page, err := store.QueryPage(ctx, Order{Customer: "c"}, "", 5, dynacrypt.ConsistentRead())
	if err != nil || page.Next == "" {
		t.Fatalf("first page: %v, next %q", err, page.Next)
	}
	if strings.Contains(page.Next, "card") {
		t.Error("cursor shows item data")
	}
	second, err := store.QueryPage(ctx, Order{Customer: "c"}, page.Next, 5, dynacrypt.ConsistentRead())
	if err != nil {
		t.Fatal(err)
	}
	sameOrders(t, "second page", second.Items, orders[5:10])

	edits := map[string]string{"truncated": page.Next[:len(page.Next)-3], "garbage": "not a cursor", "empty-ish": "AA"}
	for i := 0; i < len(page.Next); i += 7 {
		c := []byte(page.Next)
		if c[i] == 'A' {
			c[i] = 'B'
		} else {
			c[i] = 'A'
		}
		edits[fmt.Sprintf("char %d", i)] = string(c)
	}
	for name, c := range edits {
		if _, err := store.QueryPage(ctx, Order{Customer: "c"}, c, 5); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Errorf("%s: %v, want ErrInvalidCursor", name, err)
		}
	}
	// A valid cursor used for another query.
	for name, q := range map[string]func() error{
		"other partition": func() error {
			_, err := store.QueryPage(ctx, Order{Customer: "other"}, page.Next, 5)
			return err
		},
		"other condition": func() error {
			_, err := store.QueryPage(ctx, Order{Customer: "c"}, page.Next, 5, dynacrypt.SortKeyGreaterThan(1))
			return err
		},
		"descending": func() error {
			_, err := store.QueryPage(ctx, Order{Customer: "c"}, page.Next, 5, dynacrypt.Descending())
			return err
		},
		"scan": func() error { _, err := store.ScanPage(ctx, page.Next, 5); return err },
	} {
		if err := q(); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Errorf("cursor reused for %s: %v, want ErrInvalidCursor", name, err)
		}
	}
}

func TestScanPagesAndSegments(t *testing.T) {
	ctx := context.Background()
	store, orders := newOrders(t, 57)
	seen := map[string]int{}
	for seg := 0; seg < 3; seg++ {
		cursor := ""
		for {
			page, err := store.ScanPage(ctx, cursor, 4, dynacrypt.Segment(seg, 3), dynacrypt.ConsistentRead())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Items {
				seen[fmt.Sprintf("%s/%d", o.Customer, o.Seq)]++
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
	}
	if len(seen) != len(orders)+1 {
		t.Errorf("segments saw %d distinct items, want %d", len(seen), len(orders)+1)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", k, n)
		}
	}
	if got := collect(t, store.Scan(ctx, dynacrypt.Limit(10), dynacrypt.Parallel(3))); len(got) != 10 {
		t.Errorf("parallel scan with limit 10: %d items", len(got))
	}
}

func TestQueryRejects(t *testing.T) {
	ctx := context.Background()
	store, _ := newOrders(t, 3)
	for name, seq := range map[string]func(func(*Order, error) bool){
		"filter on encrypted": store.Query(ctx, Order{Customer: "c"}, dynacrypt.Filter(expression.Name("card").Equal(expression.Value("x")))),
		"undeclared index":    store.Query(ctx, Order{Customer: "c"}, dynacrypt.UsingIndex("nope")),
		"empty partition":     store.Query(ctx, Order{}),
		"segment on query":    store.Query(ctx, Order{Customer: "c"}, dynacrypt.Segment(0, 2)),
		"descending scan":     store.Scan(ctx, dynacrypt.Descending()),
		"bad segment":         store.Scan(ctx, dynacrypt.Segment(3, 2)),
	} {
		var errs []error
		for _, err := range seq {
			errs = append(errs, err)
		}
		if len(errs) != 1 || errs[0] == nil || !strings.Contains(errs[0].Error(), store.Table()) {
			t.Errorf("%s: yielded %v, want one error naming the table", name, errs)
		}
	}
}

// countingDB counts the Query requests sent through it.
type countingDB struct {
	dynacrypt.DB
	queries atomic.Int64
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	return c.DB.Query(ctx, in, opts...)
}

// TestQueryStopsFetching checks that breaking out of the loop stops paging.
func TestQueryStopsFetching(t *testing.T) {
	ctx := context.Background()
	store, _ := newOrders(t, 30)
	db := &countingDB{DB: testrig.DynamoDB(t)}
	counted := mustNew[Order](t, db, store.Table(), orderOptions(ordersCipher())...)
	n := 0
	for _, err := range counted.Query(ctx, Order{Customer: "c"}, dynacrypt.PageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if q := db.queries.Load(); n != 3 || q != 2 {
		t.Fatalf("3 items at 2 per page took %d loop runs and %d requests, want 3 and 2", n, q)
	}
}

// TestFreshReaderDecrypts: a new Store reading items written under several
// root keys unwraps each root key once.
func TestFreshReaderDecrypts(t *testing.T) {
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, orderTable)
	writer := mustNew[Order](t, db, table, orderOptions(ordersCipher(), dynacrypt.WithRootKeyMaxItems(100))...)
	parallel(t, 1000, func(i int) error { return writer.Put(ctx, order("c", i)) })

	roots := map[string]bool{}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range out.Items {
		h := raw[hdr].(*types.AttributeValueMemberB).Value
		roots[string(h[20:len(h)-32])] = true
	}
	if len(roots) < 10 || out.LastEvaluatedKey != nil {
		t.Fatalf("%d distinct root keys in one scan page, want at least 10 and the whole table", len(roots))
	}

	fake := ordersCipher()
	reader := mustNew[Order](t, db, table, orderOptions(fake)...)
	got := collect(t, reader.Query(ctx, Order{Customer: "c"}, dynacrypt.ConsistentRead()))
	if len(got) != 1000 {
		t.Fatalf("%d items", len(got))
	}
	if d := fake.Decrypts(); d > int64(len(roots)) {
		t.Errorf("reading 1000 items under %d root keys made %d Decrypt calls", len(roots), d)
	}
	t.Logf("1000 items, %d root keys: %d Decrypt calls", len(roots), fake.Decrypts())
}
