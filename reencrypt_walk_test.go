package dynacrypt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// The re-encryption walk (Store.Reencrypt, Items.Reencrypt, the command's
// reencrypt) reads every item and rewrites it under a fresh root key: what
// it rewrites, it signs. Someone who writes the table puts tampered items
// and forged checkpoints in its way and races its conditional writes; other
// writers change unsigned attributes meanwhile. The walk must sign no
// forgery, overwrite no concurrent change, and give up rather than loop.

// tokenPinItems returns Items of table over cipher, with token and pin
// encrypted and a version; opts come last.
func tokenPinItems(t *testing.T, table string, cipher dynacrypt.Cipher, opts ...dynacrypt.Option) *dynacrypt.Items {
	t.Helper()
	it, err := dynacrypt.NewItems(table, append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithEncryptedAttributes("token", "pin"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// mustSeal seals item with it, or fails the test.
func mustSeal(t *testing.T, it *dynacrypt.Items, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := it.Seal(context.Background(), item)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tokenPinDoc is a plaintext item for tokenPinItems, at version 3.
func tokenPinDoc(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"id": strAV(id), "note": strAV("note of " + id), "token": strAV("token of " + id),
		"pin": strAV("pin of " + id), "version": &types.AttributeValueMemberN{Value: "3"}}
}

// TestWalkRewritesNoTamperedItem: a walk with All (every item rewritten
// under a fresh root key) meets, beside genuine items, what someone who
// writes the table can put there: an item with an edited attribute, one
// with an added attribute, one with an attribute removed, an item sealed
// for another table, a genuine item moved to another key, one without a
// header, one whose header is of another type, and (operator or attacker)
// an item with an encrypted attribute the walk does not declare. None is
// rewritten (signed under the new root key): each is counted Failed and
// reported, with no plaintext in its error, and the genuine ones are
// Rewritten. In a table of tenants, an item moved under another tenant is
// not rewritten either.
func TestWalkRewritesNoTamperedItem(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-tampered")
	it := tokenPinItems(t, table, cipher)
	const genuine = 4
	for i := range genuine {
		rawPut(t, db, table, mustSeal(t, it, tokenPinDoc(fmt.Sprint("g", i))))
	}
	bad := map[string]map[string]types.AttributeValue{}
	edited := mustSeal(t, it, tokenPinDoc("edited"))
	edited["note"] = strAV("mallory's note")
	bad["edited"] = edited
	added := mustSeal(t, it, tokenPinDoc("added"))
	added["role"] = strAV("admin")
	bad["added"] = added
	removed := mustSeal(t, it, tokenPinDoc("removed"))
	delete(removed, "pin")
	bad["removed"] = removed
	bad["other-table"] = mustSeal(t, tokenPinItems(t, "another-table", cipher), tokenPinDoc("other-table"))
	moved := mustSeal(t, it, tokenPinDoc("g0"))
	moved["id"] = strAV("moved")
	bad["moved"] = moved
	bad["plain"] = tokenPinDoc("plain")
	typed := mustSeal(t, it, tokenPinDoc("typed"))
	typed[dynacrypt.DefaultHeaderAttribute] = strAV("x")
	bad["typed"] = typed
	// Sealed by Items that also encrypt "ssn": the walk's Items do not.
	undeclared := tokenPinDoc("undeclared")
	undeclared["ssn"] = strAV("ssn of undeclared")
	bad["undeclared"] = mustSeal(t, tokenPinItems(t, table, cipher, dynacrypt.WithEncryptedAttributes("ssn")), undeclared)
	for _, item := range bad {
		rawPut(t, db, table, item)
	}

	var mu sync.Mutex
	failed := map[string]error{}
	p, err := it.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true, Segments: 2, PageSize: 3,
		Failed: func(key map[string]types.AttributeValue, err error) {
			mu.Lock()
			defer mu.Unlock()
			id, _ := key["id"].(*types.AttributeValueMemberS)
			if id != nil {
				failed[id.Value] = err
			}
		}})
	t.Logf("walk: %+v; first error: %v", p, err)
	if p.Rewritten != genuine || p.Failed != int64(len(bad)) {
		t.Errorf("walk rewrote %d items and failed %d; want %d rewritten, %d failed", p.Rewritten, p.Failed, genuine, len(bad))
	}
	for id, item := range bad {
		if got := rawGet(t, db, table, id); !reflect.DeepEqual(got, item) {
			t.Errorf("the walk rewrote the %s item: %v", id, got)
		}
		if failed[id] == nil {
			t.Errorf("the %s item was not reported as failed", id)
		}
		if e := failed[id]; e != nil && (strings.Contains(e.Error(), "token of") || strings.Contains(e.Error(), "pin of") || strings.Contains(e.Error(), "ssn of")) {
			t.Errorf("the error for %s shows plaintext: %v", id, e)
		}
	}
	for i := range genuine {
		id := fmt.Sprint("g", i)
		got, err := it.Open(ctx, rawGet(t, db, table, id))
		if err != nil || !reflect.DeepEqual(got["token"], strAV("token of "+id)) || !reflect.DeepEqual(got["version"], &types.AttributeValueMemberN{Value: "4"}) {
			t.Errorf("genuine %s after the walk: %v, %v", id, got, err)
		}
	}

	// Tenants: an item of tenant a moved under tenant b.
	_, tt := usersTable(t)
	tenantItems := tokenPinItems(t, tt, cipher, dynacrypt.WithTenantAttribute("tenant"))
	a := tokenPinDoc("ta")
	a["tenant"] = strAV("a")
	rawPut(t, db, tt, mustSeal(t, tenantItems, a))
	m := mustSeal(t, tenantItems, a)
	m["tenant"], m["id"] = strAV("b"), strAV("tb")
	rawPut(t, db, tt, m)
	p, err = tenantItems.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true})
	if p.Rewritten != 1 || p.Failed != 1 || !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("tenant walk: %+v, %v; want 1 rewritten, 1 failed (ErrIntegrity)", p, err)
	}
	if got := rawGet(t, db, tt, "tb"); !reflect.DeepEqual(got, m) {
		t.Error("the walk rewrote an item moved under another tenant")
	}
}

