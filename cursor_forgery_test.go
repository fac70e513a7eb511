package dynacrypt_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// A page cursor comes back from an API client, who may have edited it: it
// carries the wrapped root key it was sealed under, an expiry, the start key
// and an HMAC over them and the query it belongs to. These tests forge
// cursors as such a client does, and check that each is refused as
// ErrInvalidCursor (or ErrUnwrapLimited, to retry), at a KMS cost the
// unwrap limit bounds, without stopping the reading of items.

// TestForgedCursorsWithGenuineWrappedKeysCostTheBurst: an API client
// collects the distinct wrapped root keys of the cursors it is handed (a
// new root key every 5 minutes or 100,000 writes, per process; here more
// than the key cache holds) and sends them back in cursors with a broken
// HMAC. Each unwrap succeeds and only the HMAC fails after it, so the
// unwrap's place in the cursors' limit is kept until the cursor is checked:
// 2,200 such cursors cost at most the unwrap limit's worth of KMS requests,
// not one per distinct key.
func TestForgedCursorsWithGenuineWrappedKeysCostTheBurst(t *testing.T) {
	const k = dynacrypt.DefaultKeyCacheSize + 100
	ctx := context.Background()
	db, table := usersTable(t)
	forged := forgedCursorsOfGenuineKeys(t, db, table, 3, k)
	distinct := map[string]bool{}
	for _, c := range forged {
		distinct[string(wrappedKey(decodeCursor(t, c)))] = true
	}

	client, requests := testrig.KMS(t)
	victim := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	if _, err := victim.Get(ctx, User{ID: userID(0)}); err != nil {
		t.Fatal(err)
	}
	before := requests.Requests()
	for pass := 0; pass < 2; pass++ {
		parallel(t, k, func(i int) error {
			_, err := victim.ScanPage(ctx, forged[i], 1)
			if !errors.Is(err, dynacrypt.ErrInvalidCursor) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
				return fmt.Errorf("forged cursor: %v", err)
			}
			return nil
		})
	}
	cost := requests.Requests() - before
	t.Logf("%d forged cursors over %d distinct genuine wrapped keys: %d KMS requests", 2*k, len(distinct), cost)
	if cost > forgeryKMSBound {
		t.Errorf("%d forged cursors (genuine wrapped keys, bad HMAC) cost %d KMS requests, want at most %d", 2*k, cost, forgeryKMSBound)
	}
}

// TestConcurrentForgedCursorsCostTheBurst: a forged cursor carrying a
// genuine, uncached wrapped key unwraps, and is found forged only once its
// HMAC is checked. An API client holding 1,000 genuine wrapped keys
// (harvested from the cursors of many instances, or of one over time) sends
// them all at once, three times. The unwrap's place in the limit stays held
// until the cursor is checked (keyring.Hold), so no waiting forger takes it
// meanwhile: each flood costs the burst of KMS requests (and one more per
// refill period the run took), whatever the interleaving. Unit-level test:
// internal/keyring TestGenuineKeyInForgeryHoldsItsPlace.
func TestConcurrentForgedCursorsCostTheBurst(t *testing.T) {
	const k = 1000
	ctx := context.Background()
	db, table := usersTable(t)
	forged := forgedCursorsOfGenuineKeys(t, db, table, 2, k)
	for round := 0; round < 3; round++ {
		client, requests := testrig.KMS(t)
		victim := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
		if _, err := victim.Get(ctx, User{ID: userID(0)}); err != nil {
			t.Fatal(err)
		}
		before, began := requests.Requests(), time.Now()
		var wg sync.WaitGroup
		var odd atomic.Int64
		start := make(chan struct{})
		for i := 0; i < k; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := victim.ScanPage(ctx, forged[i], 1)
				if !errors.Is(err, dynacrypt.ErrInvalidCursor) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
					odd.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		cost := requests.Requests() - before
		// A slow machine may take longer than a refill period: each
		// place that came back meanwhile allows one more request.
		bound := forgeryKMSBound + int64(time.Since(began)/dynacrypt.DefaultUnwrapRefill)
		t.Logf("round %d: %d forged cursors at once, each with its own genuine wrapped key: %d KMS requests in %v (%d odd outcomes)", round, k, cost, time.Since(began).Round(time.Millisecond), odd.Load())
		if odd.Load() > 0 {
			t.Errorf("%d forged cursors not refused as invalid or limited", odd.Load())
		}
		if cost > bound {
			t.Errorf("%d concurrent forged cursors cost %d KMS requests, want at most %d (burst %d and refills): an unwrap's place was given back before its cursor was checked", k, cost, bound, dynacrypt.DefaultUnwrapBurst)
		}
	}
}

