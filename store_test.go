package dynacrypt_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

type Address struct {
	Street string
	Zip    int
}

// Kinds has an encrypted field of every kind attributevalue marshals.
type Kinds struct {
	ID        string             `dynamodbav:"id"`
	Name      string             `dynamodbav:"name"`
	Str       string             `dynamodbav:"str" encrypt:"kms"`
	Bytes     []byte             `dynamodbav:"bytes" encrypt:"kms"`
	Int       int64              `dynamodbav:"int" encrypt:"kms"`
	Uint      uint32             `dynamodbav:"uint" encrypt:"kms"`
	Float     float64            `dynamodbav:"float" encrypt:"kms"`
	Bool      bool               `dynamodbav:"bool" encrypt:"kms"`
	Time      time.Time          `dynamodbav:"time" encrypt:"kms"`
	Ptr       *string            `dynamodbav:"ptr" encrypt:"kms"`
	NilPtr    *string            `dynamodbav:"nilptr" encrypt:"kms"`
	List      []string           `dynamodbav:"list" encrypt:"kms"`
	Mixed     []any              `dynamodbav:"mixed" encrypt:"kms"`
	Map       map[string]int     `dynamodbav:"map" encrypt:"kms"`
	Nested    Address            `dynamodbav:"nested" encrypt:"kms"`
	NestedPtr *Address           `dynamodbav:"nestedptr" encrypt:"kms"`
	SS        []string           `dynamodbav:"ss,stringset" encrypt:"kms"`
	NS        []int              `dynamodbav:"ns,numberset" encrypt:"kms"`
	BS        [][]byte           `dynamodbav:"bs,binaryset" encrypt:"kms"`
	SetMap    map[string]bool    `dynamodbav:"setmap,stringset" encrypt:"kms"`
	Omitted   string             `dynamodbav:"omitted,omitempty" encrypt:"kms"`
	Deep      map[string][]int64 `dynamodbav:"deep" encrypt:"kms"`
	Version   int64              `dynamodbav:"v"`
}

func sampleKinds(id string) *Kinds {
	ptr := "secret-pointer-value"
	return &Kinds{
		ID:        id,
		Name:      "plain-name",
		Str:       "secret-string-value",
		Bytes:     []byte("secret-bytes-value"),
		Int:       -4242424242,
		Uint:      3141592653,
		Float:     2718.281828,
		Bool:      true,
		Time:      time.Date(2026, 11, 26, 12, 34, 56, 789, time.UTC),
		Ptr:       &ptr,
		List:      []string{"secret-list-a", "secret-list-b"},
		Mixed:     []any{"secret-mixed", 77.5, true, nil, map[string]any{"k": "secret-mixed-map"}},
		Map:       map[string]int{"secret-map-key": 999111},
		Nested:    Address{Street: "secret-street", Zip: 90210},
		NestedPtr: &Address{Street: "secret-street-2", Zip: 10001},
		SS:        []string{"secret-ss-b", "secret-ss-a"},
		NS:        []int{868686, 353535},
		BS:        [][]byte{[]byte("secret-bs-1"), []byte("secret-bs-2")},
		SetMap:    map[string]bool{"secret-setmap": true},
		Deep:      map[string][]int64{"secret-deep": {123456789, 987654321}},
	}
}

// secretsOf lists byte strings that must not appear anywhere in a stored
// item: every plaintext of Kinds' encrypted fields that is distinctive.
func secretsOf(k *Kinds) [][]byte {
	return [][]byte{
		[]byte(k.Str), k.Bytes, []byte("4242424242"), []byte("3141592653"), []byte("2718.281828"),
		[]byte("2026-11-26T12:34:56"), []byte(*k.Ptr), []byte("secret-list-a"), []byte("secret-list-b"),
		[]byte("secret-mixed"), []byte("77.5"), []byte("secret-map-key"), []byte("999111"),
		[]byte("secret-street"), []byte("90210"), []byte("10001"), []byte("secret-ss-a"),
		[]byte("868686"), []byte("353535"), []byte("secret-bs-1"), []byte("secret-setmap"),
		[]byte("secret-deep"), []byte("123456789"), []byte("secret"),
	}
}

