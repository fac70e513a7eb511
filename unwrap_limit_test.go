package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Refusing bad input must not cost a KMS request each: someone who writes
// the table, an export file or a cursor can forge as many wrapped root keys
// as they like, or paste genuine ones into forgeries. The unwrap limit
// (WithUnwrapLimit) bounds the key service requests such forgeries cause,
// per source; these tests check that every way to a refusal after an
// unwrap is charged to it. The cursor_forgery tests cover cursors.

// TestUnwrapLimitCountsKMSRequests: a KMSCipher configured by aliases it has
// not resolved tries a forged wrapped key under each of them, one KMS
// request per alias. The unwrap limit bounds KMS requests, not Cipher calls,
// so 100 forged headers cost the limit's burst whatever the number of
// aliases, and every forgery is refused.
func TestUnwrapLimitCountsKMSRequests(t *testing.T) {
	db, table, _ := kmsUsers(t, 1)
	genuine := rawGet(t, db, table, userID(0))
	const forged = 100
	header := headerOf(t, genuine)
	for i := range forged {
		f := cloneItem(genuine)
		f["id"] = &types.AttributeValueMemberS{Value: fmt.Sprint("forged-", i)}
		// Format 2 with a key reference no configured key has, and the
		// genuine blob with its last byte changed, which KMS rejects.
		wrapped := append([]byte(nil), wrappedKey(header)...)
		copy(wrapped[1:5], randomBytes(t, 4))
		wrapped[len(wrapped)-1] ^= byte(1 + i%255)
		f[hdr] = &types.AttributeValueMemberB{Value: withWrappedKey(header, wrapped)}
		rawPut(t, db, table, f)
	}
	aliases := []string{testrig.KeyA, testrig.KeyB, testrig.AliasARN(testrig.KeyA), testrig.AliasARN(testrig.KeyB)}
	for n := 1; n <= len(aliases); n++ {
		t.Run(fmt.Sprintf("%d aliases", n), func(t *testing.T) {
			client, counter := testrig.KMS(t)
			cipher := dynacrypt.NewKMSCipher(client, aliases[0]).WithPreviousKeys(aliases[1:n]...)
			reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
			for i := range forged {
				_, err := reader.Get(context.Background(), User{ID: fmt.Sprint("forged-", i)})
				if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
					t.Fatalf("forged header %d: %v, want ErrIntegrity or ErrUnwrapLimited", i, err)
				}
			}
			t.Logf("%d forged headers, %d aliases not resolved: %d KMS requests", forged, n, counter.Requests())
			if got := counter.Requests(); got > dynacrypt.DefaultUnwrapBurst {
				t.Errorf("%d forged headers cost %d KMS requests with %d aliases, want at most the burst, %d", forged, got, n, dynacrypt.DefaultUnwrapBurst)
			}
		})
	}
}

