package dynacrypt_test

// Attacks of an independent red team on the trust fixes (issue 8), kept as
// regression tests. Each passes when the library resists the attack. Those
// in "Holes" found holes at the commit they were written against (wrapped
// keys too long for KMS, forged cursors carrying genuine wrapped keys,
// panics in attributevalue, encrypt tags behind interfaces, more tag typos,
// junk legacy blobs, a cursor flood spilling into item reads); the rest
// found nothing and guard against regressions.
//
// Run: scripts/with-servers.sh go test -race -count=1 -run 'TestAttack' -v .

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// rtBound is the KMS cost TestForgedKeys accepts for 1,000 forged cursors
// and 1,000 forged headers: a burst of 5 per source and a few refills.
const rtBound = 2*dynacrypt.DefaultUnwrapBurst + 4

// kmsValidationMax is the largest CiphertextBlob KMS Decrypt accepts.
const kmsValidationMax = 6144

func rtRandom(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// rtWrappedAt returns where the length of the wrapped root key is in a
// header or a cursor (both start with the signed part of a header:
// version, suite, a salt (suite 1) or nonce (suite 2), u16 length, wrapped
// key).
func rtWrappedAt(b []byte) int {
	if b[1] == 2 {
		return 2 + 12
	}
	return 2 + 16
}

// rtWrapped returns the wrapped root key inside a header or a cursor.
func rtWrapped(b []byte) []byte {
	at := rtWrappedAt(b)
	n := int(binary.BigEndian.Uint16(b[at:]))
	return b[at+2 : at+2+n]
}

// rtWithWrapped returns a copy of a header or cursor whose wrapped root key
// is replaced by wrapped; everything after the wrapped key is kept.
func rtWithWrapped(b, wrapped []byte) []byte {
	at := rtWrappedAt(b)
	n := int(binary.BigEndian.Uint16(b[at:]))
	out := append([]byte(nil), b[:at]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	return append(out, b[at+2+n:]...)
}

func rtCursorBytes(t testing.TB, c string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rtCursor(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rtHeader(t testing.TB, item map[string]types.AttributeValue) []byte {
	t.Helper()
	h, ok := item[hdr].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("item has no header: %v", item)
	}
	return append([]byte(nil), h.Value...)
}

func rtShort(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

func rtUsers(t *testing.T, n int) (*dynamodb.Client, string, *dynacrypt.Store[User]) {
	t.Helper()
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	for i := 0; i < n; i++ {
		if err := users.Put(context.Background(), &User{ID: userID(i), Username: "u", Token: "token-" + userID(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return db, table, users
}

// ---------------------------------------------------------------------------
// Holes
// ---------------------------------------------------------------------------

// TestAttackOversizedWrappedKeyBypassesLimiter (claim 4). KMS refuses a
// CiphertextBlob longer than 6144 bytes with ValidationException, which
// KMSCipher does not classify as a rejection: the unwrap error is not
// ErrIntegrity, so the keyring neither remembers the wrapped key as failed
// nor keeps the limiter's place. The header and cursor formats allow 65535
// bytes. So every forged header or cursor carrying an oversized wrapped key
// costs one KMS request, without bound, even the same cursor replayed.
func TestAttackOversizedWrappedKeyBypassesLimiter(t *testing.T) {
	const n = 200
	ctx := context.Background()
	db, table, users := rtUsers(t, 3)
	page, err := users.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	genuine := rawGet(t, db, table, userID(0))
	header := rtHeader(t, genuine)
	// Keep the format byte and key reference, so KMSCipher names its key;
	// pad the blob past KMS's limit.
	oversized := append(append([]byte(nil), rtWrapped(header)[:5]...), rtRandom(t, kmsValidationMax+100)...)
	for i := 0; i < n; i++ {
		forged := cloneItem(genuine)
		forged["id"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("forged-%04d", i)}
		forged[hdr] = &types.AttributeValueMemberB{Value: rtWithWrapped(header, oversized)}
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

	forgedCursor := rtCursor(rtWithWrapped(rtCursorBytes(t, page.Next), oversized))
	before = requests.Requests()
	var cursorErr error
	for i := 0; i < n; i++ {
		_, cursorErr = reader.ScanPage(ctx, forgedCursor, 1)
	}
	cursorCost := requests.Requests() - before

	t.Logf("%d forged headers with a %d-byte wrapped key: %d KMS requests; error: %s", n, len(oversized), headerCost, rtShort(firstOdd))
	t.Logf("one forged cursor (%d characters) sent %d times: %d KMS requests; error: %s", len(forgedCursor), n, cursorCost, rtShort(cursorErr))
	if headerCost > rtBound {
		t.Errorf("HOLE: %d forged headers cost %d KMS requests, want at most %d", n, headerCost, rtBound)
	}
	if cursorCost > rtBound {
		t.Errorf("HOLE: one forged cursor replayed %d times cost %d KMS requests, want at most %d", n, cursorCost, rtBound)
	}
	if odd > 0 {
		t.Errorf("HOLE: %d of %d forged headers were not reported as ErrIntegrity (looks like a KMS failure): %s", odd, n, rtShort(firstOdd))
	}
	if !errors.Is(cursorErr, dynacrypt.ErrInvalidCursor) {
		t.Errorf("forged cursor not reported as ErrInvalidCursor: %s", rtShort(cursorErr))
	}
}

// TestAttackCursorReplayOfGenuineWrappedKeys (claim 4). A cursor carries
// the wrapped root key it was sealed under; an API client collects the
// distinct ones it is handed (a new root key every 5 minutes or 100,000
// writes, per process) and sends them back in cursors with a broken HMAC.
// Each unwrap succeeds, so neither the failure cache nor the limiter is
// charged; the HMAC fails afterwards. Cost: one KMS Decrypt per distinct key
// per cache lifetime, and once the client holds more keys than the cache
// (1,000 by default), one per forged cursor, without bound.
func TestAttackCursorReplayOfGenuineWrappedKeys(t *testing.T) {
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
		b := rtCursorBytes(t, p.Next)
		b[len(b)-1] ^= 1 // break the HMAC
		forged[i] = rtCursor(b)
		return nil
	})
	distinct := map[string]bool{}
	for _, c := range forged {
		distinct[string(rtWrapped(rtCursorBytes(t, c)))] = true
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
	if cost > rtBound {
		t.Errorf("HOLE: %d forged cursors (genuine wrapped keys, bad HMAC) cost %d KMS requests, want at most %d", 2*k, cost, rtBound)
	}
}

// TestAttackExpiredCursorRedated (claims 4, cursor expiry). The expiry is
// read before the root key is unwrapped, but it is only authenticated by the
// HMAC checked after: an expired cursor with its expiry bytes moved forward
// costs a KMS request (and is then refused). So the wrapped keys of expired
// cursors stay usable for the replay above: the harvest window has no end.
func TestAttackExpiredCursorRedated(t *testing.T) {
	ctx := context.Background()
	db, table, _ := rtUsers(t, 3)
	client, requests := testrig.KMS(t)
	brief := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)), dynacrypt.WithCursorTTL(time.Millisecond))
	page, err := brief.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	time.Sleep(5 * time.Millisecond)
	b := rtCursorBytes(t, page.Next)
	n := len(rtWrapped(b))
	binary.BigEndian.PutUint64(b[20+n:], uint64(time.Now().Add(time.Hour).Unix()))

	client2, requests2 := testrig.KMS(t)
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client2, testrig.KeyA)))
	before := requests2.Requests()
	_, err = fresh.ScanPage(ctx, page.Next, 1)
	expiredCost := requests2.Requests() - before
	before = requests2.Requests()
	_, err2 := fresh.ScanPage(ctx, rtCursor(b), 1)
	redatedCost := requests2.Requests() - before
	_ = requests
	t.Logf("expired cursor: %v, %d KMS requests; re-dated: %v, %d KMS requests", err, expiredCost, err2, redatedCost)
	if !errors.Is(err2, dynacrypt.ErrInvalidCursor) {
		t.Errorf("re-dated expired cursor accepted: %v", err2)
	}
	// The expiry is authenticated with the cursor, after the unwrap: a
	// re-dated cursor costs that unwrap, and is charged to the cursors'
	// limit like any forged one (TestAttackCursorReplayOfGenuineWrappedKeys).
	if redatedCost > 1 {
		t.Errorf("an expired cursor with its expiry edited made %d KMS requests, want at most 1", redatedCost)
	}
}

// TestAttackCursorFlood: any API client can spend the cursors' limit with
// forged cursors, and keep it spent with one per refill. A known limitation
// (README, Security model): meanwhile a valid cursor whose root key this
// process does not hold is refused with ErrUnwrapLimited, to retry, never
// mistaken for an invalid one; cursors whose root key it holds, and every
// item read, go on working.
func TestAttackCursorFlood(t *testing.T) {
	ctx := context.Background()
	db, table, issuer := rtUsers(t, 3)
	legit, err := issuer.ScanPage(ctx, "", 1)
	if err != nil || legit.Next == "" {
		t.Fatal(legit, err)
	}
	raw := rtCursorBytes(t, legit.Next)

	client, _ := testrig.KMS(t)
	// Another instance of the service, behind the same load balancer.
	other := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	for i := 0; i < dynacrypt.DefaultUnwrapBurst; i++ {
		if _, err := other.ScanPage(ctx, rtCursor(forgeWrapped(t, raw)), 1); !errors.Is(err, dynacrypt.ErrInvalidCursor) {
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

// Tag typos that checkTag does not catch: the key does not contain "crypt"
// and is not "kms", though the value is "kms".
type rtTypoTransposed struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrpyt:"kms"`
}
type rtTypoSwapped struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encyrpt:"kms"`
}
type rtTypoShort struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" enc:"kms"`
}

func rtTypo[T any](t *testing.T, db *dynamodb.Client, table, name string, item *T) (plaintext bool) {
	t.Helper()
	s, err := dynacrypt.New[T](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err != nil {
		t.Logf("%s: refused at New: %v", name, err)
		return false
	}
	if err := s.Put(context.Background(), item); err != nil {
		t.Logf("%s: Put refused: %v", name, err)
		return false
	}
	raw := rawGet(t, db, table, name)
	if v, ok := raw["token"].(*types.AttributeValueMemberS); ok && strings.HasPrefix(v.Value, "secret-") {
		t.Logf("%s: New accepted the type, and the token is stored in plaintext: %q", name, v.Value)
		return true
	}
	return false
}

// TestAttackMisspelledEncryptTag (claim 2). New refuses tag keys that
// contain "crypt" or are "kms", but a transposition such as encrpyt:"kms"
// passes: the field is stored in plaintext without a word.
func TestAttackMisspelledEncryptTag(t *testing.T) {
	db, table := usersTable(t)
	var leaked []string
	if rtTypo(t, db, table, "encrpyt", &rtTypoTransposed{ID: "encrpyt", Token: "secret-1"}) {
		leaked = append(leaked, `encrpyt:"kms"`)
	}
	if rtTypo(t, db, table, "encyrpt", &rtTypoSwapped{ID: "encyrpt", Token: "secret-2"}) {
		leaked = append(leaked, `encyrpt:"kms"`)
	}
	if rtTypo(t, db, table, "enc", &rtTypoShort{ID: "enc", Token: "secret-3"}) {
		leaked = append(leaked, `enc:"kms"`)
	}
	if len(leaked) > 0 {
		t.Errorf("HOLE: misspelled encrypt tags accepted by New, field stored in plaintext: %s", strings.Join(leaked, ", "))
	}
}

type rtInnerSecret struct {
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

type rtAnyHolder struct {
	ID    string         `dynamodbav:"id"`
	Token string         `dynamodbav:"token" encrypt:"kms"`
	Extra any            `dynamodbav:"extra"`
	Bag   map[string]any `dynamodbav:"bag"`
}

// TestAttackEncryptTagBehindInterface (claim 2). New refuses an encrypt tag
// in a nested struct it can see, but a field of interface type (any,
// map[string]any) holds a struct New cannot see: its encrypt:"kms" field is
// marshalled as a plaintext map entry at Put, with no error.
func TestAttackEncryptTagBehindInterface(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s, err := dynacrypt.New[rtAnyHolder](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err != nil {
		t.Logf("refused at New: %v", err)
		return
	}
	err = s.Put(ctx, &rtAnyHolder{ID: "h1", Token: "t", Extra: rtInnerSecret{Secret: "secret-any"},
		Bag: map[string]any{"card": rtInnerSecret{Secret: "secret-bag"}}})
	if err != nil {
		t.Logf("refused at Put: %v", err)
		return
	}
	raw := rawGet(t, db, table, "h1")
	var leaks []string
	if m, ok := raw["extra"].(*types.AttributeValueMemberM); ok {
		if v, ok := m.Value["secret"].(*types.AttributeValueMemberS); ok {
			leaks = append(leaks, "extra.secret="+v.Value)
		}
	}
	if m, ok := raw["bag"].(*types.AttributeValueMemberM); ok {
		if c, ok := m.Value["card"].(*types.AttributeValueMemberM); ok {
			if v, ok := c.Value["secret"].(*types.AttributeValueMemberS); ok {
				leaks = append(leaks, "bag.card.secret="+v.Value)
			}
		}
	}
	if len(leaks) > 0 {
		t.Errorf("HOLE: fields tagged encrypt:\"kms\" behind an interface are stored in plaintext, New and Put accepted them: %v", leaks)
	}
}

// rtHashed has a fixed-size byte array, which attributevalue panics on when
// the stored binary value has another length (reflect.Value.SetLen on an
// array, attributevalue decode.go decodeBinary).
type rtHashed struct {
	ID     string  `dynamodbav:"id"`
	Token  string  `dynamodbav:"token" encrypt:"kms"`
	Digest [4]byte `dynamodbav:"digest"`
	Note   string  `dynamodbav:"note"`
}

func rtNoPanic(t *testing.T, what string, fn func() error) (panicked bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("HOLE (crash): %s panicked: %v", what, r)
			panicked = true
		}
	}()
	err := fn()
	t.Logf("%s: %v", what, err)
	return false
}

// TestAttackByteArrayPanic (crash). Attacker-written values reach
// attributevalue.UnmarshalMap unverified through unsigned attributes (on
// every verified read), SkipDecryption reads and legacy items. A binary value
// of the wrong length for a [N]byte field makes UnmarshalMap panic, and the
// Store does not recover it: Get panics in the caller.
func TestAttackByteArrayPanic(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	unsignedDigest := mustNew[rtHashed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("digest"))
	plain := mustNew[rtHashed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err := unsignedDigest.Put(ctx, &rtHashed{ID: "a", Token: "t", Digest: [4]byte{1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	if err := plain.Put(ctx, &rtHashed{ID: "b", Token: "t", Digest: [4]byte{1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		raw := rawGet(t, db, table, id)
		raw["digest"] = &types.AttributeValueMemberB{Value: []byte{9, 9, 9}}
		rawPut(t, db, table, raw)
	}
	rtNoPanic(t, "verified Get of an item whose unsigned [4]byte attribute holds 3 bytes", func() error {
		_, err := unsignedDigest.Get(ctx, rtHashed{ID: "a"})
		return err
	})
	rtNoPanic(t, "SkipDecryption Get of an item whose [4]byte attribute holds 3 bytes", func() error {
		_, err := plain.Get(ctx, rtHashed{ID: "b"}, dynacrypt.SkipDecryption())
		return err
	})
}

// TestAttackByteArrayPanicCrashesParallelScan (crash). Same as above, in a
// Scan with Parallel(n): decoding runs in the Store's worker goroutines, so
// the panic ends the whole process, not just the call. Runs the scan in a
// child process and fails if the child crashed.
func TestAttackByteArrayPanicCrashesParallelScan(t *testing.T) {
	if table := os.Getenv("REDTEAM_CHILD_TABLE"); table != "" {
		db := testrig.DynamoDB(t)
		s := mustNew[rtHashed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
		for _, err := range s.Scan(context.Background(), dynacrypt.Parallel(2), dynacrypt.SkipDecryption()) {
			if err != nil {
				t.Logf("child: scan error: %v", err)
			}
		}
		t.Log("child: scan ended without crashing")
		return
	}
	db, table := usersTable(t)
	s := mustNew[rtHashed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err := s.Put(context.Background(), &rtHashed{ID: "a", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "a")
	raw["digest"] = &types.AttributeValueMemberB{Value: []byte{9}}
	rawPut(t, db, table, raw)

	cmd := exec.Command(os.Args[0], "-test.run=^TestAttackByteArrayPanicCrashesParallelScan$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "REDTEAM_CHILD_TABLE="+table)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if i := strings.Index(text, "panic:"); i >= 0 {
		end := min(len(text), i+400)
		t.Errorf("HOLE (crash): a Parallel SkipDecryption Scan over one tampered item crashed the process (%v):\n%s", err, text[i:end])
	} else if err != nil {
		t.Errorf("child failed without a panic: %v\n%s", err, text)
	}
}

// TestAttackLegacyUnverifiedKMSCost (requirement: refusing bad input costs
// a bounded number of KMS requests). With LegacyUnverified, every item
// without a header is decrypted with KMS, one request per encrypted field;
// failures are not remembered and not limited, so junk legacy items (or the
// same one read again) cost one KMS request each.
func TestAttackLegacyUnverifiedKMSCost(t *testing.T) {
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
	if distinctCost > rtBound || sameCost > rtBound {
		t.Errorf("HOLE (cost): refusing junk legacy items under LegacyUnverified costs one KMS request each (%d and %d for %d reads), want at most %d", distinctCost, sameCost, n, rtBound)
	}
}

// ---------------------------------------------------------------------------
// Attacks the library resists
// ---------------------------------------------------------------------------

// TestAttackManifestForgeries (claim 1): forgeries built from listed legacy
// items, on every read path, are refused with no KMS request; a manifest
// checked under another logical name vouches for nothing; a restored copy
// reads only under the right logical name.
func TestAttackManifestForgeries(t *testing.T) {
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

// rtRacingDB lets a test act as the attacker between a Store's read and its
// conditional write.
type rtRacingDB struct {
	*dynamodb.Client
	before func(in *dynamodb.PutItemInput)
}

func (r *rtRacingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if r.before != nil {
		r.before(in)
	}
	return r.Client.PutItem(ctx, in, opts...)
}

// TestAttackPromotionRace (claim 1): the attacker swaps in a forged item
// (a listed item, edited) between the Store's read-and-vouch and its
// conditional write of the promotion, in Update and in the walk. The write's
// condition fails, the re-read is refused, and the forgery is never signed.
func TestAttackPromotionRace(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 3)
	manifest := lt.snapshot(t)
	var mu sync.Mutex
	raced := map[string]bool{}
	racing := &rtRacingDB{Client: lt.db}
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

// TestAttackSkipDecryptionNoOracle: SkipDecryption never decrypts (no KMS
// request) and returns no encrypted field, for current, legacy and forged
// legacy items alike.
func TestAttackSkipDecryptionNoOracle(t *testing.T) {
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

type rtNoted struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	Role  string `dynamodbav:"role"`
	Note  string `dynamodbav:"note"`
}

// TestAttackCaseTwins (claim 5): attributes added next to signed ones,
// spelled with another case, are refused; an unsigned case twin is refused
// at New; a signed but unknown attribute does not fill a field.
func TestAttackCaseTwins(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	s := mustNew[rtNoted](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("note"))
	if err := s.Put(ctx, &rtNoted{ID: "a", Token: "secret", Role: "user"}); err != nil {
		t.Fatal(err)
	}
	for _, twin := range []string{"Role", "ROLE", "Token", "rOlE"} {
		raw := rawGet(t, db, table, "a")
		raw[twin] = &types.AttributeValueMemberS{Value: "admin"}
		rawPut(t, db, table, raw)
		if u, err := s.Get(ctx, rtNoted{ID: "a"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("twin %q added: %+v, %v; want ErrIntegrity", twin, u, err)
		}
		delete(raw, twin)
		rawPut(t, db, table, raw)
	}
	for _, twin := range []string{"Role", "NOTE", "Token"} {
		if _, err := dynacrypt.New[rtNoted](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes(twin)); err == nil {
			t.Errorf("unsigned twin %q accepted at New", twin)
		}
	}
	// Unsigned "note" changed: accepted by design, and lands only in Note.
	raw := rawGet(t, db, table, "a")
	raw["note"] = &types.AttributeValueMemberS{Value: "attacker"}
	rawPut(t, db, table, raw)
	if u, err := s.Get(ctx, rtNoted{ID: "a"}); err != nil || u.Role != "user" || u.Token != "secret" {
		t.Errorf("unsigned note changed: %+v, %v", u, err)
	}
}

// TestAttackCursorBinding (claims 4): cursors for another filter, segment,
// operation, table or query, edited start keys or expiries with the genuine
// key, and re-encodings, are all ErrInvalidCursor.
func TestAttackCursorBinding(t *testing.T) {
	ctx := context.Background()
	db, table, users := rtUsers(t, 6)
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
	b := rtCursorBytes(t, plain.Next)
	n := len(rtWrapped(b))
	redated := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(redated[20+n:], uint64(time.Now().Add(1000*time.Hour).Unix()))
	p, err = users.ScanPage(ctx, rtCursor(redated), 1)
	check("expiry extended", p, err)
	startEdited := append([]byte(nil), b...)
	startEdited[len(startEdited)-33] ^= 1
	p, err = users.ScanPage(ctx, rtCursor(startEdited), 1)
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

// TestAttackHeaderDowngradeAndSplices (claim 6): a genuine wrapped key
// rewritten in format 1 (with the configured spelling's reference), with
// another key's reference, or spliced from another item, never verifies.
func TestAttackHeaderDowngradeAndSplices(t *testing.T) {
	ctx := context.Background()
	db, table, users := rtUsers(t, 2)
	raw := rawGet(t, db, table, userID(0))
	header := rtHeader(t, raw)
	wrapped := rtWrapped(header)
	blob := wrapped[5:]
	ref := func(s string) []byte { return sha256Sum(s)[:4] }
	variants := map[string][]byte{
		"format 1, alias spelling": append(append([]byte{1}, ref(testrig.KeyA)...), blob...),
		"format 1, key ID":         append(append([]byte{1}, ref(testrig.KeyAID)...), blob...),
		"format 2, key B's ref":    append(append([]byte{2}, ref(testrig.KeyBID)...), blob...),
		"format 3":                 append([]byte{3}, wrapped[1:]...),
	}
	for name, w := range variants {
		forged := cloneItem(raw)
		forged[hdr] = &types.AttributeValueMemberB{Value: rtWithWrapped(header, w)}
		rawPut(t, db, table, forged)
		if u, err := users.Get(ctx, User{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("header with wrapped key %s: %+v, %v; want ErrIntegrity", name, u, err)
		}
	}
	// The whole header of item 1 on item 0.
	forged := cloneItem(raw)
	forged[hdr] = rawGet(t, db, table, userID(1))[hdr]
	rawPut(t, db, table, forged)
	if u, err := users.Get(ctx, User{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("spliced header: %+v, %v", u, err)
	}
}

type rtWide struct {
	ID     string `dynamodbav:"id"`
	Secret int64  `dynamodbav:"secret" encrypt:"kms"`
	Card   string `dynamodbav:"card" encrypt:"kms"`
}
type rtNarrow struct {
	ID     string          `dynamodbav:"id"`
	Secret int8            `dynamodbav:"secret" encrypt:"kms"`
	Card   map[int]float64 `dynamodbav:"card" encrypt:"kms"`
}

// TestAttackErrorsNoPlaintext (requirement: errors never contain
// plaintext): unmarshal errors of decrypted values, UTF-8 refusals and
// cipher panics do not quote the secret.
func TestAttackErrorsNoPlaintext(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	wide := mustNew[rtWide](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	narrow := mustNew[rtNarrow](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	const secretNum = 918273645546372819
	if err := wide.Put(ctx, &rtWide{ID: "w", Secret: secretNum, Card: "4111-SECRET-CARD"}); err != nil {
		t.Fatal(err)
	}
	_, err := narrow.Get(ctx, rtNarrow{ID: "w"})
	if err == nil {
		t.Fatal("narrow read succeeded")
	}
	if s := err.Error(); strings.Contains(s, fmt.Sprint(secretNum)) || strings.Contains(s, "SECRET") {
		t.Errorf("error quotes the plaintext: %v", err)
	}
	err = wide.Put(ctx, &rtWide{ID: "u", Card: "SECRET-\xff\xfe-MARKER"})
	if err == nil || strings.Contains(err.Error(), "MARKER") {
		t.Errorf("invalid UTF-8 in an encrypted field: %v", err)
	}
	var items []*User
	for _, v := range []string{"SECRET\xffMARKER"} {
		items = append(items, &User{ID: "b1", Token: v})
	}
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err := users.BatchPut(ctx, items); err == nil || strings.Contains(err.Error(), "MARKER") {
		t.Errorf("BatchPut with invalid UTF-8: %v", err)
	}
	if err := dynacrypt.Transact(ctx, db, users.TxPut(items[0])); err == nil || strings.Contains(err.Error(), "MARKER") {
		t.Errorf("TxPut with invalid UTF-8: %v", err)
	}
	t.Logf("errors: %v", err)
}

// rtPanicCipher panics, with the ciphertext in its panic value, on anything
// that is not an AESCipher ciphertext.
type rtPanicCipher struct{ *dynacrypt.AESCipher }

func (c rtPanicCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	if len(ct) == 0 || ct[0] != 1 {
		panic("bad ciphertext " + hex.EncodeToString(ct))
	}
	if ct[1] == 0xff {
		var a []int
		_ = a[len(ct)] // a runtime error
	}
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// TestAttackPanickingCipher (claim 8): forged headers that make the Cipher
// panic, read in parallel scans (worker goroutines), give errors, not a
// crash; nil and zero-value ciphers never store plaintext.
func TestAttackPanickingCipher(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	c := rtPanicCipher{newAES(t)}
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c))
	if err := users.Put(ctx, &User{ID: "g", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "g")
	header := rtHeader(t, raw)
	for i := 0; i < 20; i++ {
		w := append([]byte(nil), rtWrapped(header)...)
		if i%2 == 0 {
			w[0] = 2
		} else {
			w[1] = 0xff
		}
		w[len(w)-1] ^= byte(i)
		f := cloneItem(raw)
		f["id"] = &types.AttributeValueMemberS{Value: fmt.Sprintf("p-%02d", i)}
		f[hdr] = &types.AttributeValueMemberB{Value: rtWithWrapped(header, w)}
		rawPut(t, db, table, f)
	}
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c))
	errs := 0
	for _, err := range fresh.Scan(ctx, dynacrypt.Parallel(4)) {
		if err != nil {
			errs++
			if strings.Contains(err.Error(), "bad ciphertext") {
				t.Errorf("panic value quoted in the error: %v", err)
			}
		}
	}
	for i := 0; i < 20; i++ {
		_, err := fresh.Get(ctx, User{ID: fmt.Sprintf("p-%02d", i)})
		if err == nil {
			t.Errorf("forged header p-%02d read", i)
		}
	}
	// Nil and zero ciphers.
	var nilAES *dynacrypt.AESCipher
	var nilKMS *dynacrypt.KMSCipher
	for name, ci := range map[string]dynacrypt.Cipher{"nil AES": nilAES, "nil KMS": nilKMS, "zero KMS": &dynacrypt.KMSCipher{}} {
		if _, err := dynacrypt.New[User](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(ci)); err == nil {
			t.Errorf("%s accepted at New", name)
		}
	}
	zero, err := dynacrypt.New[User](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(&dynacrypt.AESCipher{}))
	if err == nil {
		err := zero.Put(ctx, &User{ID: "z", Token: "zero-secret"})
		t.Logf("zero-value AESCipher accepted at New; Put: %v", err)
		if err == nil {
			t.Errorf("zero-value AESCipher stored an item")
		}
	}
}

type rtNested struct {
	ID    string            `dynamodbav:"id"`
	Token string            `dynamodbav:"token" encrypt:"kms"`
	Tags  map[string]string `dynamodbav:"tags"`
	List  []string          `dynamodbav:"list"`
	Set   []string          `dynamodbav:"set,stringset"`
}

// TestAttackInvalidUTF8 (claim 3): invalid UTF-8 anywhere in a signed value
// (map key, list element, set member) or a key is refused at the write,
// without the value in the error.
func TestAttackInvalidUTF8(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[rtNested](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	bad := "MARK\xc3\x28ER"
	for name, item := range map[string]*rtNested{
		"map key":    {ID: "m", Tags: map[string]string{bad: "v"}},
		"map value":  {ID: "v", Tags: map[string]string{"k": bad}},
		"list":       {ID: "l", List: []string{"ok", bad}},
		"set member": {ID: "s", Set: []string{"ok", bad}},
		"key":        {ID: bad},
	} {
		err := s.Put(ctx, item)
		if err == nil || strings.Contains(err.Error(), "MARK") {
			t.Errorf("%s with invalid UTF-8: %v", name, err)
		}
	}
	if _, err := s.Get(ctx, rtNested{ID: bad}); err == nil {
		t.Error("Get with an invalid UTF-8 key accepted")
	}
}

// TestAttackConcurrentMigration runs promotion (Update, Reencrypt), reads,
// forged cursors and forged headers at once, for the race detector; every
// item ends current and right, and no forgery is signed.
func TestAttackConcurrentMigration(t *testing.T) {
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
					s.ScanPage(ctx, rtCursor(forgeWrapped(t, rtCursorBytes(t, page.Next))), 3, dynacrypt.SkipDecryption())
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

var _ = aws.String

func sha256Sum(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }

// rtSlowCipher is an AESCipher whose Decrypt takes as long as a KMS call
// might.
type rtSlowCipher struct {
	*dynacrypt.AESCipher
	delay time.Duration
}

func (c rtSlowCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	time.Sleep(c.delay)
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// TestAttackCursorSourceSpillsIntoItems (claim 4, keyring.Source: "API
// clients forging cursors cannot stop the reading of items"). Unwraps are
// shared per wrapped key (singleflight) whatever their source, and the
// flight runs under the limiter of the caller that started it. A client
// whose forged cursors have spent the Cursors limiter sends a cursor
// carrying the root key of recent items (the same process seals cursors and
// items under one root key) while another process reads one of those
// items: the item read joins the cursor's flight and fails with
// ErrUnwrapLimited, although the Items limiter was never touched.
func TestAttackCursorSourceSpillsIntoItems(t *testing.T) {
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
	cur := rtCursorBytes(t, page.Next)
	if string(rtWrapped(cur)) != string(rtWrapped(rtHeader(t, rawGet(t, db, table, userID(0))))) {
		t.Fatal("cursor and item under different root keys")
	}
	sameRoot := append([]byte(nil), cur...)
	sameRoot[len(sameRoot)-1] ^= 1 // genuine root key, broken HMAC

	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(rtSlowCipher{aes, delay}))
	for i := 0; i < dynacrypt.DefaultUnwrapBurst-1; i++ {
		reader.ScanPage(ctx, rtCursor(forgeWrapped(t, cur)), 1)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the last place, held for one Decrypt
		defer wg.Done()
		reader.ScanPage(ctx, rtCursor(forgeWrapped(t, cur)), 1)
	}()
	time.Sleep(delay / 4)
	go func() { // the item's root key, from the Cursors source: waits for a place
		defer wg.Done()
		reader.ScanPage(ctx, rtCursor(sameRoot), 1)
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