// TestRedatedExpiredCursorRefused: an API client moves the expiry of an
// expired cursor forward, to use it again. The expiry is read before the
// root key is unwrapped but authenticated by the HMAC checked after, so the
// re-dated cursor is refused as ErrInvalidCursor at the cost of that one
// unwrap, which is charged to the cursors' limit like any forged cursor's
// (TestForgedCursorsWithGenuineWrappedKeysCostTheBurst).
func TestRedatedExpiredCursorRefused(t *testing.T) {
	ctx := context.Background()
	db, table, _ := kmsUsers(t, 3)
	client, requests := testrig.KMS(t)
	brief := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)), dynacrypt.WithCursorTTL(time.Millisecond))
	page, err := brief.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	time.Sleep(5 * time.Millisecond)
	b := decodeCursor(t, page.Next)
	n := len(wrappedKey(b))
	binary.BigEndian.PutUint64(b[20+n:], uint64(time.Now().Add(time.Hour).Unix()))

	client2, requests2 := testrig.KMS(t)
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client2, testrig.KeyA)))
	before := requests2.Requests()
	_, err = fresh.ScanPage(ctx, page.Next, 1)
	expiredCost := requests2.Requests() - before
	before = requests2.Requests()
	_, err2 := fresh.ScanPage(ctx, encodeCursor(b), 1)
	redatedCost := requests2.Requests() - before
	_ = requests
	t.Logf("expired cursor: %v, %d KMS requests; re-dated: %v, %d KMS requests", err, expiredCost, err2, redatedCost)
	if !errors.Is(err2, dynacrypt.ErrInvalidCursor) {
		t.Errorf("re-dated expired cursor accepted: %v", err2)
	}
	// The expiry is authenticated with the cursor, after the unwrap: a
	// re-dated cursor costs that unwrap, and is charged to the cursors'
	// limit like any forged one (TestForgedCursorsWithGenuineWrappedKeysCostTheBurst).
	if redatedCost > 1 {
		t.Errorf("an expired cursor with its expiry edited made %d KMS requests, want at most 1", redatedCost)
	}
}

// TestCursorFloodLeavesItemReadsWorking: any API client can spend the
// cursors' unwrap limit with forged cursors, and keep it spent with one per
// refill (a documented limitation). Meanwhile a valid cursor whose root key
// this process does not hold is refused with ErrUnwrapLimited, to retry,
// never mistaken for an invalid one; item reads, which have a limit of
// their own, go on working, and so do cursors whose root key the process
// then holds.
func TestCursorFloodLeavesItemReadsWorking(t *testing.T) {
	ctx := context.Background()
	db, table, issuer := kmsUsers(t, 3)
	legit, err := issuer.ScanPage(ctx, "", 1)
	if err != nil || legit.Next == "" {
		t.Fatal(legit, err)
	}
	raw := decodeCursor(t, legit.Next)

	client, _ := testrig.KMS(t)
	// Another instance of the service, behind the same load balancer.
	other := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	for i := 0; i < dynacrypt.DefaultUnwrapBurst; i++ {
		if _, err := other.ScanPage(ctx, encodeCursor(forgeWrapped(t, raw)), 1); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Fatalf("forged cursor %d: %v", i, err)
		}
	}
	if _, err := other.ScanPage(ctx, legit.Next, 1); !errors.Is(err, dynacrypt.ErrUnwrapLimited) || errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Errorf("valid cursor of another process during the flood: %v, want ErrUnwrapLimited only", err)
	}
	// Item reads have their own limit: they unwrap the issuer's root key...
	for i := 0; i < 3; i++ {
		if u, err := other.Get(ctx, User{ID: userID(i)}); err != nil || u.Token == "" {
			t.Errorf("item read during the flood: %+v, %v", u, err)
		}
	}
	// ...which then serves its cursors too.
	if _, err := other.ScanPage(ctx, legit.Next, 1); err != nil {
		t.Errorf("valid cursor whose root key is now held, during the flood: %v", err)
	}
}