// TestUnwrapUnderLaterAliasWithinLimit: a genuine item under the last of
// several aliases not resolved yet reads (one place per KMS request, given
// back on success), and later items under it take one request each.
func TestUnwrapUnderLaterAliasWithinLimit(t *testing.T) {
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyB)), dynacrypt.WithRootKeyMaxItems(1))
	for i := range 2 * dynacrypt.DefaultUnwrapBurst {
		if err := writer.Put(context.Background(), &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	readerClient, counter := testrig.KMS(t)
	cipher := dynacrypt.NewKMSCipher(readerClient, testrig.AliasARN(testrig.KeyA)).WithPreviousKeys(testrig.KeyA, testrig.KeyB)
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	for i := range 2 * dynacrypt.DefaultUnwrapBurst {
		if _, err := reader.Get(context.Background(), User{ID: userID(i)}); err != nil {
			t.Fatalf("item %d under the third alias: %v", i, err)
		}
	}
	if got, want := counter.Requests(), int64(2+2*dynacrypt.DefaultUnwrapBurst); got != want {
		t.Errorf("%d KMS requests, want %d (two rejections while the alias was not resolved, then one per root key)", got, want)
	}
}

// TestOversizedWrappedKeyChargedToUnwrapLimit: the header and cursor
// formats allow a wrapped key of 65,535 bytes, and KMS refuses a
// CiphertextBlob over 6,144 bytes with ValidationException. Someone who
// writes the table forges 200 headers, and a client one cursor replayed 200
// times, each carrying an oversized wrapped key. KMSCipher refuses a
// wrapped key longer than any KMS makes before asking KMS, as ErrIntegrity
// (the cursor as ErrInvalidCursor), and the refusal is remembered and
// charged like any other: the floods cost at most the unwrap limit's worth
// of KMS requests, not one each.
func TestOversizedWrappedKeyChargedToUnwrapLimit(t *testing.T) {
	const n = 200
	ctx := context.Background()
	db, table, users := kmsUsers(t, 3)
	page, err := users.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	genuine := rawGet(t, db, table, userID(0))
	header := headerOf(t, genuine)
	// Keep the format byte and key reference, so KMSCipher names its key;
	// pad the blob past KMS's limit.
	oversized := append(append([]byte(nil), wrappedKey(header)[:5]...), randomBytes(t, kmsValidationMax+100)...)
	for i := 0; i < n; i++ {
		forged := cloneItem(genuine)
		forged["id"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("forged-%04d", i)}
		forged[hdr] = &types.AttributeValueMemberB{Value: withWrappedKey(header, oversized)}
		rawPut(t, db, table, forged)
	}

	client, requests := testrig.KMS(t)
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	if _, err := reader.Get(ctx, User{ID: userID(0)}); err != nil {
		t.Fatal(err)
	}

	before := requests.Requests()
	var firstOdd error
	odd := 0
	for i := 0; i < n; i++ {
		_, err := reader.Get(ctx, User{ID: fmt.Sprintf("forged-%04d", i)})
		if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			odd++
			if firstOdd == nil {
				firstOdd = err
			}
		}
	}
	headerCost := requests.Requests() - before

	forgedCursor := encodeCursor(withWrappedKey(decodeCursor(t, page.Next), oversized))
	before = requests.Requests()
	var cursorErr error
	for i := 0; i < n; i++ {
		_, cursorErr = reader.ScanPage(ctx, forgedCursor, 1)
	}
	cursorCost := requests.Requests() - before

	t.Logf("%d forged headers with a %d-byte wrapped key: %d KMS requests; error: %s", n, len(oversized), headerCost, shortErr(firstOdd))
	t.Logf("one forged cursor (%d characters) sent %d times: %d KMS requests; error: %s", len(forgedCursor), n, cursorCost, shortErr(cursorErr))
	if headerCost > forgeryKMSBound {
		t.Errorf("%d forged headers with oversized wrapped keys cost %d KMS requests, want at most %d", n, headerCost, forgeryKMSBound)
	}
	if cursorCost > forgeryKMSBound {
		t.Errorf("one forged cursor with an oversized wrapped key, replayed %d times, cost %d KMS requests, want at most %d", n, cursorCost, forgeryKMSBound)
	}
	if odd > 0 {
		t.Errorf("%d of %d forged headers with oversized wrapped keys were not reported as ErrIntegrity or ErrUnwrapLimited (a KMS failure instead?): %s", odd, n, shortErr(firstOdd))
	}
	if !errors.Is(cursorErr, dynacrypt.ErrInvalidCursor) {
		t.Errorf("forged cursor not reported as ErrInvalidCursor: %s", shortErr(cursorErr))
	}
}