// countedDoc is a document with an attribute that other writers update
// (a view counter), declared unsigned as WithUnsignedAttributes intends.
type countedDoc struct {
	ID      string `dynamodbav:"id"`
	Token   string `dynamodbav:"token" encrypt:"kms"`
	Views   int    `dynamodbav:"views"`
	Version int64  `dynamodbav:"version"`
}

// TestWalkKeepsConcurrentUnsignedChange: another writer changes an unsigned
// attribute (a view counter, as WithUnsignedAttributes intends) between the
// walk's Scan and its PutItem. The header covers only signed attributes, so
// the walk's write is also conditioned on every unsigned attribute as read:
// it fails, the item is read again, and the change is kept ("a concurrent
// change is never overwritten"), for Store.Reencrypt and Items.Reencrypt.
func TestWalkKeepsConcurrentUnsignedChange(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-unsigned")
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views")}
	store := mustNew[countedDoc](t, db, table, opts...)
	for _, id := range []string{"store", "items"} {
		if err := store.Put(ctx, &countedDoc{ID: id, Token: "t", Views: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Map
	racing := &racingDB{Client: db, before: func(in *dynamodb.PutItemInput) {
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		if _, done := once.LoadOrStore(id, true); done {
			return
		}
		// Another writer counts a view meanwhile.
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
			Key:                       map[string]types.AttributeValue{"id": strAV(id)},
			UpdateExpression:          aws.String("SET #v = :v"),
			ExpressionAttributeNames:  map[string]string{"#v": "views"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "99"}},
		}); err != nil {
			t.Error(err)
		}
	}}
	walkStore := mustNew[countedDoc](t, racing, table, opts...)
	if _, err := walkStore.Reencrypt(ctx, dynacrypt.ReencryptOptions{All: true, Segments: 1, PageSize: 1,
		Progress: func(dynacrypt.ReencryptProgress) {}}); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, db, table, "store")["views"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "99"}) {
		t.Errorf("Store.Reencrypt overwrote a concurrent change of an unsigned attribute: views %v, want 99", got)
	}
	once = sync.Map{}
	items := tokenPinItems(t, table, cipher, dynacrypt.WithUnsignedAttributes("views"))
	if _, err := items.Reencrypt(ctx, racing, dynacrypt.ReencryptOptions{All: true, Segments: 1}); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, db, table, "items")["views"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "99"}) {
		t.Errorf("Items.Reencrypt overwrote a concurrent change of an unsigned attribute: views %v, want 99", got)
	}
}