// slowCipher is an AESCipher whose Decrypt takes as long as a KMS call
// might.
type slowCipher struct {
	*dynacrypt.AESCipher
	delay time.Duration
}

func (c slowCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	time.Sleep(c.delay)
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// TestCursorFloodNeverFailsItemReadOfSameRootKey: an API client whose forged
// cursors have spent the cursors' unwrap limit sends a cursor carrying the
// wrapped root key of recent items (a process seals cursors and items under
// one root key) just as a valid read of one of those items needs the same
// unwrap. Concurrent unwraps of one wrapped key are shared only within a
// source (one flight per source), so the item read never waits on the
// cursor's spent limit: it succeeds, and is never ErrUnwrapLimited.
func TestCursorFloodNeverFailsItemReadOfSameRootKey(t *testing.T) {
	const delay = 400 * time.Millisecond
	ctx := context.Background()
	db, table := usersTable(t)
	aes := newAES(t)
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(aes))
	for i := 0; i < 3; i++ {
		if err := writer.Put(ctx, &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := writer.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	cur := decodeCursor(t, page.Next)
	if string(wrappedKey(cur)) != string(wrappedKey(headerOf(t, rawGet(t, db, table, userID(0))))) {
		t.Fatal("cursor and item under different root keys")
	}
	sameRoot := append([]byte(nil), cur...)
	sameRoot[len(sameRoot)-1] ^= 1 // genuine root key, broken HMAC

	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(slowCipher{aes, delay}))
	for i := 0; i < dynacrypt.DefaultUnwrapBurst-1; i++ {
		reader.ScanPage(ctx, encodeCursor(forgeWrapped(t, cur)), 1)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the last place, held for one Decrypt
		defer wg.Done()
		reader.ScanPage(ctx, encodeCursor(forgeWrapped(t, cur)), 1)
	}()
	time.Sleep(delay / 4)
	go func() { // the item's root key, from the Cursors source: waits for a place
		defer wg.Done()
		reader.ScanPage(ctx, encodeCursor(sameRoot), 1)
	}()
	time.Sleep(delay / 4)
	_, err = reader.Get(ctx, User{ID: userID(0)}) // a valid item read, Items source
	wg.Wait()
	t.Logf("valid item read while a forged cursor carried its root key: %v", err)
	if errors.Is(err, dynacrypt.ErrUnwrapLimited) {
		t.Errorf("forged cursors made a valid item read fail with ErrUnwrapLimited: %v", err)
	} else if err != nil {
		t.Errorf("valid item read: %v", err)
	}
}

// TestForgedCursorsNeverMarkGenuineRootKeyFailed: an API client sends
// cursors carrying the genuine wrapped root key of items with the rest
// broken (HMAC flipped, a byte cut, a Scan's cursor sent to a Query), to
// make the process remember that root key as failed and refuse the items.
// A genuine root key unwraps the same way for cursors and items, so only
// the cursor is refused (ErrInvalidCursor): the items stay readable in the
// same fresh process.
func TestForgedCursorsNeverMarkGenuineRootKeyFailed(t *testing.T) {
	ctx := context.Background()
	db, table, users := kmsUsers(t, 3)
	page, err := users.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	client, _ := testrig.KMS(t)
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	b := decodeCursor(t, page.Next)
	broken := append([]byte(nil), b...)
	broken[len(broken)-1] ^= 1
	truncated := append(append([]byte(nil), b[:len(b)-33]...), b[len(b)-32:]...)
	for name, c := range map[string]string{"broken HMAC": encodeCursor(broken), "truncated": encodeCursor(truncated)} {
		if _, err := fresh.ScanPage(ctx, c, 1); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Errorf("%s cursor: %v", name, err)
		}
	}
	if _, err := fresh.QueryPage(ctx, User{ID: userID(0)}, page.Next, 1); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
		t.Errorf("cursor of a Scan sent to a Query: %v", err)
	}
	for i := 0; i < 3; i++ {
		if u, err := fresh.Get(ctx, User{ID: userID(i)}); err != nil || u.Token != "token-"+userID(i) {
			t.Errorf("genuine item %s after forged cursors carrying its root key: %+v, %v; want it read", userID(i), u, err)
		}
	}
}

