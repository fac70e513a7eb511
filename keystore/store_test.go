package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// User is the item of the Store tests.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// usersTable makes a users table beside the rig's key store.
func (r *rig) usersTable() string {
	r.t.Helper()
	return dynacrypttest.NewTable(r.t, r.raw, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
}

// users opens a Store of the users table, with a root key cache of its own.
func (r *rig) users(table string, c dynacrypt.Cipher, opts ...dynacrypt.Option) *dynacrypt.Store[User] {
	r.t.Helper()
	opts = append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c)}, opts...)
	s, err := dynacrypt.New[User](r.raw, table, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) cipher(id string, opts ...keystore.CipherOption) *keystore.Cipher {
	r.t.Helper()
	return r.cipherOf(r.ks, id, opts...)
}

func (r *rig) cipherOf(ks *keystore.KeyStore, id string, opts ...keystore.CipherOption) *keystore.Cipher {
	r.t.Helper()
	c, err := keystore.NewCipher(ks, id, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// versionOf returns the branch key version that wrapped a stored item's
// root key.
func (r *rig) versionOf(table, id string) string {
	r.t.Helper()
	out, err := r.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &table, Key: map[string]types.AttributeValue{"id": s(id)}, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		r.t.Fatalf("item %s: %v", id, err)
	}
	h, err := header.Parse(out.Item[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
	if err != nil {
		r.t.Fatal(err)
	}
	_, version, ok := keystore.WrappedBy(h.Wrapped)
	if !ok {
		r.t.Fatalf("item %s: its root key is not wrapped under a branch key", id)
	}
	return version
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// TestStoreAcrossRotations: a Store with the key store Cipher writes and
// reads items; items written under each of four versions all read after the
// rotations; a cold read costs one GetItem of the key store and one KMS
// Decrypt, warm reads none; Store.Reencrypt rewraps every item under the
// active version.
func TestStoreAcrossRotations(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	versions := []string{r.create("fleet")}
	writer := r.cipher("fleet")
	const rounds, perRound = 4, 5
	// One Store throughout: once its Cipher learns of a rotation, its next
	// write makes a root key under the new version.
	ws := r.users(table, writer)
	for round := range rounds {
		for i := range perRound {
			u := &User{ID: fmt.Sprintf("u%d-%d", round, i), Username: "ana", Token: fmt.Sprintf("secret %d %d", round, i)}
			if err := ws.Put(ctx, u); err != nil {
				t.Fatal(err)
			}
			if got, err := ws.Get(ctx, User{ID: u.ID}); err != nil || got.Token != u.Token {
				t.Fatalf("read back %s: %v", u.ID, err)
			}
			if v := r.versionOf(table, u.ID); v != versions[round] {
				t.Fatalf("item %s wrapped under %s, want the active %s", u.ID, v, versions[round])
			}
		}
		versions = append(versions, r.rotate("fleet"))
		writer.Forget("fleet") // learn of the rotation now, not after the TTL
	}

	// A cold reader: a Cipher and a Store that have cached nothing.
	reader := r.cipher("fleet")
	s := r.users(table, reader)
	g0, k0 := r.counts()
	if got, err := s.Get(ctx, User{ID: "u0-0"}); err != nil || got.Token != "secret 0 0" {
		t.Fatalf("cold read: %v", err)
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("cold read: %d key store GetItem, %d KMS requests", gets, kmsN)
	if gets != 1 || kmsN != 1 {
		t.Errorf("a cold read made %d GetItem and %d KMS requests, want 1 and 1", gets, kmsN)
	}
	g0, k0 = r.counts()
	s.Get(ctx, User{ID: "u0-0"})
	s.Get(ctx, User{ID: "u0-1"})                      // same root key
	r.users(table, reader).Get(ctx, User{ID: "u0-2"}) // a Store that must unwrap: the Cipher has the version
	if gets, kmsN := r.since(g0, k0); gets != 0 || kmsN != 0 {
		t.Errorf("warm reads made %d GetItem and %d KMS requests, want none", gets, kmsN)
	}
	for round := range rounds {
		for i := range perRound {
			id := fmt.Sprintf("u%d-%d", round, i)
			if got, err := s.Get(ctx, User{ID: id}); err != nil || got.Token != fmt.Sprintf("secret %d %d", round, i) {
				t.Fatalf("%s after the rotations: %v", id, err)
			}
		}
	}
	gets, kmsN = r.since(g0, k0)
	t.Logf("%d items under %d versions, read by a reader that had one: %d GetItem, %d KMS requests", rounds*perRound, rounds, gets, kmsN)
	if gets != rounds-1 || kmsN != rounds-1 {
		t.Errorf("reading items under %d more versions made %d GetItem and %d KMS requests, want %d each", rounds-1, gets, kmsN, rounds-1)
	}

	// Re-encryption after the last rotation, by the Store that wrote, whose
	// root key is under the version before: it must not rewrite items
	// under that root, and so never converge.
	g0, k0 = r.counts()
	p, err := ws.Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gets, kmsN = r.since(g0, k0)
	t.Logf("Reencrypt: %+v; %d GetItem, %d KMS requests", p, gets, kmsN)
	if p.Rewritten != rounds*perRound {
		t.Errorf("Reencrypt rewrote %d items, want %d", p.Rewritten, rounds*perRound)
	}
	for round := range rounds {
		for i := range perRound {
			if v := r.versionOf(table, fmt.Sprintf("u%d-%d", round, i)); v != versions[rounds] {
				t.Errorf("after Reencrypt, an item is under %s, not the active %s", v, versions[rounds])
			}
		}
	}
	p, err = r.users(table, writer).Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil || p.Rewritten != 0 {
		t.Errorf("a second Reencrypt rewrote %d items (%v), want none", p.Rewritten, err)
	}
}

// TestStoreWithoutEncrypt: a reader whose role may not call kms:Encrypt
// writes and reads items: root keys are wrapped locally, and branch keys
// only need KMS Decrypt.
func TestStoreWithoutEncrypt(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	r.create("fleet")
	if err := r.users(table, r.cipher("fleet")).Put(ctx, &User{ID: "by-admin", Token: "t0"}); err != nil {
		t.Fatal(err)
	}

	restricted := r.keyStore(logicalName, denyEncrypt{r.kms}, "alias/dynacrypt-test")
	s := r.users(table, r.cipherOf(restricted, "fleet"))
	g0, k0 := r.counts()
	if err := s.Put(ctx, &User{ID: "by-service", Token: "t1"}); err != nil {
		t.Fatalf("Put without kms:Encrypt: %v", err)
	}
	for id, want := range map[string]string{"by-service": "t1", "by-admin": "t0"} {
		if got, err := s.Get(ctx, User{ID: id}); err != nil || got.Token != want {
			t.Fatalf("Get %s without kms:Encrypt: %v", id, err)
		}
	}
	gets, kmsN := r.since(g0, k0)
	t.Logf("a write and two reads without kms:Encrypt: %d GetItem, %d KMS requests (Decrypt of the active version)", gets, kmsN)
	if kmsN != 1 || gets != 2 {
		t.Errorf("%d GetItem and %d KMS requests, want 2 (ACTIVE and its version) and 1", gets, kmsN)
	}
}

// TestShredding: after Delete, a Cipher that has not cached the branch key
// cannot read its items, with ErrBranchKeyNotFound and not ErrIntegrity; one
// that has keeps reading until its TTL ends or Forget; other branch keys are
// unaffected.
func TestShredding(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	r.create("tenant-a")
	r.create("tenant-b")
	ca, cb := r.cipher("tenant-a"), r.cipher("tenant-b")
	if err := r.users(table, ca).Put(ctx, &User{ID: "a1", Token: "a's secret"}); err != nil {
		t.Fatal(err)
	}
	if err := r.users(table, cb).Put(ctx, &User{ID: "b1", Token: "b's secret"}); err != nil {
		t.Fatal(err)
	}
	// A reader that caches tenant-a's version before the shredding, on a
	// clock the test moves.
	warm := r.cipher("tenant-a")
	clk := newClock()
	keystore.SetClock(warm, clk.Now)
	if _, err := r.users(table, warm).Get(ctx, User{ID: "a1"}); err != nil {
		t.Fatal(err)
	}

	if err := r.ks.Delete(ctx, "tenant-a"); err != nil {
		t.Fatal(err)
	}

	// A cold reader: gone, not tampered with; the second read is refused
	// from memory.
	cold := r.users(table, r.cipher("tenant-a"))
	g0, k0 := r.counts()
	_, err := cold.Get(ctx, User{ID: "a1"})
	gets, kmsN := r.since(g0, k0)
	t.Logf("read after shredding: %v (%d GetItem, %d KMS requests)", err, gets, kmsN)
	if !errors.Is(err, keystore.ErrBranchKeyNotFound) || errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("read after shredding: %v; want ErrBranchKeyNotFound, not ErrIntegrity", err)
	}
	var e *keystore.Error
	if !errors.As(err, &e) || e.ID != "tenant-a" || e.Version == "" {
		t.Errorf("the error does not name the branch key and version: %v", err)
	}
	if kmsN != 0 || gets != 2 {
		t.Errorf("a read of a shredded item made %d GetItem and %d KMS requests, want 2 (its shredded version record, branch:ACTIVE) and 0", gets, kmsN)
	}
	g0, k0 = r.counts()
	if _, err := cold.Get(ctx, User{ID: "a1"}); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("second read: %v", err)
	}
	if gets, kmsN := r.since(g0, k0); gets != 0 || kmsN != 0 {
		t.Errorf("a second read of a shredded item made %d GetItem and %d KMS requests, want none", gets, kmsN)
	}
	if err := r.users(table, r.cipher("tenant-a")).Put(ctx, &User{ID: "a2", Token: "x"}); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("a write under a shredded branch key: %v, want ErrBranchKeyNotFound", err)
	}

	// The warm reader reads until its TTL ends.
	clk.Add(keystore.DefaultCacheTTL - 1)
	if got, err := r.users(table, warm).Get(ctx, User{ID: "a1"}); err != nil || got.Token != "a's secret" {
		t.Errorf("a warm cipher within its TTL: %v", err)
	}
	clk.Add(1)
	if _, err := r.users(table, warm).Get(ctx, User{ID: "a1"}); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("a warm cipher after its TTL: %v, want ErrBranchKeyNotFound", err)
	}

	// The writer's cipher reads until Forget. (Its Store keeps the root
	// keys it unwrapped or made for WithRootKeyMaxAge, whatever the
	// Cipher forgets.)
	if _, err := r.users(table, ca).Get(ctx, User{ID: "a1"}); err != nil {
		t.Errorf("the writer's cipher before Forget: %v", err)
	}
	ca.Forget("tenant-a")
	if _, err := r.users(table, ca).Get(ctx, User{ID: "a1"}); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("after Forget: %v, want ErrBranchKeyNotFound", err)
	}

	// Tenant b's items still read, cold or warm.
	for name, c := range map[string]*keystore.Cipher{"cold": r.cipher("tenant-b"), "warm": cb} {
		if got, err := r.users(table, c).Get(ctx, User{ID: "b1"}); err != nil || got.Token != "b's secret" {
			t.Errorf("%s read of another branch key's item: %v", name, err)
		}
	}
}