// sameKinds compares Kinds values, sets in any order: they come back in the
// server's.
func sameKinds(got, want *Kinds) bool {
	g, w := *got, *want
	for _, k := range []*Kinds{&g, &w} {
		k.SS = slices.Sorted(slices.Values(k.SS))
		k.NS = slices.Sorted(slices.Values(k.NS))
		k.BS = slices.SortedFunc(slices.Values(k.BS), bytes.Compare)
	}
	return reflect.DeepEqual(&g, &w)
}

func TestFieldKindsRoundTrip(t *testing.T) {
	for _, cc := range allCiphers {
		t.Run(cc.name, func(t *testing.T) {
			db, table := usersTable(t)
			store := mustNew[Kinds](t, db, table, dynacrypt.WithPartitionKey("id"),
				dynacrypt.WithVersion("v"), dynacrypt.WithCipher(cc.make(t)))
			ctx := context.Background()

			want := sampleKinds("k1")
			if err := store.Put(ctx, want); err != nil {
				t.Fatal(err)
			}
			if want.Version != 1 {
				t.Fatalf("version after create = %d, want 1", want.Version)
			}
			got, err := store.Get(ctx, Kinds{ID: "k1"}, dynacrypt.ConsistentRead())
			if err != nil {
				t.Fatal(err)
			}
			if !sameKinds(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}

			raw := rawGet(t, db, table, "k1")
			if _, ok := raw["omitted"]; ok {
				t.Error("omitempty field was stored")
			}
			for name, v := range raw {
				enc, err := canonical.Append(nil, v)
				if err != nil {
					t.Fatal(err)
				}
				for _, secret := range secretsOf(want) {
					if bytes.Contains(enc, secret) {
						t.Errorf("stored attribute %q contains plaintext %q", name, secret)
					}
				}
			}
			if s, ok := raw["name"].(*types.AttributeValueMemberS); !ok || s.Value != "plain-name" {
				t.Errorf("plaintext field stored as %#v", raw["name"])
			}
			if _, ok := raw["str"].(*types.AttributeValueMemberB); !ok {
				t.Errorf("encrypted field stored as %T, want binary", raw["str"])
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	db, table := usersTable(t)
	users := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(newAES(t)))
	ctx := context.Background()

	u := &User{ID: "u1", Username: "ana", Token: "tok-1"}
	if err := users.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, &User{ID: "u1", Username: "eve"}); !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}

	stale := *u // version 1
	u.Username = "ana.b"
	if err := users.Put(ctx, u); err != nil || u.Version != 2 {
		t.Fatalf("update: %v, version %d", err, u.Version)
	}
	stale.Username = "lost"
	err := users.Put(ctx, &stale)
	if !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("stale put: %v, want ErrConflict", err)
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Errorf("stale put error does not wrap the SDK exception: %v", err)
	}
	if stale.Version != 1 || stale.Username != "lost" {
		t.Errorf("failed put changed the item: %+v", stale)
	}
	got, err := users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead())
	if err != nil || got.Username != "ana.b" || got.Version != 2 || got.Token != "tok-1" {
		t.Fatalf("after stale put: %+v, %v", got, err)
	}

	if err := users.Delete(ctx, User{ID: "u1", Version: 1}); !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("stale delete: %v, want ErrConflict", err)
	}
	if err := users.Delete(ctx, User{ID: "u1", Version: 2}); err != nil {
		t.Fatalf("delete at current version: %v", err)
	}
	if _, err := users.Get(ctx, User{ID: "u1"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if err := users.Delete(ctx, User{ID: "u1"}); err != nil {
		t.Fatalf("delete of a missing item without version: %v", err)
	}
	if err := users.Delete(ctx, User{ID: "u1", Version: 2}); !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("versioned delete of a missing item: %v, want ErrConflict", err)
	}
}

