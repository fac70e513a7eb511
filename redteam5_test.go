package dynacrypt_test

// Red-team attacks of branch redteam5 on the write conditions of Update and
// of the re-encryption walk, and on the refusal of undeclared encrypted
// attributes. Each test asserts the safe behaviour, so it fails when the
// attack works.

import (
	"context"
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
)

// rt5AddView counts a view of item id as another writer does: UpdateItem
// ADD on the unsigned attribute, no version, no header change.
func rt5AddView(t *testing.T, db *dynamodb.Client, table, id string) {
	t.Helper()
	if _, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: &table,
		Key:                       map[string]types.AttributeValue{"id": rt4S(id)},
		UpdateExpression:          aws.String("ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#v": "views"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Error(err)
	}
}

// rt5Unversioned is rt4Counted without a version.
type rt5Unversioned struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	Views int    `dynamodbav:"views"`
}

// TestRedTeam5VersionedUpdateLosesUnsignedChange: WithUnsignedAttributes
// is "for attributes other writers change, such as counters updated with
// UpdateItem ADD", and Update promises "no update is ever lost". The fix of
// red team 4 conditions Update on the unsigned attributes as read only for
// legacy and unversioned Stores; a versioned Store's Update (and its
// IfVersion form) writes on the version alone, which the other writer's ADD
// does not change. A view counted between Update's read and its write is
// put back to the value read.
func TestRedTeam5VersionedUpdateLosesUnsignedChange(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam5-update")
	racing := &rtRacingDB{Client: db}
	var raced sync.Map
	racing.before = func(in *dynamodb.PutItemInput) {
		id := in.Item["id"].(*types.AttributeValueMemberS).Value
		if _, done := raced.LoadOrStore(id, true); !done {
			rt5AddView(t, db, table, id) // between Update's read and its write
		}
	}

	// Control: an unversioned Store (the case the fix covers).
	unv := mustNew[rt5Unversioned](t, racing, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views"))
	raced.Store("unversioned", true)
	if err := unv.Put(ctx, &rt5Unversioned{ID: "unversioned", Token: "t", Views: 1}); err != nil {
		t.Fatal(err)
	}
	raced.Delete("unversioned")
	if _, err := unv.Update(ctx, rt5Unversioned{ID: "unversioned"}, func(u *rt5Unversioned) error { u.Token = "t2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, db, table, "unversioned")["views"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "2"}) {
		t.Errorf("unversioned Update lost a concurrent ADD: views %v, want 2", got)
	}

	// A versioned Store: Update and Update with IfVersion.
	ver := mustNew[rt4Counted](t, racing, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("views"))
	for _, c := range []struct {
		id   string
		opts []dynacrypt.UpdateOption
	}{{"versioned", nil}, {"if-version", []dynacrypt.UpdateOption{dynacrypt.IfVersion(1)}}} {
		raced.Store(c.id, true)
		if err := ver.Put(ctx, &rt4Counted{ID: c.id, Token: "t", Views: 1}); err != nil {
			t.Fatal(err)
		}
		raced.Delete(c.id)
		_, err := ver.Update(ctx, rt4Counted{ID: c.id}, func(u *rt4Counted) error { u.Token = "t2"; return nil }, c.opts...)
		got := rawGet(t, db, table, c.id)["views"]
		switch {
		case err != nil && (errors.Is(err, dynacrypt.ErrConflict) || errors.Is(err, dynacrypt.ErrStale)):
			t.Logf("%s: Update refused (%v), views %v: safe", c.id, err, got)
		case err != nil:
			t.Fatalf("%s: %v", c.id, err)
		case !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "2"}):
			t.Errorf("ATTACK WORKS (%s): a versioned Store's Update overwrote a concurrent UpdateItem ADD of the unsigned counter: views %v, want 2",
				c.id, got)
		}
	}
}

// TestRedTeam5WalkUnsignedShapes: the walk's condition now holds every
// unsigned attribute as read ("#c = :v") and the absence of the others.
// Values of every shape an unsigned attribute may hold, names that need
// escaping, and a value of 300 KB must not make the condition fail on an
// unchanged item (it would fail the item forever: 10 attempts, then
// Failed).
func TestRedTeam5WalkUnsignedShapes(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam5-shapes")
	big := strings.Repeat("x", 300<<10)
	shapes := map[string]types.AttributeValue{
		"null":   &types.AttributeValueMemberNULL{Value: true},
		"bool":   &types.AttributeValueMemberBOOL{Value: false},
		"emptyS": rt4S(""),
		"emptyB": &types.AttributeValueMemberB{Value: []byte{}},
		"num":    &types.AttributeValueMemberN{Value: "-0.000100"},
		"ss":     &types.AttributeValueMemberSS{Value: []string{"b", "a", "c"}},
		"ns":     &types.AttributeValueMemberNS{Value: []string{"10", "1.50", "-3"}},
		"bs":     &types.AttributeValueMemberBS{Value: [][]byte{{3}, {1, 2}}},
		"big":    rt4S(big),
		"bin":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		// Lists and maps: see the note in the report (dynalite compares
		// them by reference).
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{rt4S("a"), &types.AttributeValueMemberN{Value: "1"}}},
		"map":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": rt4S("v")}},
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
	it := rt4Items(t, table, cipher, dynacrypt.WithUnsignedAttributes(unsigned...))
	for shape, v := range shapes {
		doc := rt4Doc(shape)
		doc[names[shape]] = v
		rawPut(t, db, table, rt4Seal(t, it, doc))
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
			t.Errorf("ATTACK WORKS: an unchanged item with an unsigned %s attribute (%q) fails the walk: %v", shape, names[shape], ferr)
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

// rt5Conditions records the condition expressions of PutItem requests.
type rt5Conditions struct {
	*dynamodb.Client
	mu    sync.Mutex
	conds []string
}

func (r *rt5Conditions) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.mu.Lock()
	r.conds = append(r.conds, aws.ToString(in.ConditionExpression))
	r.mu.Unlock()
	return r.Client.PutItem(ctx, in, opts...)
}

// TestRedTeam5ConditionWithinDynamoDBLimits: the walk's condition gets one
// attribute_not_exists per declared unsigned attribute the item does not
// hold (for a legacy item, per legacy attribute). DynamoDB refuses a
// condition expression over 4 KB or with more than 300 operators and
// functions; dynalite does not check either, so the requests are checked
// here. The red team's 140 unsigned attributes made a condition of 4,381
// bytes: New now refuses more than MaxUnsignedAttributes, and at that many
// the condition fits.
func TestRedTeam5ConditionWithinDynamoDBLimits(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam5-limits")
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
	it := rt4Items(t, table, cipher, dynacrypt.WithUnsignedAttributes(names(dynacrypt.MaxUnsignedAttributes)...))
	rawPut(t, db, table, rt4Seal(t, it, rt4Doc("wide")))
	rec := &rt5Conditions{Client: db}
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
			t.Errorf("ATTACK WORKS: the walk's condition is %d bytes with %d operators and functions; DynamoDB refuses more than 4096 bytes or 300 (ValidationException): the item fails on every walk",
				len(c), ops)
		}
	}
}