// TestMoveFromKMSCipher: a table written with KMSCipher moves to the key
// store by one walk of a Store whose Cipher reads the old root keys through
// WithPreviousCipher; after it, a Cipher without the option reads every
// item, with one KMS request for the branch key.
func TestMoveFromKMSCipher(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	r.create("fleet")
	old := dynacrypt.NewKMSCipher(r.kms, testrig.KeyB)
	const n = 12
	for i := range n {
		u := &User{ID: fmt.Sprintf("u%d", i), Username: "ana", Token: fmt.Sprintf("secret %d", i)}
		if err := r.users(table, old).Put(ctx, u); err != nil { // a Store each: a root key each
			t.Fatal(err)
		}
	}
	readAll := func(s *dynacrypt.Store[User]) error {
		for i := range n {
			got, err := s.Get(ctx, User{ID: fmt.Sprintf("u%d", i)})
			if err != nil {
				return err
			}
			if got.Token != fmt.Sprintf("secret %d", i) {
				return fmt.Errorf("u%d: token %q", i, got.Token)
			}
		}
		return nil
	}

	_, k0 := r.counts()
	err := readAll(r.users(table, r.cipher("fleet")))
	if _, kmsN := r.since(0, k0); !isIntegrity(err) || kmsN != 0 {
		t.Fatalf("a key store Cipher without WithPreviousCipher read a KMSCipher item: %v, %d KMS requests; want ErrIntegrity and none", err, kmsN)
	}

	moving := r.cipher("fleet", keystore.WithPreviousCipher(old))
	if err := readAll(r.users(table, moving)); err != nil {
		t.Fatalf("reading through WithPreviousCipher: %v", err)
	}
	p, err := r.users(table, moving).Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil || p.Rewritten != n {
		t.Fatalf("the walk rewrote %d items (%v), want %d", p.Rewritten, err, n)
	}
	if p, err := r.users(table, moving).Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err != nil || p.Rewritten != 0 {
		t.Errorf("a second walk rewrote %d items (%v), want none", p.Rewritten, err)
	}
	for i := range n {
		r.versionOf(table, fmt.Sprintf("u%d", i)) // fails the test unless under a branch key
	}

	_, k0 = r.counts()
	if err := readAll(r.users(table, r.cipher("fleet"))); err != nil {
		t.Fatalf("after the walk, without WithPreviousCipher: %v", err)
	}
	_, kmsN := r.since(0, k0)
	t.Logf("%d items moved from KMSCipher; a cold reader of all of them made %d KMS requests", n, kmsN)
	if kmsN != 1 {
		t.Errorf("a cold reader made %d KMS requests, want 1 (the branch key)", kmsN)
	}

	var nilCipher *dynacrypt.KMSCipher
	if _, err := keystore.NewCipher(r.ks, "fleet", keystore.WithPreviousCipher(nilCipher)); err == nil {
		t.Error("NewCipher accepted WithPreviousCipher of a nil Cipher")
	}
}
