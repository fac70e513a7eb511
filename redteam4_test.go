package dynacrypt_test

// Red-team attacks on the re-encryption walk shared by Store.Reencrypt and
// Items.Reencrypt (branch redteam4). Each test asserts the safe behaviour,
// so it fails when the attack works.

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
)

func rt4S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// rt4Items returns Items of table over cipher; opts come last.
func rt4Items(t *testing.T, table string, cipher dynacrypt.Cipher, opts ...dynacrypt.Option) *dynacrypt.Items {
	t.Helper()
	it, err := dynacrypt.NewItems(table, append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithEncryptedAttributes("token", "pin"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// rt4Seal seals item with it, or fails the test.
func rt4Seal(t *testing.T, it *dynacrypt.Items, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := it.Seal(context.Background(), item)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rt4Doc(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"id": rt4S(id), "note": rt4S("note of " + id), "token": rt4S("token of " + id),
		"pin": rt4S("pin of " + id), "version": &types.AttributeValueMemberN{Value: "3"}}
}

// TestRedTeam4WalkRefusesBadItems: a walk with All (every item rewritten
// under a fresh root key) meets, beside genuine items, what an attacker
// with write access to the table can put there: an item with an edited
// attribute, one with an added attribute, one with an attribute removed,
// an item sealed for another table, a genuine item moved to another key,
// one without a header, one whose header is of another type, and (operator
// or attacker) an item with an encrypted attribute the walk does not
// declare. None may be rewritten (signed under the new root key), each is
// counted Failed, the genuine ones Rewritten; the errors show no plaintext.
// Then the same with tenants: an item moved under another tenant.
func TestRedTeam4WalkRefusesBadItems(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam4")
	it := rt4Items(t, table, cipher)
	const genuine = 4
	for i := range genuine {
		rawPut(t, db, table, rt4Seal(t, it, rt4Doc(fmt.Sprint("g", i))))
	}
	bad := map[string]map[string]types.AttributeValue{}
	edited := rt4Seal(t, it, rt4Doc("edited"))
	edited["note"] = rt4S("mallory's note")
	bad["edited"] = edited
	added := rt4Seal(t, it, rt4Doc("added"))
	added["role"] = rt4S("admin")
	bad["added"] = added
	removed := rt4Seal(t, it, rt4Doc("removed"))
	delete(removed, "pin")
	bad["removed"] = removed
	bad["other-table"] = rt4Seal(t, rt4Items(t, "another-table", cipher), rt4Doc("other-table"))
	moved := rt4Seal(t, it, rt4Doc("g0"))
	moved["id"] = rt4S("moved")
	bad["moved"] = moved
	bad["plain"] = rt4Doc("plain")
	typed := rt4Seal(t, it, rt4Doc("typed"))
	typed[dynacrypt.DefaultHeaderAttribute] = rt4S("x")
	bad["typed"] = typed
	// Sealed by Items that also encrypt "ssn": the walk's Items do not.
	undeclared := rt4Doc("undeclared")
	undeclared["ssn"] = rt4S("ssn of undeclared")
	bad["undeclared"] = rt4Seal(t, rt4Items(t, table, cipher, dynacrypt.WithEncryptedAttributes("ssn")), undeclared)
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
		t.Errorf("ATTACK WORKS: walk rewrote %d items and failed %d; want %d rewritten, %d failed", p.Rewritten, p.Failed, genuine, len(bad))
	}
	for id, item := range bad {
		if got := rawGet(t, db, table, id); !reflect.DeepEqual(got, item) {
			t.Errorf("ATTACK WORKS: the walk rewrote the %s item: %v", id, got)
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
		if err != nil || !reflect.DeepEqual(got["token"], rt4S("token of "+id)) || !reflect.DeepEqual(got["version"], &types.AttributeValueMemberN{Value: "4"}) {
			t.Errorf("genuine %s after the walk: %v, %v", id, got, err)
		}
	}

	// Tenants: an item of tenant a moved under tenant b.
	_, tt := usersTable(t)
	tenantItems := rt4Items(t, tt, cipher, dynacrypt.WithTenantAttribute("tenant"))
	a := rt4Doc("ta")
	a["tenant"] = rt4S("a")
	rawPut(t, db, tt, rt4Seal(t, tenantItems, a))
	m := rt4Seal(t, tenantItems, a)
	m["tenant"], m["id"] = rt4S("b"), rt4S("tb")
	rawPut(t, db, tt, m)
	p, err = tenantItems.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true})
	if p.Rewritten != 1 || p.Failed != 1 || !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("tenant walk: %+v, %v; want 1 rewritten, 1 failed (ErrIntegrity)", p, err)
	}
	if got := rawGet(t, db, tt, "tb"); !reflect.DeepEqual(got, m) {
		t.Error("ATTACK WORKS: the walk rewrote an item moved under another tenant")
	}
}