// TestRedTeam5UndeclaredEncryptedAttribute: Items.Open and the walks
// refuse an item with an encrypted attribute left out of
// WithEncryptedAttributes. Ways round it: the attribute declared unsigned
// instead, or read by Items without the check through a Store's walk; and
// false positives: plaintext binaries, binary sets, binaries nested in maps
// and lists, a binary unsigned attribute and a binary sort key must not be
// taken for ciphertexts.
func TestRedTeam5UndeclaredEncryptedAttribute(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := dynacrypttest.NewCipherWithKey("redteam5-undeclared")
	full := rt4Items(t, table, cipher, dynacrypt.WithUnsignedAttributes("avatar2"))
	sealed := rt4Seal(t, full, rt4Doc("u1"))

	forgot, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("avatar2"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := forgot.Open(ctx, cloneItem(sealed)); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("ATTACK WORKS: pin left out of -encrypted: Open gave %v, %v", got["pin"], err)
	}
	asUnsigned, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("pin"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := asUnsigned.Open(ctx, cloneItem(sealed)); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("ATTACK WORKS: pin declared unsigned instead of encrypted: Open gave %v, %v", got["pin"], err)
	}
	rawPut(t, db, table, sealed)
	if p, _ := asUnsigned.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true, Segments: 1}); p.Rewritten != 0 {
		t.Errorf("ATTACK WORKS: a walk with pin declared unsigned rewrote the item (%+v)", p)
	}
	if raw := rawGet(t, db, table, "u1"); !reflect.DeepEqual(raw, sealed) {
		t.Error("ATTACK WORKS: the item changed")
	}

	// False positives: binaries of every kind that are not ciphertexts,
	// among them copies of the item's own ciphertexts moved elsewhere.
	pin := sealed["pin"].(*types.AttributeValueMemberB).Value
	doc := rt4Doc("u2")
	doc["avatar"] = &types.AttributeValueMemberB{Value: []byte("\x89PNG...")}
	doc["avatar2"] = &types.AttributeValueMemberB{Value: pin} // unsigned
	doc["pins"] = &types.AttributeValueMemberBS{Value: [][]byte{pin, {1}}}
	doc["nested"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"pin": &types.AttributeValueMemberB{Value: pin}}}
	doc["listed"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberB{Value: pin}}}
	doc["pincopy"] = &types.AttributeValueMemberB{Value: pin}
	genuine := rt4Seal(t, full, doc)
	if _, err := full.Open(ctx, cloneItem(genuine)); err != nil {
		t.Errorf("ATTACK WORKS (false positive): an item with plaintext binaries does not open: %v", err)
	}
	rawPut(t, db, table, genuine)
	if p, err := full.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true, Segments: 1}); p.Failed != 0 || p.Rewritten != 2 {
		t.Errorf("ATTACK WORKS (false positive): a walk declaring every encrypted attribute, over u1 and u2: %+v, %v", p, err)
	}
}

// TestRedTeam5UndeclaredBinarySortKey: a table whose sort key is binary
// holds items whose key value is any bytes, never a ciphertext; they open.
// And an undeclared encrypted attribute whose name the walk's codec sees
// as a key of another table cannot hide.
func TestRedTeam5UndeclaredBinarySortKey(t *testing.T) {
	ctx := context.Background()
	db := dynacrypttest.DynamoDB(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id"), SortKey: dynacrypttest.B("blob")})
	cipher := dynacrypttest.NewCipherWithKey("redteam5-binkey")
	it, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithSortKey("blob"),
		dynacrypt.WithEncryptedAttributes("token", "pin"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]types.AttributeValue{"id": rt4S("k"), "blob": &types.AttributeValueMemberB{Value: []byte{9, 9}},
		"token": rt4S("tok"), "pin": rt4S("1234")}
	sealed := rt4Seal(t, it, doc)
	if _, err := it.Open(ctx, cloneItem(sealed)); err != nil {
		t.Errorf("binary sort key: %v", err)
	}
	// The same item, read by Items that forgot pin.
	forgot, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithSortKey("blob"),
		dynacrypt.WithEncryptedAttributes("token"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forgot.Open(ctx, cloneItem(sealed)); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("ATTACK WORKS: pin forgotten, binary sort key: %v", err)
	}
}