// TestWalkRefusesVersionThatIsNotANumber: Items.Reencrypt increments the
// attribute WithVersion names. An operator names the wrong attribute
// (dynacrypt reencrypt -version note, or a typo of the attribute's case):
// the walk refuses an item whose version attribute is not a number, rather
// than replace its value with 1 and sign the loss.
func TestWalkRefusesVersionThatIsNotANumber(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-version")
	sealer := tokenPinItems(t, table, cipher)
	rawPut(t, db, table, mustSeal(t, sealer, tokenPinDoc("v1")))
	wrongVersion := tokenPinItems(t, table, cipher, dynacrypt.WithVersion("note"))
	p, err := wrongVersion.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true})
	t.Logf("walk with the version attribute named wrong: %+v, %v", p, err)
	got := rawGet(t, db, table, "v1")["note"]
	if !reflect.DeepEqual(got, strAV("note of v1")) {
		t.Errorf("a walk whose version attribute is a string replaced it: note is now %v, want it unchanged", got)
	}
}

// TestWalkRefusesForgedCheckpoint: a checkpoint is the walk's only input
// besides the table; a tampered one must not make it read anything but the
// table, nor end "successfully" having skipped items it was not told were
// done. A start key with a non-key attribute, another key name or another
// key type makes the walk fail, and a checkpoint of another segment count
// is refused.
func TestWalkRefusesForgedCheckpoint(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-checkpoint")
	it := tokenPinItems(t, table, cipher)
	for i := range 6 {
		rawPut(t, db, table, mustSeal(t, it, tokenPinDoc(fmt.Sprint("c", i))))
	}
	var cp string
	if _, err := it.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{Segments: 1, PageSize: 2, All: true,
		Progress: func(p dynacrypt.ReencryptProgress) {
			if cp == "" && p.Checkpoint != "" {
				cp = p.Checkpoint
			}
		}}); err != nil || cp == "" {
		t.Fatalf("first walk: %v, checkpoint %q", err, cp)
	}
	if _, err := it.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{Segments: 2, Checkpoint: cp}); err == nil {
		t.Error("a checkpoint of 1 segment resumed a walk of 2")
	}
	for name, start := range map[string]map[string]types.AttributeValue{
		"non-key attribute": {"id": strAV("c1"), "token": &types.AttributeValueMemberB{Value: []byte("x")}},
		"wrong key name":    {"other": strAV("c1")},
		"wrong key type":    {"id": &types.AttributeValueMemberN{Value: "1"}},
	} {
		p, err := it.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{Segments: 1, All: true, Checkpoint: forgeCheckpoint(t, start)})
		t.Logf("checkpoint with a start key of %s: %+v, %v", name, p, err)
		if err == nil {
			t.Errorf("a checkpoint whose start key has a %s resumed without error (%d scanned of 6), want an error", name, p.Scanned)
		}
	}
}