// TestForgedItemsChargedOnEveryReadPath: someone who writes the table
// copies genuine items under other keys, so that each forgery carries a
// genuine wrapped root key (which unwraps) and a signature that fails. Every
// read path charges such an unwrap to the unwrap limit, not only Get:
// BatchGet, Query, Scan, ScanPage, Update and the Reencrypt walk. With a
// limit of 1 and no refill, each path makes at most one Decrypt for five
// forgeries, and the walk rewrites none of them.
func TestForgedItemsChargedOnEveryReadPath(t *testing.T) {
	const n = 5
	ctx := context.Background()
	db, table := usersTable(t)
	aes := newAES(t)
	issuer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(aes), dynacrypt.WithRootKeyMaxItems(1))
	paths := []string{"Get", "BatchGet", "Query", "Scan", "ScanPage", "Update"}
	for _, p := range paths {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("%s-%d", p, i)
			if err := issuer.Put(ctx, &User{ID: "src-" + id, Token: "t"}); err != nil {
				t.Fatal(err)
			}
			raw := rawGet(t, db, table, "src-"+id)
			raw["id"] = &types.AttributeValueMemberS{Value: "forged-" + id}
			rawPut(t, db, table, raw)
		}
	}
	read := map[string]func(s *dynacrypt.Store[User], id string) error{
		"Get": func(s *dynacrypt.Store[User], id string) error { _, err := s.Get(ctx, User{ID: id}); return err },
		"BatchGet": func(s *dynacrypt.Store[User], id string) error {
			_, err := s.BatchGet(ctx, []User{{ID: id}})
			return err
		},
		"Query": func(s *dynacrypt.Store[User], id string) error {
			for _, err := range s.Query(ctx, User{ID: id}) {
				return err
			}
			return nil
		},
		"Scan": func(s *dynacrypt.Store[User], id string) error {
			for _, err := range s.Scan(ctx, dynacrypt.Filter(expression.Name("id").Equal(expression.Value(id)))) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"ScanPage": func(s *dynacrypt.Store[User], id string) error {
			_, err := s.ScanPage(ctx, "", 1000, dynacrypt.Filter(expression.Name("id").Equal(expression.Value(id))))
			return err
		},
		"Update": func(s *dynacrypt.Store[User], id string) error {
			_, err := s.Update(ctx, User{ID: id}, func(*User) error { return nil })
			return err
		},
	}
	for _, p := range paths {
		var decrypts atomic.Int64
		victim := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
			dynacrypt.WithCipher(countingCipher{aes, &decrypts}), dynacrypt.WithUnwrapLimit(1, time.Hour))
		for i := 0; i < n; i++ {
			err := read[p](victim, fmt.Sprintf("forged-%s-%d", p, i))
			if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
				t.Errorf("%s of forgery %d: %v", p, i, err)
			}
		}
		t.Logf("%s: %d forged items with genuine wrapped keys, %d Decrypts", p, n, decrypts.Load())
		if decrypts.Load() > 1 {
			t.Errorf("%s of %d forged items with genuine wrapped keys made %d Decrypts with an unwrap limit of 1, want at most 1", p, n, decrypts.Load())
		}
	}

	// The re-encryption walk, over a table of forgeries under an older KMS
	// key: it opens each one to rewrite it.
	wdb, wtable := usersTable(t)
	kmsIssuerClient, _ := testrig.KMS(t)
	old := mustNew[User](t, wdb, wtable, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsIssuerClient, testrig.KeyA)), dynacrypt.WithRootKeyMaxItems(1))
	for i := 0; i < n; i++ {
		if err := old.Put(ctx, &User{ID: userID(i), Token: "t"}); err != nil {
			t.Fatal(err)
		}
		raw := rawGet(t, wdb, wtable, userID(i))
		raw["id"] = &types.AttributeValueMemberS{Value: "forged-" + userID(i)}
		rawPut(t, wdb, wtable, raw)
		if err := old.Delete(ctx, User{ID: userID(i)}); err != nil {
			t.Fatal(err)
		}
	}
	client, requests := testrig.KMS(t)
	walker := mustNew[User](t, wdb, wtable, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyB).WithPreviousKeys(testrig.KeyA)), dynacrypt.WithUnwrapLimit(1, time.Hour))
	progress, err := walker.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("walk over %d forgeries: %+v, %v; %d KMS requests", n, progress, err, requests.Requests())
	// One Encrypt for the walk's root key, one Decrypt under the limit.
	if progress.Rewritten != 0 || requests.Requests() > 2 {
		t.Errorf("the walk over %d forged items rewrote %d and made %d KMS requests; want none rewritten and at most 2 requests", n, progress.Rewritten, requests.Requests())
	}
}

