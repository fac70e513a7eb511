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

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestForgedCursorsWithGenuineWrappedKeysCostTheBurst (claim 4). A cursor carries
// the wrapped root key it was sealed under; an API client collects the
// distinct ones it is handed (a new root key every 5 minutes or 100,000
// writes, per process) and sends them back in cursors with a broken HMAC.
// Each unwrap succeeds, so neither the failure cache nor the limiter is
// charged; the HMAC fails afterwards. Cost: one KMS Decrypt per distinct key
// per cache lifetime, and once the client holds more keys than the cache
// (1,000 by default), one per forged cursor, without bound.
func TestForgedCursorsWithGenuineWrappedKeysCostTheBurst(t *testing.T) {
	const k = dynacrypt.DefaultKeyCacheSize + 100
	ctx := context.Background()
	db, table := usersTable(t)
	issuerClient, _ := testrig.KMS(t)
	// Stands for the service over time (or its many processes): every
	// cursor it hands out is sealed under a root key of its own.
	issuer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(issuerClient, testrig.KeyA)), dynacrypt.WithRootKeyMaxItems(1))
	for i := 0; i < 3; i++ {
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
		t.Errorf("HOLE: %d forged cursors (genuine wrapped keys, bad HMAC) cost %d KMS requests, want at most %d", 2*k, cost, forgeryKMSBound)
	}
}

// TestConcurrentForgedCursorsCostTheBurst (KMS cost). A forged cursor carrying a
// genuine, uncached wrapped key unwraps, and is found forged only once its
// HMAC is checked. An API client holding many genuine wrapped keys
// (harvested from the cursors of many instances, or of one over time; here
// 1,000, as the first red team did) sends them at once. The unwrap's place
// in the limit stays held until the cursor is checked (keyring.Hold), so
// the flood costs the burst of KMS requests, whatever the interleaving;
// when the place was given back at the unwrap and charged after the check,
// waiting forgers took it meanwhile, more so on a loaded machine. Unit-level
// proof: internal/keyring TestGenuineKeyInForgeryHoldsItsPlace.
func TestConcurrentForgedCursorsCostTheBurst(t *testing.T) {
	const k = 1000
	ctx := context.Background()
	db, table := usersTable(t)
	issuerClient, _ := testrig.KMS(t)
	issuer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(issuerClient, testrig.KeyA)), dynacrypt.WithRootKeyMaxItems(1))
	for i := 0; i < 2; i++ {
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
		b[len(b)-1] ^= 1 // genuine wrapped key, broken HMAC
		forged[i] = encodeCursor(b)
		return nil
	})
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
			t.Errorf("HOLE (KMS cost): %d concurrent forged cursors cost %d KMS requests, want at most %d (burst %d): charges made while no place was free were dropped", k, cost, bound, dynacrypt.DefaultUnwrapBurst)
		}
	}
}

// TestRedatedExpiredCursorRefused (claims 4, cursor expiry). The expiry is
// read before the root key is unwrapped, but it is only authenticated by the
// HMAC checked after: an expired cursor with its expiry bytes moved forward
// costs a KMS request (and is then refused). So the wrapped keys of expired
// cursors stay usable for the replay above: the harvest window has no end.
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

// TestCursorFloodLeavesItemReadsWorking: any API client can spend the cursors' limit with
// forged cursors, and keep it spent with one per refill. A known limitation
// (README, Security model): meanwhile a valid cursor whose root key this
// process does not hold is refused with ErrUnwrapLimited, to retry, never
// mistaken for an invalid one; cursors whose root key it holds, and every
// item read, go on working.
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

// TestCursorFloodNeverFailsItemReadOfSameRootKey (claim 4, keyring.Source: "API
// clients forging cursors cannot stop the reading of items"). Unwraps are
// shared per wrapped key (singleflight) whatever their source, and the
// flight runs under the limiter of the caller that started it. A client
// whose forged cursors have spent the Cursors limiter sends a cursor
// carrying the root key of recent items (the same process seals cursors and
// items under one root key) while another process reads one of those
// items: the item read joins the cursor's flight and fails with
// ErrUnwrapLimited, although the Items limiter was never touched.
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
		t.Errorf("HOLE (DoS, race): forged cursors made a valid item read fail with ErrUnwrapLimited: %v", err)
	} else if err != nil {
		t.Errorf("valid item read: %v", err)
	}
}

// TestForgedCursorsNeverMarkGenuineRootKeyFailed: a cursor can carry any
// bytes as its wrapped key, but a genuine root key unwraps the same way for
// cursors and items, so it can never be remembered as failed: forged cursors
// with the genuine wrapped key of items (HMAC broken, expiry edited, start
// key changed, sent to another query) leave those items readable in a fresh
// process.
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
			t.Errorf("HOLE: genuine item %s after forged cursors carrying its root key: %+v, %v", userID(i), u, err)
		}
	}
}

// TestCursorBoundToItsQuery (claims 4): cursors for another filter, segment,
// operation, table or query, edited start keys or expiries with the genuine
// key, and re-encodings, are all ErrInvalidCursor.
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

// TestCursorRelabelledAsSuite2Refused: a page cursor is still suite 1's
// construction; cursors relabelled to suite 2 (12-byte random field) or
// made from a suite-2 item header's signed part are refused as invalid
// cursors, at the limiter's bounded cost.
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
			t.Errorf("ATTACK WORKS: cursor %s: %v, %v", name, got, err)
		}
	}
	t.Logf("3 forged cursors: %d KMS requests", requests.Requests())
	if requests.Requests() > 2*dynacrypt.DefaultUnwrapBurst {
		t.Errorf("KMS cost: %d requests", requests.Requests())
	}
}