// rt4Counted is a document with an attribute that other writers update
// (a view counter), declared unsigned as WithUnsignedAttributes intends.
type rt4Counted struct {
	ID      string `dynamodbav:"id"`
	Token   string `dynamodbav:"token" encrypt:"kms"`
	Views   int    `dynamodbav:"views"`
	Version int64  `dynamodbav:"version"`
}

// TestRedTeam4WalkOverwritesUnsignedChange: the walk promises "a
// concurrent change is never overwritten", but its write's condition is
// the header alone, which covers only signed attributes. An unsigned
// attribute ("attributes other writers may change") changed by another
// writer between the walk's Scan and its PutItem is put back to the value
// the walk read: a lost update, for Store.Reencrypt and Items.Reencrypt.
func TestRedTeam4WalkOverwritesUnsignedChange(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam4-unsigned")
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views")}
	store := mustNew[rt4Counted](t, db, table, opts...)
	for _, id := range []string{"store", "items"} {
		if err := store.Put(ctx, &rt4Counted{ID: id, Token: "t", Views: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Map
	racing := &rtRacingDB{Client: db, before: func(in *dynamodb.PutItemInput) {
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		if _, done := once.LoadOrStore(id, true); done {
			return
		}
		// Another writer counts a view meanwhile.
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
			Key:                       map[string]types.AttributeValue{"id": rt4S(id)},
			UpdateExpression:          aws.String("SET #v = :v"),
			ExpressionAttributeNames:  map[string]string{"#v": "views"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "99"}},
		}); err != nil {
			t.Error(err)
		}
	}}
	walkStore := mustNew[rt4Counted](t, racing, table, opts...)
	if _, err := walkStore.Reencrypt(ctx, dynacrypt.ReencryptOptions{All: true, Segments: 1, PageSize: 1,
		Progress: func(dynacrypt.ReencryptProgress) {}}); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, db, table, "store")["views"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "99"}) {
		t.Errorf("ATTACK WORKS: Store.Reencrypt overwrote a concurrent change of an unsigned attribute: views %v, want 99", got)
	}
	once = sync.Map{}
	items := rt4Items(t, table, cipher, dynacrypt.WithUnsignedAttributes("views"))
	if _, err := items.Reencrypt(ctx, racing, dynacrypt.ReencryptOptions{All: true, Segments: 1}); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, db, table, "items")["views"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "99"}) {
		t.Errorf("ATTACK WORKS: Items.Reencrypt overwrote a concurrent change of an unsigned attribute: views %v, want 99", got)
	}
}

// TestRedTeam4ItemsWalkVersionNotANumber: Items.Reencrypt increments the
// attribute WithVersion names, and takes any value that is not a number
// for version 0: a version flag naming the wrong attribute (dynacrypt
// reencrypt -version note, or a typo of the attribute's case) replaces that
// attribute's value with 1 in every item, and signs the loss. The safe
// outcome is to refuse an item whose version attribute is not a number.
func TestRedTeam4ItemsWalkVersionNotANumber(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam4-version")
	sealer := rt4Items(t, table, cipher)
	rawPut(t, db, table, rt4Seal(t, sealer, rt4Doc("v1")))
	wrongVersion := rt4Items(t, table, cipher, dynacrypt.WithVersion("note"))
	p, err := wrongVersion.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true})
	t.Logf("walk with the version attribute named wrong: %+v, %v", p, err)
	got := rawGet(t, db, table, "v1")["note"]
	if !reflect.DeepEqual(got, rt4S("note of v1")) {
		t.Errorf("ATTACK WORKS: a walk whose version attribute is a string replaced it: note is now %v (the value is gone, and signed)", got)
	}
}

