package dynacrypt_test

// Attacks of a second red team on the first red team's fixes (commit
// 5c3b29d): Ring.Charge and the per-source limiter, the failure cache, the
// legacy guard, Schema.CheckValue and the wider tag check. Each test passes
// when the library resists the attack and fails ("HOLE") when it works.
// internal/keyring/charge_test.go holds the limiter's accounting attack at
// unit level.
//
// Run: scripts/with-servers.sh go test -race -count=1 -run 'TestAttack2' -v . ./internal/keyring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// rt2FindPlain returns the paths of string values starting with prefix
// anywhere in a stored item, at any depth.
func rt2FindPlain(item map[string]types.AttributeValue, prefix string) []string {
	var found []string
	var walk func(path string, v types.AttributeValue)
	walk = func(path string, v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			if strings.HasPrefix(v.Value, prefix) {
				found = append(found, path+"="+v.Value)
			}
		case *types.AttributeValueMemberM:
			for k, e := range v.Value {
				walk(path+"."+k, e)
			}
		case *types.AttributeValueMemberL:
			for i, e := range v.Value {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	for k, v := range item {
		walk(k, v)
	}
	return found
}

// ---------------------------------------------------------------------------
// Holes
// ---------------------------------------------------------------------------

type rt2Secret struct {
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

// rt2hidden is embedded unexported: attributevalue promotes its exported
// fields (field.go enumFields: "unexported but anonymous field may still be
// used if the type has exported nested fields").
type rt2hidden struct {
	Extra any `dynamodbav:"extra"`
}

type rt2Wrap struct {
	rt2hidden
	Label string `dynamodbav:"label"`
}

type rt2Holder struct {
	ID    string             `dynamodbav:"id"`
	Token string             `dynamodbav:"token" encrypt:"kms"`
	W     rt2Wrap            `dynamodbav:"w"`
	Byte  map[string]rt2Wrap `dynamodbav:"byte"`
	Any   any                `dynamodbav:"any"`
}

// rt2TopEmbed embeds the same struct at the top level, where Parse follows
// it: the control case.
type rt2TopEmbed struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	rt2hidden
}

// TestAttack2CheckValueEmbeddedUnexported (fail closed, secrecy).
// CheckValue, like mayHoldInterface, looks only at exported struct fields
// below the top level, but attributevalue also marshals the exported fields
// of an embedded unexported struct. An interface field in there may hold a
// struct with encrypt:"kms" fields: New and Put accept it and the secret is
// stored in plaintext. At the top level Parse follows the embedding, and Put
// refuses the same value.
func TestAttack2CheckValueEmbeddedUnexported(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[rt2Holder](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	secret := func(s string) rt2hidden { return rt2hidden{Extra: rt2Secret{Secret: s}} }
	cases := map[string]*rt2Holder{
		"field":     {ID: "field", Token: "t", W: rt2Wrap{rt2hidden: secret("secret-field")}},
		"map value": {ID: "map", Token: "t", Byte: map[string]rt2Wrap{"k": {rt2hidden: secret("secret-map")}}},
		"any":       {ID: "any", Token: "t", Any: rt2Wrap{rt2hidden: secret("secret-any")}},
		"*any":      {ID: "ptr", Token: "t", Any: &rt2Wrap{rt2hidden: secret("secret-ptr")}},
	}
	var leaks []string
	for name, item := range cases {
		if err := s.Put(ctx, item); err != nil {
			t.Logf("%s: refused: %v", name, err)
			continue
		}
		if found := rt2FindPlain(rawGet(t, db, table, item.ID), "secret-"); len(found) > 0 {
			leaks = append(leaks, fmt.Sprintf("%s: %v", name, found))
		}
	}
	top := mustNew[rt2TopEmbed](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	err := top.Put(ctx, &rt2TopEmbed{ID: "top", Token: "t", rt2hidden: secret("secret-top")})
	t.Logf("control, embedded at the top level: %v", err)
	if err == nil {
		t.Errorf("control: the top-level embedding was accepted too")
	}
	if len(leaks) > 0 {
		t.Errorf("HOLE (plaintext at rest): encrypt:\"kms\" fields held by an interface inside an embedded unexported struct were stored in plaintext, Put returned nil: %s", strings.Join(leaks, "; "))
	}
}

// TestAttack2CursorPoisonsLegacyItems (availability of item reads, false
// integrity alarms). The failure cache of the keyring is keyed by the bytes
// of the ciphertext only, and shared by root keys (KMSCipher.Decrypt, with
// the table's context) and legacy blobs (raw KMS Decrypt, no context). A
// genuine legacy blob put where a wrapped root key goes fails as a root key,
// and is then remembered as failed: for a minute, the genuine legacy item
// holding that blob fails with ErrIntegrity without a KMS call, with a
// manifest that lists it. An API client does it with a cursor (no table
// access needed beyond having read the blob, e.g. from a backup), and at no
// KMS cost; a table writer with an item header. The README says a cursor
// flood leaves "all item reads" unaffected.
func TestAttack2CursorPoisonsLegacyItems(t *testing.T) {
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
	_, cerr := s.ScanPage(ctx, rtCursor(rtWithWrapped(rtCursorBytes(t, page.Next), blob(userID(0)))), 1)
	cost := lt.kmsReqs.Requests() - before
	// 2. A table writer plants an item whose header carries the blob of user-0001.
	if err := s.Put(ctx, &LegacyUser{ID: "planted", Username: "x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	planted := rawGet(t, lt.db, lt.table, "planted")
	planted[hdr] = &types.AttributeValueMemberB{Value: rtWithWrapped(rtHeader(t, planted), blob(userID(1)))}
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
		t.Errorf("HOLE (availability, false ErrIntegrity): a forged cursor and a forged header made genuine legacy items listed in the manifest fail for a minute: %s", strings.Join(broken, "; "))
	}
}

// TestAttack2LegacyItemPoisonsRootKey (availability of current items,
// false integrity alarms; LegacyUnverified, the rollout mode). The reverse:
// a table writer plants a legacy item (no header) whose encrypted attribute
// is the wrapped root key of current items. Its legacy Decrypt fails
// (InvalidCiphertextException: a KMSCipher ciphertext is not a raw KMS blob)
// and the wrapped root key is remembered as failed: every process that does
// not hold that root key yet (a new instance, or after MaxAge) fails to read
// all the items written under it, up to 100,000, with ErrIntegrity.
func TestAttack2LegacyItemPoisonsRootKey(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 1)
	writer := lt.store(t)
	for i := 0; i < 3; i++ {
		if err := writer.Put(ctx, &LegacyUser{ID: fmt.Sprintf("current-%d", i), Username: "c", Token: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	wrapped := rtWrapped(rtHeader(t, rawGet(t, lt.db, lt.table, "current-0")))
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
		t.Errorf("HOLE (availability, false ErrIntegrity): one planted legacy item made every current item under a genuine root key unreadable: %s", strings.Join(broken, "; "))
	}
}

// TestAttack2ChargeLostUnderFlood (KMS cost). A forged cursor carrying a
// genuine, uncached wrapped key unwraps, and is found forged only once its
// HMAC is checked. An API client holding many genuine wrapped keys
// (harvested from the cursors of many instances, or of one over time; here
// 1,000, as the first red team did) sends them at once. The unwrap's place
// in the limit stays held until the cursor is checked (keyring.Hold), so
// the flood costs the burst of KMS requests, whatever the interleaving;
// when the place was given back at the unwrap and charged after the check,
// waiting forgers took it meanwhile, more so on a loaded machine. Unit-level
// proof: internal/keyring TestGenuineKeyInForgeryHoldsItsPlace.
func TestAttack2ChargeLostUnderFlood(t *testing.T) {
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
		b := rtCursorBytes(t, p.Next)
		b[len(b)-1] ^= 1 // genuine wrapped key, broken HMAC
		forged[i] = rtCursor(b)
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
		bound := rtBound + int64(time.Since(began)/dynacrypt.DefaultUnwrapRefill)
		t.Logf("round %d: %d forged cursors at once, each with its own genuine wrapped key: %d KMS requests in %v (%d odd outcomes)", round, k, cost, time.Since(began).Round(time.Millisecond), odd.Load())
		if odd.Load() > 0 {
			t.Errorf("%d forged cursors not refused as invalid or limited", odd.Load())
		}
		if cost > bound {
			t.Errorf("HOLE (KMS cost): %d concurrent forged cursors cost %d KMS requests, want at most %d (burst %d): charges made while no place was free were dropped", k, cost, bound, dynacrypt.DefaultUnwrapBurst)
		}
	}
}

type rt2KMSField struct {
	ID     string `dynamodbav:"id"`
	KMS    string `dynamodbav:"kms"` // e.g. the ARN of a customer's key
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

type rt2KMSInner struct {
	Provider string `dynamodbav:"kms"`
}

type rt2Bag struct {
	ID    string         `dynamodbav:"id"`
	Token string         `dynamodbav:"token" encrypt:"kms"`
	Bag   map[string]any `dynamodbav:"bag"`
}

// TestAttack2KMSAttributeNameRefused (false positive, availability of the
// library). checkTag refuses any tag whose value is "kms" under a key not in
// namingTags, and dynamodbav is not in it: a field stored as attribute "kms"
// (dynamodbav:"kms") is refused by New as a misspelled encrypt tag, and a
// value of such a type inside a map[string]any is refused by Put.
func TestAttack2KMSAttributeNameRefused(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	var refused []string
	if _, err := dynacrypt.New[rt2KMSField](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t))); err != nil {
		t.Logf("New: %v", err)
		refused = append(refused, "New of a type with a field dynamodbav:\"kms\"")
	}
	s := mustNew[rt2Bag](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err := s.Put(ctx, &rt2Bag{ID: "b", Token: "t", Bag: map[string]any{"key": rt2KMSInner{Provider: "aws"}}}); err != nil {
		t.Logf("Put: %v", err)
		refused = append(refused, "Put of a plaintext map value with a field dynamodbav:\"kms\"")
	}
	if len(refused) > 0 {
		t.Errorf("HOLE (false positive): legitimate types refused: %s", strings.Join(refused, "; "))
	}
}

// ---------------------------------------------------------------------------
// Attacks the library resists
// ---------------------------------------------------------------------------

// rt2CountingCipher counts Decrypt calls of an AESCipher.
type rt2CountingCipher struct {
	*dynacrypt.AESCipher
	decrypts *atomic.Int64
}

func (c rt2CountingCipher) Decrypt(ctx context.Context, ct []byte, ec map[string]string) ([]byte, error) {
	c.decrypts.Add(1)
	return c.AESCipher.Decrypt(ctx, ct, ec)
}

// UnwrapsLocally is false: the counting cipher stands for one whose every
// Decrypt calls a key service, as KMSCipher's does, so that the limit
// applies (an AESCipher's unwraps are free, and not limited).
func (rt2CountingCipher) UnwrapsLocally([]byte) bool { return false }

// TestAttack2ChargeOnEveryReadPath: forged items carrying genuine wrapped
// keys (each a copy of a genuine item under another key, so its MAC fails)
// are charged on every read path, not only Get: BatchGet, Query, Scan,
// ScanPage, Update, the Reencrypt walk. With a limit of 1 and no refill,
// each path makes at most one Decrypt for five forgeries.
func TestAttack2ChargeOnEveryReadPath(t *testing.T) {
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
			dynacrypt.WithCipher(rt2CountingCipher{aes, &decrypts}), dynacrypt.WithUnwrapLimit(1, time.Hour))
		for i := 0; i < n; i++ {
			err := read[p](victim, fmt.Sprintf("forged-%s-%d", p, i))
			if !errors.Is(err, dynacrypt.ErrIntegrity) && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
				t.Errorf("%s of forgery %d: %v", p, i, err)
			}
		}
		t.Logf("%s: %d forged items with genuine wrapped keys, %d Decrypts", p, n, decrypts.Load())
		if decrypts.Load() > 1 {
			t.Errorf("HOLE (KMS cost): %s of %d forgeries made %d Decrypts with a limit of 1", p, n, decrypts.Load())
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
		t.Errorf("HOLE: the walk rewrote %d forgeries, or made %d KMS requests (want at most 2)", progress.Rewritten, requests.Requests())
	}
}

// TestAttack2FailureCacheSparesGenuineRootKeys: a cursor can carry any
// bytes as its wrapped key, but a genuine root key unwraps the same way for
// cursors and items, so it can never be remembered as failed: forged cursors
// with the genuine wrapped key of items (HMAC broken, expiry edited, start
// key changed, sent to another query) leave those items readable in a fresh
// process.
func TestAttack2FailureCacheSparesGenuineRootKeys(t *testing.T) {
	ctx := context.Background()
	db, table, users := rtUsers(t, 3)
	page, err := users.ScanPage(ctx, "", 1)
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	client, _ := testrig.KMS(t)
	fresh := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(client, testrig.KeyA)))
	b := rtCursorBytes(t, page.Next)
	broken := append([]byte(nil), b...)
	broken[len(broken)-1] ^= 1
	truncated := append(append([]byte(nil), b[:len(b)-33]...), b[len(b)-32:]...)
	for name, c := range map[string]string{"broken HMAC": rtCursor(broken), "truncated": rtCursor(truncated)} {
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

// Odd values for CheckValue.
type rt2Stringer struct {
	Secret string `dynamodbav:"secret" encrypt:"kms"`
}

func (rt2Stringer) String() string { return "x" }

type rt2Marshals struct {
	Secret string `encrypt:"kms"`
}

func (m rt2Marshals) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: m.Secret}, nil
}

type rt2Node struct {
	Next *rt2Node `dynamodbav:"next"`
	V    any      `dynamodbav:"v"`
}

type rt2Odd struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	fmt.Stringer
	PtrAny   *any             `dynamodbav:"ptr_any"`
	Arr      [2]any           `dynamodbav:"arr"`
	Nested   map[string][]any `dynamodbav:"nested"`
	Node     *rt2Node         `dynamodbav:"node"`
	IfaceKey map[string]any   `dynamodbav:"iface_key"`
	Sealed   any              `dynamodbav:"sealed" encrypt:"kms"`
	private  any
}