// forgeCheckpoint forges the checkpoint of a one-segment walk that goes on
// after start: {"done":[false],"starts":[canonical M]}, base64url, as the
// walk writes it.
func forgeCheckpoint(t *testing.T, start map[string]types.AttributeValue) string {
	t.Helper()
	enc, err := canonical.Append(nil, &types.AttributeValueMemberM{Value: start})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"done": []bool{false}, "starts": [][]byte{enc}})
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestWalkGivesUpOnRacingWriter: someone who writes the table races the
// walk's conditional writes. For one item they put back, before each of
// the walk's writes, one of two genuine versions in turn (a rollback, which
// the format allows): the walk gives up after its bounded retries (no
// endless loop), counts it Failed, and does not overwrite. For another they
// swap in a forgery between the walk's read and its write: the walk counts
// it Failed, never Rewritten, and never signs it.
func TestWalkGivesUpOnRacingWriter(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-race")
	it := tokenPinItems(t, table, cipher)
	v1 := mustSeal(t, it, tokenPinDoc("flip"))
	v2doc := tokenPinDoc("flip")
	v2doc["note"] = strAV("second note")
	v2 := mustSeal(t, it, v2doc)
	rawPut(t, db, table, v1)
	swap := mustSeal(t, it, tokenPinDoc("swap"))
	rawPut(t, db, table, swap)
	forged := mustSeal(t, it, tokenPinDoc("swap"))
	forged["note"] = strAV("mallory")

	var mu sync.Mutex
	flips, swapped := 0, false
	racing := &racingDB{Client: db, before: func(in *dynamodb.PutItemInput) {
		mu.Lock()
		defer mu.Unlock()
		switch in.Item["id"].(*types.AttributeValueMemberS).Value {
		case "flip":
			flips++
			if flips%2 == 1 {
				rawPut(t, db, table, v2)
			} else {
				rawPut(t, db, table, v1)
			}
		case "swap":
			if !swapped {
				swapped = true
				rawPut(t, db, table, forged)
			}
		}
	}}
	p, err := it.Reencrypt(ctx, racing, dynacrypt.ReencryptOptions{All: true, Segments: 1})
	t.Logf("walk against a racing writer: %+v after %d flips, %v", p, flips, err)
	if p.Failed != 2 || p.Rewritten != 0 || flips > 20 {
		t.Errorf("walk against a racing writer: %+v after %d flips; want 2 failed, none rewritten, at most 20 flips", p, flips)
	}
	if got := rawGet(t, db, table, "swap"); !reflect.DeepEqual(got, forged) {
		t.Error("the walk signed the forgery swapped in under it")
	}
	if got := rawGet(t, db, table, "flip"); !reflect.DeepEqual(got, v1) && !reflect.DeepEqual(got, v2) {
		t.Error("the walk overwrote the racing writer")
	}
}