// TestNonBinaryCiphertextChargedToUnwrapLimit: someone who writes the table
// or an export file copies genuine items (each root key serves only
// WithRootKeyMaxItems items and 5 minutes, so there are many genuine
// wrapped root keys to copy) and stores an encrypted attribute as a string
// or a binary set. An encrypted attribute that is not binary is refused
// before the root key is unwrapped, and any refusal after an unwrap is
// charged to the unwrap limit, in both suites, through Items.Open and
// Store.Get alike; a key cache smaller than the number of harvested keys
// does not make the same forgeries free again. With WithUnwrapLimit(1, 1h),
// every such flood costs at most 2 Decrypts (one, and one more whose
// charge is paid late). A forgery with a flipped tag is the control.
func TestNonBinaryCiphertextChargedToUnwrapLimit(t *testing.T) {
	const n = 6
	ctx := context.Background()
	aes := newAES(t)
	forgeries := map[string]func(av map[string]types.AttributeValue){
		"token as S": func(av map[string]types.AttributeValue) { av["a"] = strAV("x") },
		"token as BS": func(av map[string]types.AttributeValue) {
			av["a"] = &types.AttributeValueMemberBS{Value: [][]byte{binOf(av["a"])}}
		},
		"tag flipped (control)": func(av map[string]types.AttributeValue) {
			h := binOf(av[hdr])
			h[len(h)-1] ^= 1
		},
	}
	for _, suite := range []dynacrypt.Suite{dynacrypt.Suite1, dynacrypt.Suite2} {
		for name, forge := range forgeries {
			// Every seal under a new root key: n distinct genuine wrapped keys.
			writer := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithRootKeyMaxItems(1), dynacrypt.WithWriteSuite(suite))
			var decrypts atomic.Int64
			reader := sealingItems(t, countingCipher{aes, &decrypts}, []string{"a", "b", "c"}, dynacrypt.WithUnwrapLimit(1, time.Hour))
			for i := 0; i < n; i++ {
				sealed := mustSeal(t, writer, secretDoc(userID(i)))
				av := cloneItem(sealed)
				forge(av)
				_, err := reader.Open(ctx, av)
				if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
					t.Errorf("suite %d, %s: %v", suite, name, err)
				}
			}
			t.Logf("suite %d, %s: %d forgeries with genuine wrapped keys, limit 1: %d Decrypts", suite, name, n, decrypts.Load())
			// Burst 1: one Decrypt, and one more whose charge is paid late
			// (keyring.Limit: twice Burst for genuine keys).
			if decrypts.Load() > 2 {
				t.Errorf("suite %d: %d forged items (%s) each with a genuine wrapped key made %d Decrypts with WithUnwrapLimit(1, 1h), want at most 2",
					suite, n, name, decrypts.Load())
			}
		}
	}

	// A few harvested keys suffice: cycled through a key cache smaller
	// than their number (DefaultKeyCacheSize is 1000), every forgery misses
	// the cache, and each costs an uncharged Decrypt again.
	{
		writer := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithRootKeyMaxItems(1))
		var forged []map[string]types.AttributeValue
		for i := 0; i < 3; i++ {
			av := cloneItem(mustSeal(t, writer, secretDoc(userID(i))))
			av["a"] = strAV("x")
			forged = append(forged, av)
		}
		var decrypts atomic.Int64
		reader := sealingItems(t, countingCipher{aes, &decrypts}, []string{"a", "b", "c"}, dynacrypt.WithUnwrapLimit(1, time.Hour), dynacrypt.WithKeyCacheSize(2))
		for round := 0; round < 10; round++ {
			for _, av := range forged {
				if _, err := reader.Open(ctx, cloneItem(av)); !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
					t.Errorf("cycled forgery: %v", err)
				}
			}
		}
		t.Logf("3 harvested wrapped keys cycled 10 times through a key cache of 2, limit 1: %d Decrypts", decrypts.Load())
		if decrypts.Load() > 2 {
			t.Errorf("30 forgeries over 3 genuine wrapped keys (key cache of 2) made %d Decrypts with WithUnwrapLimit(1, 1h), want at most 2", decrypts.Load())
		}
	}

	// The same through a Store and the table: Get of items whose encrypted
	// attribute an attacker rewrote as a string.
	db, table := usersTable(t)
	issuer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(aes), dynacrypt.WithRootKeyMaxItems(1))
	for i := 0; i < n; i++ {
		if err := issuer.Put(ctx, &User{ID: userID(i), Token: sealedSecret + "t"}); err != nil {
			t.Fatal(err)
		}
		raw := rawGet(t, db, table, userID(i))
		raw["token"] = strAV("x")
		rawPut(t, db, table, raw)
	}
	var decrypts atomic.Int64
	victim := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(countingCipher{aes, &decrypts}), dynacrypt.WithUnwrapLimit(1, time.Hour))
	for i := 0; i < n; i++ {
		got, err := victim.Get(ctx, User{ID: userID(i)})
		if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			t.Errorf("Get of forgery %d: %v, %v", i, got, err)
		}
	}
	t.Logf("Store.Get: %d forgeries (token rewritten as S), limit 1: %d Decrypts", n, decrypts.Load())
	if decrypts.Load() > 2 {
		t.Errorf("Store.Get of %d suite-2 items whose token was rewritten as a string made %d Decrypts with WithUnwrapLimit(1, 1h), want at most 2", n, decrypts.Load())
	}
}