// TestAttack2CheckValueOddValues: encrypt tags reached through a pointer to
// an interface, an array, a map of slices, a linked list, an embedded
// exported interface and a type that marshals itself are refused at Put;
// nil values, unexported fields and anything inside an encrypted field are
// accepted; and nothing panics.
func TestAttack2CheckValueOddValues(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s, err := dynacrypt.New[rt2Odd](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var secret any = rt2Secret{Secret: "secret-1"}
	refuse := map[string]*rt2Odd{
		"pointer to interface": {PtrAny: &secret},
		"array":                {Arr: [2]any{nil, rt2Secret{Secret: "secret-2"}}},
		"map of slices":        {Nested: map[string][]any{"k": {1, rt2Secret{Secret: "secret-3"}}}},
		"linked list":          {Node: &rt2Node{Next: &rt2Node{Next: &rt2Node{V: &rt2Secret{Secret: "secret-4"}}}}},
		"embedded interface":   {Stringer: rt2Stringer{Secret: "secret-5"}},
		"self-marshaller":      {IfaceKey: map[string]any{"m": rt2Marshals{Secret: "secret-6"}}},
	}
	i := 0
	for name, item := range refuse {
		i++
		item.ID, item.Token = fmt.Sprintf("refuse-%d", i), "t"
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("HOLE (crash): Put of %s panicked: %v", name, p)
				}
			}()
			err = s.Put(ctx, item)
		}()
		if err == nil {
			t.Errorf("HOLE: %s accepted; stored: %v", name, rt2FindPlain(rawGet(t, db, table, item.ID), "secret-"))
		}
	}
	accept := map[string]*rt2Odd{
		"nil everything":    {},
		"unexported":        {private: rt2Secret{Secret: "secret-7"}},
		"encrypted field":   {Sealed: rt2Secret{Secret: "secret-8"}},
		"plain JSON values": {Nested: map[string][]any{"k": {1.5, "s", true, nil, map[string]any{"x": []any{"y"}}}}},
	}
	for name, item := range accept {
		i++
		item.ID, item.Token = fmt.Sprintf("accept-%d", i), "t"
		if err := s.Put(ctx, item); err != nil {
			t.Errorf("false positive: %s refused: %v", name, err)
			continue
		}
		if found := rt2FindPlain(rawGet(t, db, table, item.ID), "secret-"); len(found) > 0 {
			t.Errorf("HOLE: %s stored in plaintext: %v", name, found)
		}
	}
}

