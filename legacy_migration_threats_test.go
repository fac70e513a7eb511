package dynacrypt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// Legacy items (the per-field KMS format the library migrates from) carry
// no signature: a manifest (Store.LegacySnapshot) vouches for the ones that
// existed, and promotion rewrites them in the current format. Someone who
// writes the table forges legacy items, races promotions, and plants legacy
// blobs and wrapped root keys in each other's place; these tests check that
// no forgery is read or signed, that no genuine item is lost or made
// unreadable, and that refusals cost the unwrap limit's worth of KMS
// requests at most.

// TestManifestVouchesOnlyForListedItems: someone who writes the table
// builds forgeries from listed legacy items (copied under another key, an
// attribute added, removed, retyped or edited, a blob swapped, a version
// added). Every read path (Get, Update, Query, BatchGet, Scan) refuses them
// with ErrIntegrity before any KMS request, and neither Update nor the walk
// signs one. A tampered manifest vouches for nothing, nor does a manifest
// checked under another logical table name; a restored copy of the table
// reads only under the original logical name.
func TestManifestVouchesOnlyForListedItems(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 4)
	manifest := lt.snapshot(t)
	s := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	if _, err := s.Get(ctx, LegacyUser{ID: userID(3)}, dynacrypt.ConsistentRead()); err != nil {
		t.Fatal(err)
	}
	orig := func(i int) map[string]types.AttributeValue { return cloneItem(rawGet(t, lt.db, lt.table, userID(i))) }
	forgeries := map[string]map[string]types.AttributeValue{}
	add := func(id string, item map[string]types.AttributeValue) {
		item["id"] = &types.AttributeValueMemberS{Value: id}
		forgeries[id] = item
	}
	add("copy-of-0", orig(0))
	x := orig(1)
	x["nickname"] = &types.AttributeValueMemberS{Value: "extra"}
	add("extra-attr", x)
	x = orig(1)
	x["token"] = &types.AttributeValueMemberS{Value: "plain"}
	add("token-as-S", x)
	x = orig(1)
	delete(x, "username")
	add("missing-attr", x)
	x = orig(1)
	x["token"] = orig(2)["token"]
	add("swapped-blob", x)
	x = orig(1)
	x["version"] = &types.AttributeValueMemberN{Value: "7"}
	add("with-version", x)
	x = orig(1)
	x["username"] = &types.AttributeValueMemberN{Value: "1"}
	add("type-changed", x)
	for _, item := range forgeries {
		rawPut(t, lt.db, lt.table, item)
	}
	// The listed item 1 with its username changed by a trailing space, and
	// made NULL.
	for _, v := range []types.AttributeValue{&types.AttributeValueMemberS{Value: "user "}, &types.AttributeValueMemberNULL{Value: true}} {
		x = orig(1)
		x["username"] = v
		x["id"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("edited-%T", v)}
		forgeries[x["id"].(*types.AttributeValueMemberS).Value] = x
		rawPut(t, lt.db, lt.table, x)
	}

	before := lt.kmsReqs.Requests()
	var keys []LegacyUser
	for id := range forgeries {
		keys = append(keys, LegacyUser{ID: id})
		if u, err := s.Get(ctx, LegacyUser{ID: id}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Get of forgery %s: %+v, %v; want ErrIntegrity", id, u, err)
		}
		if _, err := s.Update(ctx, LegacyUser{ID: id}, func(*LegacyUser) error { return nil }); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Update of forgery %s: %v; want ErrIntegrity", id, err)
		}
		// (TransactGet takes the same decode path; dynalite has no
		// TransactGetItems, so it is not exercised here.)
		for u, err := range s.Query(ctx, LegacyUser{ID: id}) {
			if !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Errorf("Query of forgery %s: %+v, %v", id, u, err)
			}
		}
		if _, err := s.BatchGet(ctx, []LegacyUser{{ID: id}}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("BatchGet of forgery %s: %v", id, err)
		}
	}
	if got := lt.kmsReqs.Requests() - before; got != 0 {
		t.Errorf("refusing %d forgeries on every path made %d KMS requests, want 0", len(forgeries), got)
	}
	// (A batch with a genuine legacy item may decrypt it, with KMS, before
	// it meets a forgery: it is checked after the count.)
	if _, err := s.BatchGet(ctx, append(keys, LegacyUser{ID: userID(3)})); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("BatchGet of every forgery and a genuine item: %v", err)
	}
	// (A Scan also reads the genuine legacy items, with KMS: it is checked
	// after the count.)
	for u, err := range s.Scan(ctx, dynacrypt.Parallel(2)) {
		if err == nil && forgeries[u.ID] != nil {
			t.Errorf("Scan returned forgery %+v", u)
		}
	}
	for id := range forgeries {
		if rawGet(t, lt.db, lt.table, id)[hdr] != nil {
			t.Errorf("forgery %s was signed", id)
		}
	}
	// Tampered manifests.
	for name, m := range map[string][]byte{
		"truncated":  manifest[:len(manifest)-1],
		"bit flip":   append(append([]byte(nil), manifest[:len(manifest)-40]...), append([]byte{manifest[len(manifest)-40] ^ 1}, manifest[len(manifest)-39:]...)...),
		"extra byte": append(append([]byte(nil), manifest...), 0),
		"salt flip":  append(append(append([]byte(nil), manifest[:5]...), manifest[5]^1), manifest[6:]...),
		"MAC flip":   append(append([]byte(nil), manifest[:len(manifest)-1]...), manifest[len(manifest)-1]^1),
	} {
		st, err := dynacrypt.New[LegacyUser](lt.db, lt.table, append(append([]dynacrypt.Option(nil), lt.base...), lt.legacyMode(dynacrypt.LegacyManifest(m)))...)
		if err != nil {
			continue
		}
		if u, err := st.Get(ctx, LegacyUser{ID: userID(2)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("manifest %s: %+v, %v", name, u, err)
		}
	}
	progress, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 2})
	t.Logf("walk: %+v, %v", progress, err)
	for id := range forgeries {
		if rawGet(t, lt.db, lt.table, id)[hdr] != nil {
			t.Errorf("walk signed forgery %s", id)
		}
	}

	// Another logical name: the manifest does not verify.
	other := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)), dynacrypt.WithLogicalTableName(lt.table+"-x"))
	if u, err := other.Get(ctx, LegacyUser{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("manifest under another logical name: %+v, %v", u, err)
	}
	// A restored copy (a new table): reads with the logical name, not without.
	_, restored := usersTable(t)
	rawPut(t, lt.db, restored, rawGet(t, lt.db, lt.table, userID(0)))
	opts := append(append([]dynacrypt.Option(nil), lt.base...), lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	good := mustNew[LegacyUser](t, lt.db, restored, append(opts, dynacrypt.WithLogicalTableName(lt.table))...)
	if u, err := good.Get(ctx, LegacyUser{ID: userID(0)}); err != nil || u.Token != "token-"+userID(0) {
		t.Errorf("restored legacy item with the logical name: %+v, %v", u, err)
	}
	bad := mustNew[LegacyUser](t, lt.db, restored, opts...)
	if u, err := bad.Get(ctx, LegacyUser{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("restored legacy item under the new table's own name: %+v, %v", u, err)
	}
}

// TestPromotionRacingForgeryNeverSignsIt: someone who writes the table
// swaps in a forged item (a listed item, edited) between the Store's
// read-and-vouch and its conditional write of the promotion, in Update and
// in the walk. The write's condition fails, the re-read is refused
// (ErrIntegrity), and the forgery is never signed.
func TestPromotionRacingForgeryNeverSignsIt(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 3)
	manifest := lt.snapshot(t)
	var mu sync.Mutex
	raced := map[string]bool{}
	racing := &racingDB{Client: lt.db}
	racing.before = func(in *dynamodb.PutItemInput) {
		if in.ConditionExpression == nil || !strings.Contains(*in.ConditionExpression, "attribute_not_exists") {
			return
		}
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		mu.Lock()
		defer mu.Unlock()
		if raced[id] {
			return
		}
		raced[id] = true
		forged := cloneItem(rawGet(t, lt.db, lt.table, id))
		forged["username"] = &types.AttributeValueMemberS{Value: "attacker"}
		rawPut(t, lt.db, lt.table, forged)
	}
	opts := append(append([]dynacrypt.Option(nil), lt.base...), lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	s := mustNew[LegacyUser](t, racing, lt.table, opts...)
	_, err := s.Update(ctx, LegacyUser{ID: userID(0)}, func(u *LegacyUser) error { u.Username = "renamed"; return nil })
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("Update racing a forgery: %v, want ErrIntegrity", err)
	}
	progress, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("walk racing forgeries: %+v, %v", progress, err)
	for i := 0; i < 3; i++ {
		raw := rawGet(t, lt.db, lt.table, userID(i))
		if raw[hdr] != nil {
			t.Errorf("%s: a forged item was signed during promotion: username %v", userID(i), raw["username"])
		}
	}
}

// TestLegacyPromotionKeepsAttributeAddedMeanwhile: during a rollout the old
// code still writes legacy items, and adds an attribute to one between the
// walk's read and its promotion. The promotion's condition holds every
// attribute as read and the absence of every other legacy attribute, so
// that write fails and the added attribute is never lost ("a concurrent
// change is re-read, never overwritten").
//
// The attribute added is one the legacy writer writes (LegacyAttributes:
// here username, absent when the snapshot was taken): an attribute outside
// them makes the item no legacy item at all, which no read accepts, and a
// Store keeps only its own attributes.
func TestLegacyPromotionKeepsAttributeAddedMeanwhile(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 2)
	for i := range 2 {
		if _, err := lt.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &lt.table,
			Key:              map[string]types.AttributeValue{"id": strAV(userID(i))},
			UpdateExpression: aws.String("REMOVE username"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	manifest := lt.snapshot(t)
	var once sync.Map
	racing := &racingDB{Client: lt.db, before: func(in *dynamodb.PutItemInput) {
		if in.ConditionExpression == nil || !strings.Contains(*in.ConditionExpression, "attribute_not_exists") {
			return
		}
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		if _, done := once.LoadOrStore(id, true); done {
			return
		}
		if _, err := lt.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &lt.table,
			Key:                       map[string]types.AttributeValue{"id": strAV(id)},
			UpdateExpression:          aws.String("SET #l = :l"),
			ExpressionAttributeNames:  map[string]string{"#l": "username"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":l": strAV("added by the old code")},
		}); err != nil {
			t.Error(err)
		}
	}}
	opts := append(append([]dynacrypt.Option(nil), lt.base...), lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	s := mustNew[LegacyUser](t, racing, lt.table, opts...)
	p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("walk racing the old code: %+v, %v", p, err)
	for i := range 2 {
		raw := rawGet(t, lt.db, lt.table, userID(i))
		if raw["username"] == nil {
			t.Errorf("%s: the promotion dropped an attribute the old code added meanwhile (promoted: %t)", userID(i), raw[hdr] != nil)
		}
	}
}

// TestSkipDecryptionNeverDecrypts: a reader without decrypt rights (or a
// report) uses SkipDecryption; someone who writes the table must not make
// it an oracle. It never decrypts (no KMS request) and returns no encrypted
// field, for current, legacy and forged legacy items alike.
func TestSkipDecryptionNeverDecrypts(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 2)
	manifest := lt.snapshot(t)
	s := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	if err := s.Put(ctx, &LegacyUser{ID: "cur", Token: "current-secret"}); err != nil {
		t.Fatal(err)
	}
	forged := cloneItem(rawGet(t, lt.db, lt.table, userID(0)))
	forged["id"] = &types.AttributeValueMemberS{Value: "forged"}
	rawPut(t, lt.db, lt.table, forged)
	before := lt.kmsReqs.Requests()
	for _, id := range []string{"cur", userID(1), "forged"} {
		u, err := s.Get(ctx, LegacyUser{ID: id}, dynacrypt.SkipDecryption())
		if err == nil && u.Token != "" {
			t.Errorf("SkipDecryption of %s returned a token: %q", id, u.Token)
		}
	}
	for u, err := range s.Scan(ctx, dynacrypt.SkipDecryption()) {
		if err == nil && u.Token != "" {
			t.Errorf("SkipDecryption Scan returned a token: %+v", u)
		}
	}
	if got := lt.kmsReqs.Requests() - before; got != 0 {
		t.Errorf("SkipDecryption reads made %d KMS requests", got)
	}
}