// TestWalkConditionHoldsEveryUnsignedShape: the walk's condition holds
// every unsigned attribute as read ("#c = :v") and the absence of the
// others. Values of every shape an unsigned attribute may hold, names that
// need escaping, and a value of 300 KB do not make the condition fail on an
// unchanged item, which would fail that item on every walk (10 attempts,
// then Failed): each such item is rewritten and opens.
func TestWalkConditionHoldsEveryUnsignedShape(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-shapes")
	big := strings.Repeat("x", 300<<10)
	shapes := map[string]types.AttributeValue{
		"null":   &types.AttributeValueMemberNULL{Value: true},
		"bool":   &types.AttributeValueMemberBOOL{Value: false},
		"emptyS": strAV(""),
		"emptyB": &types.AttributeValueMemberB{Value: []byte{}},
		"num":    &types.AttributeValueMemberN{Value: "-0.000100"},
		"ss":     &types.AttributeValueMemberSS{Value: []string{"b", "a", "c"}},
		"ns":     &types.AttributeValueMemberNS{Value: []string{"10", "1.50", "-3"}},
		"bs":     &types.AttributeValueMemberBS{Value: [][]byte{{3}, {1, 2}}},
		"big":    strAV(big),
		"bin":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		// Lists and maps: dynalite compares them by reference, so the
		// condition fails there; DynamoDB compares them by value.
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{strAV("a"), &types.AttributeValueMemberN{Value: "1"}}},
		"map":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": strAV("v")}},
	}
	names := map[string]string{ // attribute name of each shape
		"null": "a.b", "bool": "#x", "emptyS": ":y", "emptyB": "size", "num": "with space", "ss": "ss",
		"ns": "ns", "bs": "bs", "big": "big", "bin": "bin", "list": "list", "map": "map",
	}
	var unsigned []string
	for _, n := range names {
		unsigned = append(unsigned, n)
	}
	unsigned = append(unsigned, "never-held-1", "never-held-2")
	it := tokenPinItems(t, table, cipher, dynacrypt.WithUnsignedAttributes(unsigned...))
	for shape, v := range shapes {
		doc := tokenPinDoc(shape)
		doc[names[shape]] = v
		rawPut(t, db, table, mustSeal(t, it, doc))
	}
	var failedMu sync.Mutex
	failed := map[string]error{}
	p, err := it.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true, Segments: 1,
		Failed: func(key map[string]types.AttributeValue, err error) {
			failedMu.Lock()
			defer failedMu.Unlock()
			failed[key["id"].(*types.AttributeValueMemberS).Value] = err
		}})
	t.Logf("walk: %+v, %v", p, err)
	for shape := range shapes {
		ferr, isFailed := failed[shape]
		switch {
		case isFailed && (shape == "list" || shape == "map"):
			t.Logf("unsigned %s: Failed on this server (%v): dynalite compares lists and maps by reference", shape, ferr)
		case isFailed:
			t.Errorf("an unchanged item with an unsigned %s attribute (%q) fails the walk: %v", shape, names[shape], ferr)
		default:
			got := rawGet(t, db, table, shape)
			if !reflect.DeepEqual(got["version"], &types.AttributeValueMemberN{Value: "4"}) {
				t.Errorf("unsigned %s: not rewritten (version %v)", shape, got["version"])
			}
			if _, err := it.Open(ctx, got); err != nil {
				t.Errorf("unsigned %s: rewritten item does not open: %v", shape, err)
			}
		}
	}
}

// conditionRecorder records the condition expressions of PutItem requests.
type conditionRecorder struct {
	*dynamodb.Client
	mu    sync.Mutex
	conds []string
}

func (r *conditionRecorder) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.mu.Lock()
	r.conds = append(r.conds, aws.ToString(in.ConditionExpression))
	r.mu.Unlock()
	return r.Client.PutItem(ctx, in, opts...)
}

// TestWalkConditionWithinDynamoDBLimits: the walk's condition gets one
// attribute_not_exists per declared unsigned attribute the item does not
// hold (for a legacy item, per legacy attribute). DynamoDB refuses a
// condition expression over 4 KB or with more than 300 operators and
// functions, which would fail such an item on every walk; dynalite checks
// neither, so the requests are checked here. NewItems refuses more than
// MaxUnsignedAttributes (140 would make a condition of 4,381 bytes), and
// with that many the condition fits.
func TestWalkConditionWithinDynamoDBLimits(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("walk-limits")
	names := func(n int) []string {
		var unsigned []string
		for i := range n {
			unsigned = append(unsigned, fmt.Sprintf("counter%03d", i))
		}
		return unsigned
	}
	if _, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher),
		dynacrypt.WithUnsignedAttributes(names(140)...)); err == nil || !strings.Contains(err.Error(), "WithUnsignedAttributes") {
		t.Errorf("NewItems with 140 unsigned attributes: %v, want an error naming WithUnsignedAttributes", err)
	}
	it := tokenPinItems(t, table, cipher, dynacrypt.WithUnsignedAttributes(names(dynacrypt.MaxUnsignedAttributes)...))
	rawPut(t, db, table, mustSeal(t, it, tokenPinDoc("wide")))
	rec := &conditionRecorder{Client: db}
	if p, err := it.Reencrypt(ctx, rec, dynacrypt.ReencryptOptions{All: true, Segments: 1}); err != nil || p.Rewritten != 1 {
		t.Fatalf("walk: %+v, %v", p, err)
	}
	if len(rec.conds) == 0 {
		t.Fatal("no condition recorded")
	}
	for _, c := range rec.conds {
		ops := strings.Count(c, " AND ") + strings.Count(c, "attribute_not_exists(") + strings.Count(c, " = ")
		t.Logf("condition of %d bytes, %d operators and functions", len(c), ops)
		if len(c) > 4096 || ops > 300 {
			t.Errorf("the walk's condition is %d bytes with %d operators and functions; DynamoDB refuses more than 4096 bytes or 300 (ValidationException): the item would fail on every walk",
				len(c), ops)
		}
	}
}