// TestNonCanonicalPlaintextChargedToUnwrapLimit: someone who writes an
// export file (or hands Items.Open a map) copies genuine items and gives a
// plaintext attribute a value with no canonical encoding: a string set with
// a repeated member, which DynamoDB never stores. The associated data
// (suite 2) or the HMAC input (suite 1) fails to build after the root key
// is unwrapped; that refusal is charged to the unwrap limit like any other,
// so with WithUnwrapLimit(1, 1h) six such forgeries cost at most 2 Decrypts,
// in both suites.
func TestNonCanonicalPlaintextChargedToUnwrapLimit(t *testing.T) {
	const n = 6
	ctx := context.Background()
	aes := newAES(t)
	for _, suite := range []dynacrypt.Suite{dynacrypt.Suite1, dynacrypt.Suite2} {
		writer := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithRootKeyMaxItems(1), dynacrypt.WithWriteSuite(suite))
		var decrypts atomic.Int64
		reader := sealingItems(t, countingCipher{aes, &decrypts}, []string{"a", "b", "c"}, dynacrypt.WithUnwrapLimit(1, time.Hour))
		for i := 0; i < n; i++ {
			av := cloneItem(mustSeal(t, writer, secretDoc(userID(i))))
			av["note"] = &types.AttributeValueMemberSS{Value: []string{"x", "x"}}
			_, err := reader.Open(ctx, av)
			if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
				t.Errorf("suite %d: %v", suite, err)
			}
		}
		t.Logf("suite %d: %d forgeries (repeated set member) with genuine wrapped keys, limit 1: %d Decrypts", suite, n, decrypts.Load())
		if decrypts.Load() > 2 {
			t.Errorf("suite %d: %d items with a non-canonical plaintext attribute and genuine wrapped keys made %d Decrypts with WithUnwrapLimit(1, 1h), want at most 2",
				suite, n, decrypts.Load())
		}
	}
}