// TestLegacyBlobPosingAsWrappedKeyLeavesLegacyItemsReadable: an API client
// who has read a genuine legacy blob (from a backup, say) sends it as the
// wrapped root key of a cursor, and someone who writes the table puts
// another as the wrapped root key of an item's header. Each fails to unwrap
// as a root key and is remembered as failed, but the failure cache keeps
// root keys (unwrapped with the table's context) and legacy blobs
// (decrypted with none) apart: the genuine legacy items holding those
// blobs, listed in the manifest, go on reading, never a false ErrIntegrity.
func TestLegacyBlobPosingAsWrappedKeyLeavesLegacyItemsReadable(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 3)
	manifest := lt.snapshot(t)
	s := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	page, err := s.ScanPage(ctx, "", 1) // the service at work; its root key resolved
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	blob := func(id string) []byte {
		return append([]byte(nil), rawGet(t, lt.db, lt.table, id)["token"].(*types.AttributeValueMemberB).Value...)
	}

	// 1. An API client sends a cursor carrying the blob of user-0000.
	before := lt.kmsReqs.Requests()
	_, cerr := s.ScanPage(ctx, encodeCursor(withWrappedKey(decodeCursor(t, page.Next), blob(userID(0)))), 1)
	cost := lt.kmsReqs.Requests() - before
	// 2. A table writer plants an item whose header carries the blob of user-0001.
	if err := s.Put(ctx, &LegacyUser{ID: "planted", Username: "x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	planted := rawGet(t, lt.db, lt.table, "planted")
	planted[hdr] = &types.AttributeValueMemberB{Value: withWrappedKey(headerOf(t, planted), blob(userID(1)))}
	rawPut(t, lt.db, lt.table, planted)
	_, herr := s.Get(ctx, LegacyUser{ID: "planted"})
	t.Logf("forged cursor: %v (%d KMS requests); planted header: %v", cerr, cost, herr)

	var broken []string
	for i := 0; i < 3; i++ {
		u, err := s.Get(ctx, LegacyUser{ID: userID(i)})
		t.Logf("genuine, listed legacy item %s: %+v, %v", userID(i), u, err)
		if err != nil {
			broken = append(broken, fmt.Sprintf("%s: %v", userID(i), err))
		}
	}
	if len(broken) > 0 {
		t.Errorf("a forged cursor and a forged header made genuine legacy items listed in the manifest fail: %s", strings.Join(broken, "; "))
	}
}

// TestWrappedKeyPosingAsLegacyBlobLeavesCurrentItemsReadable: the reverse,
// under LegacyUnverified (the rollout mode). Someone who writes the table
// plants a legacy item (no header) whose encrypted attribute is the wrapped
// root key of current items. Its legacy Decrypt fails (a KMSCipher
// ciphertext is not a raw KMS blob) and is remembered as a legacy blob's
// failure only: a new process goes on reading every current item under that
// root key.
func TestWrappedKeyPosingAsLegacyBlobLeavesCurrentItemsReadable(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 1)
	writer := lt.store(t)
	for i := 0; i < 3; i++ {
		if err := writer.Put(ctx, &LegacyUser{ID: fmt.Sprintf("current-%d", i), Username: "c", Token: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	wrapped := wrappedKey(headerOf(t, rawGet(t, lt.db, lt.table, "current-0")))
	rawPut(t, lt.db, lt.table, map[string]types.AttributeValue{
		"id":       &types.AttributeValueMemberS{Value: "planted"},
		"username": &types.AttributeValueMemberS{Value: "x"},
		"token":    &types.AttributeValueMemberB{Value: append([]byte(nil), wrapped...)},
	})
	// Another instance of the service, in the rollout.
	s := lt.store(t, lt.legacyMode(dynacrypt.LegacyUnverified()))
	_, err := s.Get(ctx, LegacyUser{ID: "planted"})
	t.Logf("planted legacy item: %v", err)
	var broken []string
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("current-%d", i)
		u, err := s.Get(ctx, LegacyUser{ID: id})
		if err != nil || u.Token != "secret" {
			broken = append(broken, fmt.Sprintf("%s: %v", id, err))
		}
	}
	if len(broken) > 0 {
		t.Errorf("one planted legacy item made current items under a genuine root key unreadable: %s", strings.Join(broken, "; "))
	}
}

// TestJunkLegacyItemsCostTheBurst: with LegacyUnverified, an item without a
// header is decrypted with KMS, one request per encrypted field. Someone who
// writes the table plants 100 junk legacy items (a genuine blob with its
// tail altered); refusing them is charged to the unwrap limit and each
// failure is remembered, so the 100 items, or one of them read 100 times,
// cost at most the limit's worth of KMS requests, not one each.
func TestJunkLegacyItemsCostTheBurst(t *testing.T) {
	const n = 100
	ctx := context.Background()
	lt := newLegacyTable(t, 1)
	rollout := lt.store(t, lt.legacyMode(dynacrypt.LegacyUnverified()))
	// Junk blobs: a genuine legacy blob with its tail altered, so that KMS
	// (and local-kms, which drops the connection on random bytes) rejects it
	// with InvalidCiphertextException.
	genuine := rawGet(t, lt.db, lt.table, userID(0))["token"].(*types.AttributeValueMemberB).Value
	for i := 0; i < n; i++ {
		junk := append([]byte(nil), genuine...)
		junk[len(junk)-1] ^= byte(i + 1)
		junk[len(junk)-2] ^= byte(i >> 8)
		rawPut(t, lt.db, lt.table, map[string]types.AttributeValue{
			"id":       &types.AttributeValueMemberS{Value: fmt.Sprintf("junk-%04d", i)},
			"username": &types.AttributeValueMemberS{Value: "x"},
			"token":    &types.AttributeValueMemberB{Value: junk},
		})
	}
	before := lt.kmsReqs.Requests()
	for i := 0; i < n; i++ {
		if _, err := rollout.Get(ctx, LegacyUser{ID: fmt.Sprintf("junk-%04d", i)}); !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
			t.Fatalf("junk legacy item: %v", err)
		}
	}
	distinctCost := lt.kmsReqs.Requests() - before
	before = lt.kmsReqs.Requests()
	for i := 0; i < n; i++ {
		rollout.Get(ctx, LegacyUser{ID: "junk-0000"})
	}
	sameCost := lt.kmsReqs.Requests() - before
	t.Logf("%d junk legacy items: %d KMS requests; one junk item read %d times: %d", n, distinctCost, n, sameCost)
	if distinctCost > forgeryKMSBound || sameCost > forgeryKMSBound {
		t.Errorf("refusing junk legacy items under LegacyUnverified cost %d KMS requests (distinct items) and %d (one item again) for %d reads each, want at most %d", distinctCost, sameCost, n, forgeryKMSBound)
	}
}

// TestConcurrentMigrationAmidForgeries: promotions (Update and two walks),
// reads, forged cursors and a forged legacy item run at once (and under the
// race detector): every genuine item ends current with its own token, and
// the forgery is never signed.
func TestConcurrentMigrationAmidForgeries(t *testing.T) {
	const n = 40
	ctx := context.Background()
	lt := newLegacyTable(t, n)
	manifest := lt.snapshot(t)
	forged := cloneItem(rawGet(t, lt.db, lt.table, userID(0)))
	forged["id"] = &types.AttributeValueMemberS{Value: "forged"}
	rawPut(t, lt.db, lt.table, forged)
	s := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	page, err := s.ScanPage(ctx, "", 3, dynacrypt.SkipDecryption())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				if _, err := s.Update(ctx, LegacyUser{ID: userID(i)}, func(u *LegacyUser) error { u.Username = "migrated"; return nil }); err != nil {
					failures.Add(1)
				}
				s.Get(ctx, LegacyUser{ID: userID((i + 7) % n)})
				s.Get(ctx, LegacyUser{ID: "forged"})
				if page.Next != "" {
					s.ScanPage(ctx, encodeCursor(forgeWrapped(t, decodeCursor(t, page.Next))), 3, dynacrypt.SkipDecryption())
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 3})
	}()
	wg.Wait()
	if _, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 2}); err != nil && !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("final walk: %v", err)
	}
	current := lt.store(t)
	for i := 0; i < n; i++ {
		u, err := current.Get(ctx, LegacyUser{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != "token-"+userID(i) {
			t.Errorf("%s after concurrent migration: %+v, %v", userID(i), u, err)
		}
	}
	if rawGet(t, lt.db, lt.table, "forged")[hdr] != nil {
		t.Error("forgery signed")
	}
	t.Logf("%d Update failures (conflicts with the walk are retried; only exhaustion counts)", failures.Load())
}

// TestConcurrentLegacyReadsForgeriesAndPuts: under the race detector, the
// shared state of the defences at once: Puts of interface-typed values (the
// type cache of the encrypt tag check), legacy reads with a manifest whose
// signature is checked once, forged cursors and headers (the unwrap limit
// and its charges), valid pages and Parallel scans. Every legacy read and
// Put succeeds, and every valid page reads or is ErrUnwrapLimited.
func TestConcurrentLegacyReadsForgeriesAndPuts(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 4)
	manifest := lt.snapshot(t)
	s := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	if err := s.Put(ctx, &LegacyUser{ID: "current", Username: "c", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	raw := rawGet(t, lt.db, lt.table, "current")
	forged := cloneItem(raw)
	forged["id"] = &types.AttributeValueMemberS{Value: "forged"}
	rawPut(t, lt.db, lt.table, forged)

	bagDB, bagTable := usersTable(t)
	bags := mustNew[bagDoc](t, bagDB, bagTable, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				switch (w + i) % 5 {
				case 0:
					if u, err := s.Get(ctx, LegacyUser{ID: userID(i % 4)}); err != nil || u.Token != "token-"+userID(i%4) {
						t.Errorf("legacy read: %+v, %v", u, err)
					}
				case 1:
					s.ScanPage(ctx, encodeCursor(forgeWrapped(t, decodeCursor(t, page.Next))), 1)
					s.Get(ctx, LegacyUser{ID: "forged"})
				case 2:
					if _, err := s.ScanPage(ctx, page.Next, 1); err != nil && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
						t.Errorf("valid page: %v", err)
					}
				case 3:
					bag := map[string]any{"a": []any{i, map[string]any{"b": w}}, "c": wrapsHidden{Label: "l"}}
					if err := bags.Put(ctx, &bagDoc{ID: fmt.Sprintf("%d-%d", w, i), Token: "t", Bag: bag}); err != nil {
						t.Errorf("Put: %v", err)
					}
				case 4:
					for _, err := range s.Scan(ctx, dynacrypt.Parallel(2)) {
						_ = err
					}
				}
			}
		}()
	}
	wg.Wait()
}