// TestWalkOverMixedSuitesRewritesNoForgery: a table holds suite-1 and
// suite-2 items under an old KMS key, and forgeries of both suites (a
// ciphertext retyped or moved into a plaintext attribute, a header swapped
// between suites). The walk under a new key rewrites the genuine ones into
// suite 2, readable after, and none of the forgeries, which stay
// ErrIntegrity with no plaintext in the error.
func TestWalkOverMixedSuitesRewritesNoForgery(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	client, _ := testrig.KMS(t)
	old2 := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	old1 := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)), dynacrypt.WithWriteSuite(dynacrypt.Suite1))
	for i := 0; i < 6; i++ {
		s := old2
		if i%2 == 1 {
			s = old1
		}
		if err := s.Put(ctx, &User{ID: userID(i), Username: "u", Token: sealedSecret + userID(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Forgeries: token as S (suite 2 and 1), token bytes moved into
	// username (suite 2), headers swapped between suites.
	forge := func(id, from string, f func(raw map[string]types.AttributeValue)) {
		raw := rawGet(t, db, table, from)
		raw["id"] = strAV(id)
		f(raw)
		rawPut(t, db, table, raw)
	}
	forge("f-s2-S", userID(0), func(raw map[string]types.AttributeValue) { raw["token"] = strAV("x") })
	forge("f-s1-S", userID(1), func(raw map[string]types.AttributeValue) { raw["token"] = strAV("x") })
	forge("f-s2-own", userID(2), func(raw map[string]types.AttributeValue) {})
	forge("f-s2-hdr1", userID(2), func(raw map[string]types.AttributeValue) { raw[hdr] = rawGet(t, db, table, userID(3))[hdr] })
	forge("f-s2-userB", userID(4), func(raw map[string]types.AttributeValue) { raw["username"] = raw["token"]; delete(raw, "token") })

	kc, _ := testrig.KMS(t)
	walker := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kc, testrig.KeyB).WithPreviousKeys(testrig.KeyA)))
	progress, err := walker.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	t.Logf("walk: %+v, %v", progress, shortErr(err))
	if progress.Rewritten != 6 {
		t.Errorf("walk rewrote %d items, want the 6 genuine ones", progress.Rewritten)
	}
	for i := 0; i < 6; i++ {
		h := headerOf(t, rawGet(t, db, table, userID(i)))
		got, err := walker.Get(ctx, User{ID: userID(i)})
		if err != nil || got.Token != sealedSecret+userID(i) || h[1] != 2 {
			t.Errorf("after the walk %s: suite %d, %v, %v", userID(i), h[1], got, err)
		}
	}
	for _, id := range []string{"f-s2-S", "f-s1-S", "f-s2-own", "f-s2-hdr1", "f-s2-userB"} {
		got, err := walker.Get(ctx, User{ID: id})
		if !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("forgery %s after the walk: %v, %v; want ErrIntegrity", id, got, err)
		}
		if err != nil && strings.Contains(err.Error(), sealedSecret) {
			t.Errorf("the error for forgery %s holds plaintext: %v", id, err)
		}
	}
}