// TestRedTeam4LegacyPromotionDropsAddedAttribute: the walk promotes a
// listed legacy item with a PutItem on condition that no header exists and
// each attribute it read is unchanged. An attribute added meanwhile (by the
// old code still running, as the README's rollout allows) is not in that
// condition: the promotion succeeds and the added attribute is gone. The
// README says "a concurrent change is re-read, never overwritten".
//
// The attribute added is one the legacy writer writes (LegacyAttributes:
// here username, absent when the snapshot was taken): an attribute outside
// them makes the item no legacy item at all, which no read accepts, and a
// Store keeps only its own attributes.
func TestRedTeam4LegacyPromotionDropsAddedAttribute(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 2)
	for i := range 2 {
		if _, err := lt.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &lt.table,
			Key:              map[string]types.AttributeValue{"id": rt4S(userID(i))},
			UpdateExpression: aws.String("REMOVE username"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	manifest := lt.snapshot(t)
	var once sync.Map
	racing := &rtRacingDB{Client: lt.db, before: func(in *dynamodb.PutItemInput) {
		if in.ConditionExpression == nil || !strings.Contains(*in.ConditionExpression, "attribute_not_exists") {
			return
		}
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		if _, done := once.LoadOrStore(id, true); done {
			return
		}
		if _, err := lt.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &lt.table,
			Key:                       map[string]types.AttributeValue{"id": rt4S(id)},
			UpdateExpression:          aws.String("SET #l = :l"),
			ExpressionAttributeNames:  map[string]string{"#l": "username"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":l": rt4S("added by the old code")},
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
			t.Errorf("ATTACK WORKS: %s: the promotion dropped an attribute the old code added meanwhile (promoted: %t)", userID(i), raw[hdr] != nil)
		}
	}
}

// TestRedTeam4WalkCheckpointShapes: a checkpoint is the walk's only input
// besides the table; a tampered one must not make it read anything but the
// table, nor end "successfully" having skipped items it was not told were
// done. Start keys that are not keys of the table make the walk fail; a
// checkpoint of another segment count is refused.
func TestRedTeam4WalkCheckpointShapes(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam4-checkpoint")
	it := rt4Items(t, table, cipher)
	for i := range 6 {
		rawPut(t, db, table, rt4Seal(t, it, rt4Doc(fmt.Sprint("c", i))))
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
		"non-key attribute": {"id": rt4S("c1"), "token": &types.AttributeValueMemberB{Value: []byte("x")}},
		"wrong key name":    {"other": rt4S("c1")},
		"wrong key type":    {"id": &types.AttributeValueMemberN{Value: "1"}},
	} {
		p, err := it.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{Segments: 1, All: true, Checkpoint: rt4Checkpoint(t, start)})
		t.Logf("checkpoint with a start key of %s: %+v, %v", name, p, err)
		if err == nil {
			t.Errorf("ATTACK WORKS: a checkpoint whose start key has a %s resumed without error (%d scanned of 6)", name, p.Scanned)
		}
	}
}

// rt4Checkpoint forges the checkpoint of a one-segment walk that goes on
// after start: {"done":[false],"starts":[canonical M]}, base64url, as the
// walk writes it.
func rt4Checkpoint(t *testing.T, start map[string]types.AttributeValue) string {
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

// TestRedTeam4WalkRacingWriter: an attacker races the walk's conditional
// writes. For one item they put back, before each of the walk's writes,
// one of two genuine versions in turn (a rollback, which the format allows):
// the walk must give up after its bounded retries (no endless loop), count
// it Failed, and not overwrite. For another they swap in a forgery between
// the walk's read and its write: the walk must count it Failed, never
// Rewritten, and never sign it.
func TestRedTeam4WalkRacingWriter(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam4-race")
	it := rt4Items(t, table, cipher)
	v1 := rt4Seal(t, it, rt4Doc("flip"))
	v2doc := rt4Doc("flip")
	v2doc["note"] = rt4S("second note")
	v2 := rt4Seal(t, it, v2doc)
	rawPut(t, db, table, v1)
	swap := rt4Seal(t, it, rt4Doc("swap"))
	rawPut(t, db, table, swap)
	forged := rt4Seal(t, it, rt4Doc("swap"))
	forged["note"] = rt4S("mallory")

	var mu sync.Mutex
	flips, swapped := 0, false
	racing := &rtRacingDB{Client: db, before: func(in *dynamodb.PutItemInput) {
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
		t.Errorf("ATTACK WORKS: walk against a racing writer: %+v after %d flips; want 2 failed, none rewritten", p, flips)
	}
	if got := rawGet(t, db, table, "swap"); !reflect.DeepEqual(got, forged) {
		t.Error("ATTACK WORKS: the walk signed the forgery swapped in under it")
	}
	if got := rawGet(t, db, table, "flip"); !reflect.DeepEqual(got, v1) && !reflect.DeepEqual(got, v2) {
		t.Error("ATTACK WORKS: the walk overwrote the racing writer")
	}
}