func TestUnversionedPut(t *testing.T) {
	type Note struct {
		ID   string `dynamodbav:"id"`
		Body string `dynamodbav:"body" encrypt:"kms"`
	}
	db, table := usersTable(t)
	notes := mustNew[Note](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	ctx := context.Background()
	if err := notes.Put(ctx, &Note{ID: "n", Body: "one"}, dynacrypt.IfNotExists()); err != nil {
		t.Fatal(err)
	}
	if err := notes.Put(ctx, &Note{ID: "n", Body: "two"}, dynacrypt.IfNotExists()); !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("IfNotExists on an existing item: %v, want ErrConflict", err)
	}
	if err := notes.Put(ctx, &Note{ID: "n", Body: "three"}); err != nil {
		t.Fatal(err)
	}
	got, err := notes.Get(ctx, Note{ID: "n"}, dynacrypt.ConsistentRead())
	if err != nil || got.Body != "three" {
		t.Fatalf("got %+v, %v; want the overwrite", got, err)
	}
}

func TestSkipDecryption(t *testing.T) {
	db, table := usersTable(t)
	cipher, kmsRequests := newKMS(t)
	writer := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	ctx := context.Background()
	if err := writer.Put(ctx, &User{ID: "u1", Username: "ana", Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	// A reader whose cipher cannot decrypt: any call fails the test.
	reader := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
	before := kmsRequests.Requests()
	got, err := reader.Get(ctx, User{ID: "u1"}, dynacrypt.SkipDecryption(), dynacrypt.ConsistentRead())
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "ana" || got.Token != "" || got.Version != 1 {
		t.Errorf("got %+v, want plaintext fields only", got)
	}
	if n := kmsRequests.Requests() - before; n != 0 {
		t.Errorf("SkipDecryption made %d KMS requests, want 0", n)
	}
}

func TestPlainStoreWithoutCipher(t *testing.T) {
	type Counter struct {
		ID    string `dynamodbav:"id"`
		Count int    `dynamodbav:"count"`
		Ver   int    `dynamodbav:"ver"`
	}
	db, table := usersTable(t)
	s := mustNew[Counter](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("ver"))
	ctx := context.Background()
	if err := s.Put(ctx, &Counter{ID: "c", Count: 1}); err != nil {
		t.Fatal(err)
	}
	raw := rawGet(t, db, table, "c")
	if _, ok := raw[dynacrypt.DefaultHeaderAttribute]; ok {
		t.Error("a Store without a Cipher wrote a header")
	}
	var plain Counter
	if err := attributevalue.UnmarshalMap(raw, &plain); err != nil || plain.Count != 1 || plain.Ver != 1 {
		t.Errorf("stored %+v, %v", plain, err)
	}
}

// Profile has strings of every place one can be: attribute, set member, map
// key, nested value; Secret is encrypted.
type Profile struct {
	ID     string            `dynamodbav:"id"`
	Name   string            `dynamodbav:"name"`
	Tags   []string          `dynamodbav:"tags,stringset"`
	Labels map[string]string `dynamodbav:"labels"`
	Notes  []Address         `dynamodbav:"notes"`
	Secret string            `dynamodbav:"secret" encrypt:"kms"`
}

// PlainProfile is Profile for a Store without a Cipher.
type PlainProfile struct {
	ID     string            `dynamodbav:"id"`
	Name   string            `dynamodbav:"name"`
	Tags   []string          `dynamodbav:"tags,stringset"`
	Labels map[string]string `dynamodbav:"labels"`
	Notes  []Address         `dynamodbav:"notes"`
}

// TestInvalidUTF8Refused: a string that is not valid UTF-8 would be stored
// by DynamoDB as U+FFFD, so its item would fail verification forever. Every
// write refuses it, naming the attribute and never the value, and writes
// nothing; with or without a Cipher.
func TestInvalidUTF8Refused(t *testing.T) {
	const bad = "ab\xffSECRET"
	ctx := context.Background()
	db, table := usersTable(t)
	sealed := mustNew[Profile](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	plain := mustNew[PlainProfile](t, db, table, dynacrypt.WithPartitionKey("id"))
	cases := []struct {
		attr string
		p    Profile
	}{
		{"id", Profile{ID: bad}},
		{"name", Profile{ID: "p", Name: bad}},
		{"tags", Profile{ID: "p", Tags: []string{"ok", bad}}},
		{"labels", Profile{ID: "p", Labels: map[string]string{bad: "v"}}},
		{"labels", Profile{ID: "p", Labels: map[string]string{"k": bad}}},
		{"notes", Profile{ID: "p", Notes: []Address{{Street: bad}}}},
		{"secret", Profile{ID: "p", Secret: bad}},
	}
	for _, tc := range cases {
		p := tc.p
		refusedUTF8(t, sealed, &p, tc.attr)
		if tc.attr != "secret" {
			refusedUTF8(t, plain, &PlainProfile{p.ID, p.Name, p.Tags, p.Labels, p.Notes}, tc.attr)
		}
	}
	if _, err := plain.Get(ctx, PlainProfile{ID: "p"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrNotFound) {
		t.Errorf("after the refused writes: %v, want ErrNotFound", err)
	}
}

// refusedUTF8 checks that Put and BatchPut of item fail naming attr.
func refusedUTF8[T any](t *testing.T, s *dynacrypt.Store[T], item *T, attr string) {
	t.Helper()
	ctx := context.Background()
	err := s.Put(ctx, item)
	if err == nil || !strings.Contains(err.Error(), `"`+attr+`"`) || !strings.Contains(err.Error(), "UTF-8") || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("%T, invalid UTF-8 in %s: %v; want an error naming the attribute, not the value", item, attr, err)
	}
	if err := s.BatchPut(ctx, []*T{item}); err == nil {
		t.Errorf("%T: BatchPut with invalid UTF-8 in %s succeeded", item, attr)
	}
}

// TestLogicalTableName: DynamoDB restores a backup only into a new table.
// Items copied to another table read through a Store with the same logical
// name, including their cursors, and fail under any other.
func TestLogicalTableName(t *testing.T) {
	ctx := context.Background()
	db, original := usersTable(t)
	_, restored := usersTable(t)
	k, _ := testrig.KMS(t)
	cipher := dynacrypt.NewKMSCipher(k, testrig.KeyA)
	opts := func(table string, more ...dynacrypt.Option) *dynacrypt.Store[User] {
		return mustNew[User](t, db, table, append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher)}, more...)...)
	}
	users := opts(original, dynacrypt.WithLogicalTableName("users"))
	for i := 0; i < 5; i++ {
		if err := users.Put(ctx, &User{ID: userID(i), Token: "token-" + userID(i)}); err != nil {
			t.Fatal(err)
		}
		rawPut(t, db, restored, rawGet(t, db, original, userID(i)))
	}
	page, err := users.ScanPage(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	after := opts(restored, dynacrypt.WithLogicalTableName("users"))
	for i := 0; i < 5; i++ {
		if u, err := after.Get(ctx, User{ID: userID(i)}); err != nil || u.Token != "token-"+userID(i) {
			t.Fatalf("restored %s: %+v, %v", userID(i), u, err)
		}
	}
	if _, err := after.ScanPage(ctx, page.Next, 2); err != nil {
		t.Errorf("a cursor of the original table on the restored one: %v", err)
	}
	for name, s := range map[string]*dynacrypt.Store[User]{
		"restored table, its own name":                  opts(restored),
		"original table, another logical":               opts(original, dynacrypt.WithLogicalTableName("orders")),
		"original table, its name, not the logical one": opts(original),
	} {
		if _, err := s.Get(ctx, User{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
	}
}

// nestedStrings has strings in a map, a list and a string set.
type nestedStrings struct {
	ID    string            `dynamodbav:"id"`
	Token string            `dynamodbav:"token" encrypt:"kms"`
	Tags  map[string]string `dynamodbav:"tags"`
	List  []string          `dynamodbav:"list"`
	Set   []string          `dynamodbav:"set,stringset"`
}

// TestInvalidUTF8InNestedValuesRefused: a string that is not valid UTF-8
// anywhere in a signed value (map key or value, list element, set member)
// or in the key would be stored altered, and its item would then fail its
// signature. Put refuses it at the write, without the value in the error,
// and Get refuses such a key.
func TestInvalidUTF8InNestedValuesRefused(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[nestedStrings](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	bad := "MARK\xc3\x28ER"
	for name, item := range map[string]*nestedStrings{
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
	if _, err := s.Get(ctx, nestedStrings{ID: bad}); err == nil {
		t.Error("Get with an invalid UTF-8 key accepted")
	}
}