// TestAttack2CheckValueJSONNoFalsePositive: what an API decodes from JSON
// into map[string]any (any JSON) is never refused.
func TestAttack2CheckValueJSONNoFalsePositive(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	s := mustNew[rt2Bag](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	var bag map[string]any
	doc := `{"encrypt":"kms","kms":"encrypt","_dynacrypt":{"encrypt":["kms",{"kms":1}]},"deep":[[[[{"a":null}]]]],"n":1e20}`
	if err := json.Unmarshal([]byte(doc), &bag); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, &rt2Bag{ID: "json", Token: "t", Bag: bag}); err != nil {
		t.Errorf("false positive: JSON data refused: %v", err)
	}
	if got, err := s.Get(ctx, rt2Bag{ID: "json"}); err != nil || got.Bag["kms"] != "encrypt" {
		t.Errorf("read back: %+v, %v", got, err)
	}
}

// TestAttack2ConcurrentRace: with -race, every path touched by the fixes at
// once: Puts of interface-typed values (the type cache), legacy reads with a
// manifest whose signature is checked once, forged cursors and headers (the
// limiter and Charge), valid pages, Parallel scans.
func TestAttack2ConcurrentRace(t *testing.T) {
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
	bags := mustNew[rt2Bag](t, bagDB, bagTable, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
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
					s.ScanPage(ctx, rtCursor(forgeWrapped(t, rtCursorBytes(t, page.Next))), 1)
					s.Get(ctx, LegacyUser{ID: "forged"})
				case 2:
					if _, err := s.ScanPage(ctx, page.Next, 1); err != nil && !errors.Is(err, dynacrypt.ErrUnwrapLimited) {
						t.Errorf("valid page: %v", err)
					}
				case 3:
					bag := map[string]any{"a": []any{i, map[string]any{"b": w}}, "c": rt2Wrap{Label: "l"}}
					if err := bags.Put(ctx, &rt2Bag{ID: fmt.Sprintf("%d-%d", w, i), Token: "t", Bag: bag}); err != nil {
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

// rt2Tree is a tree whose nodes point back to their parent, a pointer
// attributevalue never follows (dynamodbav:"-"), and carry free-form
// metadata (an interface, so CheckValue walks the tree).
type rt2Tree struct {
	Name     string         `dynamodbav:"name"`
	Meta     map[string]any `dynamodbav:"meta"`
	Children []*rt2Tree     `dynamodbav:"children"`
	Parent   *rt2Tree       `dynamodbav:"-"`
}

type rt2Doc struct {
	ID    string  `dynamodbav:"id"`
	Token string  `dynamodbav:"token" encrypt:"kms"`
	Tree  rt2Tree `dynamodbav:"tree"`
}

func rt2NewDoc() *rt2Doc {
	d := &rt2Doc{ID: "doc", Token: "t", Tree: rt2Tree{Name: "root", Meta: map[string]any{"k": "v"}}}
	child := &rt2Tree{Name: "child", Parent: &d.Tree}
	d.Tree.Children = []*rt2Tree{child}
	return d
}

// TestAttack2CheckValueFollowsIgnoredFields (crash). CheckValue walks
// every exported field, also those tagged dynamodbav:"-", which
// attributevalue skips: a back-pointer to a parent, which attributevalue
// never follows, sends CheckValue round the cycle until the goroutine stack
// overflows, a fatal error no recover catches. The same item marshals fine
// with attributevalue, so Put of it worked before the fix. The Put runs in a
// child process (with an 8 MB stack limit, to fail fast rather than after
// 1 GB).
func TestAttack2CheckValueFollowsIgnoredFields(t *testing.T) {
	if table := os.Getenv("REDTEAM2_CHILD_TABLE"); table != "" {
		debug.SetMaxStack(8 << 20)
		db := testrig.DynamoDB(t)
		s := mustNew[rt2Doc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
		err := s.Put(context.Background(), rt2NewDoc())
		t.Logf("child: Put returned: %v", err)
		return
	}
	if _, err := attributevalue.MarshalMap(rt2NewDoc()); err != nil {
		t.Fatalf("attributevalue cannot marshal the item either: %v", err)
	}
	_, table := usersTable(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestAttack2CheckValueFollowsIgnoredFields$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "REDTEAM2_CHILD_TABLE="+table)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if i := strings.Index(text, "stack overflow"); i >= 0 || strings.Contains(text, "goroutine stack exceeds") {
		i = max(i, 0)
		frame := ""
		if j := strings.Index(text, "schema.checkValue"); j >= 0 {
			frame = text[j:min(len(text), j+200)]
		}
		t.Errorf("HOLE (crash): Put of a tree with dynamodbav:\"-\" parent pointers killed the process (%v):\n%s\n...\n%s", err, text[i:min(len(text), i+120)], frame)
	} else if err != nil {
		t.Errorf("child failed: %v\n%s", err, text[:min(len(text), 2000)])
	} else {
		t.Logf("child: %s", text[:min(len(text), 500)])
	}
}