// TestCursorBoundToItsQuery: an API client sends a cursor with another
// filter, segment, operation or table than it was made for, edits its start
// key or expiry (keeping the genuine wrapped key), or re-encodes it
// (padding, another base64 alphabet, a character more). The HMAC covers the
// query and the cursor's bytes, and the encoding is checked strictly: each
// is ErrInvalidCursor.
func TestCursorBoundToItsQuery(t *testing.T) {
	ctx := context.Background()
	db, table, users := kmsUsers(t, 6)
	fa := dynacrypt.Filter(expression.Name("username").Equal(expression.Value("u")))
	fb := dynacrypt.Filter(expression.Name("username").Equal(expression.Value("v")))
	pa, err := users.ScanPage(ctx, "", 1, fa)
	if err != nil || pa.Next == "" {
		t.Fatal(pa, err)
	}
	plain, err := users.ScanPage(ctx, "", 1)
	if err != nil || plain.Next == "" {
		t.Fatal(plain, err)
	}
	seg, err := users.ScanPage(ctx, "", 1, dynacrypt.Segment(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, p *dynacrypt.Page[User], err error) {
		t.Helper()
		if !errors.Is(err, dynacrypt.ErrInvalidCursor) {
			t.Errorf("%s: %v, %v; want ErrInvalidCursor", name, p, err)
		}
	}
	p, err := users.ScanPage(ctx, pa.Next, 1, fb)
	check("cursor of filter A used with filter B", p, err)
	p, err = users.ScanPage(ctx, plain.Next, 1, fa)
	check("unfiltered cursor used with a filter", p, err)
	if seg.Next != "" {
		p, err = users.ScanPage(ctx, seg.Next, 1, dynacrypt.Segment(1, 2))
		check("segment 0 cursor used for segment 1", p, err)
	}
	p, err = users.QueryPage(ctx, User{ID: userID(0)}, plain.Next, 1)
	check("Scan cursor used for a Query", p, err)
	b := decodeCursor(t, plain.Next)
	n := len(wrappedKey(b))
	redated := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(redated[20+n:], uint64(time.Now().Add(1000*time.Hour).Unix()))
	p, err = users.ScanPage(ctx, encodeCursor(redated), 1)
	check("expiry extended", p, err)
	startEdited := append([]byte(nil), b...)
	startEdited[len(startEdited)-33] ^= 1
	p, err = users.ScanPage(ctx, encodeCursor(startEdited), 1)
	check("start key edited", p, err)
	p, err = users.ScanPage(ctx, base64.URLEncoding.EncodeToString(b), 1)
	check("padded base64", p, err)
	p, err = users.ScanPage(ctx, base64.RawStdEncoding.EncodeToString(b), 1)
	if strings.ContainsAny(base64.RawStdEncoding.EncodeToString(b), "+/") {
		check("standard base64 alphabet", p, err)
	}
	p, err = users.ScanPage(ctx, plain.Next+"A", 1)
	check("one more character", p, err)
	// Another table, same Cipher and key: the context differs.
	_, table2 := usersTable(t)
	otherClient, _ := testrig.KMS(t)
	other := mustNew[User](t, db, table2, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(otherClient, testrig.KeyA)))
	p, err = other.ScanPage(ctx, plain.Next, 1)
	check("cursor of another table", p, err)
	_ = table
}

// TestCursorRelabelledAsSuite2Refused: a page cursor has suite 1's layout
// whatever suite items are written in. An API client relabels a cursor as
// suite 2 (12-byte random field), builds one from a suite-2 item header's
// signed part, or flips its suite byte: each is refused as ErrInvalidCursor
// (or ErrUnwrapLimited), at a KMS cost within the unwrap limit's burst.
func TestCursorRelabelledAsSuite2Refused(t *testing.T) {
	ctx := context.Background()
	db, table, users := kmsUsers(t, 3)
	page, err := users.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatalf("ScanPage: %v, %q", err, page.Next)
	}
	c := decodeCursor(t, page.Next)
	h := headerOf(t, rawGet(t, db, table, userID(0)))
	if h[1] != 2 {
		t.Fatalf("item header suite %d, want 2 (the default)", h[1])
	}
	// Suite 2's layout around the cursor's own wrapped key, expiry, start
	// key and HMAC: the random field cut to 12 bytes.
	relabel := append([]byte{1, 2}, c[2:14]...)
	relabel = append(relabel, c[18:]...)
	// A suite-2 item header's signed part, then the cursor's expiry, start
	// key and MAC.
	wrappedEnd := 18 + 2 + int(binary.BigEndian.Uint16(c[18:]))
	fromItem := append(append([]byte(nil), h[:len(h)-16]...), c[wrappedEnd:]...)
	// Suite byte flipped only (parses with a shifted length).
	flipped := append([]byte(nil), c...)
	flipped[1] = 2
	client, requests := testrig.KMS(t)
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	for name, b := range map[string][]byte{"relabelled": relabel, "from an item header": fromItem, "suite byte flipped": flipped} {
		got, err := reader.ScanPage(ctx, encodeCursor(b), 1)
		if !errors.Is(err, dynacrypt.ErrInvalidCursor) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			t.Errorf("cursor %s: %v, %v; want ErrInvalidCursor or ErrUnwrapLimited", name, got, err)
		}
	}
	t.Logf("3 forged cursors: %d KMS requests", requests.Requests())
	if requests.Requests() > 2*dynacrypt.DefaultUnwrapBurst {
		t.Errorf("3 forged cursors cost %d KMS requests, want at most %d", requests.Requests(), 2*dynacrypt.DefaultUnwrapBurst)
	}
}

// forgedCursorsOfGenuineKeys puts users users in table and returns k
// cursors of ScanPage over them, each with a genuine wrapped root key of
// its own and a broken HMAC. The issuer stands for the service over time
// (or its many processes): every cursor it hands out is sealed under a
// root key of its own.
func forgedCursorsOfGenuineKeys(t *testing.T, db *dynamodb.Client, table string, users, k int) []string {
	t.Helper()
	ctx := context.Background()
	issuerClient, _ := testrig.KMS(t)
	issuer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(issuerClient, testrig.KeyA)), dynacrypt.WithRootKeyMaxItems(1))
	for i := 0; i < users; i++ {
		if err := issuer.Put(ctx, &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	forged := make([]string, k)
	parallel(t, k, func(i int) error {
		p, err := issuer.ScanPage(ctx, "", 1)
		if err != nil {
			return err
		}
		b := decodeCursor(t, p.Next)
		b[len(b)-1] ^= 1 // break the HMAC
		forged[i] = encodeCursor(b)
		return nil
	})
	return forged
}
