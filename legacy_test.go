package dynacrypt_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// LegacyUser is the legacy writer's record, as the Store sees it.
type LegacyUser struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// legacyTable is a table of n users written the legacy way (KMS Encrypt
// per field, no header), user-0000 ... with token "token-<id>".
type legacyTable struct {
	db      *dynamodb.Client
	kms     *kms.Client
	kmsReqs *testrig.Counter
	table   string
	base    []dynacrypt.Option
}

func newLegacyTable(t *testing.T, n int) *legacyTable {
	t.Helper()
	ctx := context.Background()
	db, table := usersTable(t)
	k, counter := testrig.KMS(t)
	for i := 0; i < n; i++ {
		if err := testrig.ArticleUserPut(ctx, db, k, table, testrig.KeyA, userID(i), "user", "token-"+userID(i)); err != nil {
			t.Fatal(err)
		}
	}
	return &legacyTable{db: db, kms: k, kmsReqs: counter, table: table, base: []dynacrypt.Option{
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyA))}}
}

// store returns a Store of the table with the base options and more.
func (lt *legacyTable) store(t *testing.T, more ...dynacrypt.Option) *dynacrypt.Store[LegacyUser] {
	t.Helper()
	return mustNew[LegacyUser](t, lt.db, lt.table, append(append([]dynacrypt.Option(nil), lt.base...), more...)...)
}

// snapshot takes a manifest of the table's legacy items.
func (lt *legacyTable) snapshot(t *testing.T) []byte {
	t.Helper()
	m, n, err := lt.store(t).LegacySnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("manifest: %d legacy items, %d bytes", n, len(m))
	return m
}

func (lt *legacyTable) legacyMode(opts ...dynacrypt.LegacyOption) dynacrypt.Option {
	return dynacrypt.WithLegacyKMS(lt.kms, testrig.KeyA, append([]dynacrypt.LegacyOption{dynacrypt.LegacyUntil(time.Now().Add(time.Hour))}, opts...)...)
}

func TestLegacyMigration(t *testing.T) {
	const n = 30
	ctx := context.Background()
	lt := newLegacyTable(t, n)
	manifest := lt.snapshot(t)
	current := lt.store(t)
	migrating := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))

	if _, err := current.Get(ctx, LegacyUser{ID: userID(0)}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Fatalf("legacy item without the legacy option: %v, want ErrIntegrity", err)
	}
	for i := 0; i < n; i++ {
		u, err := migrating.Get(ctx, LegacyUser{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != "token-"+userID(i) || u.Version != 0 {
			t.Fatalf("legacy read of %s: %+v, %v", userID(i), u, err)
		}
	}
	// Update writes a legacy item back in the current format.
	u, err := migrating.Update(ctx, LegacyUser{ID: userID(0)}, func(u *LegacyUser) error { u.Username = "renamed"; return nil })
	if err != nil || u.Version != 1 {
		t.Fatalf("Update of a legacy item: %+v, %v", u, err)
	}
	if _, ok := rawGet(t, lt.db, lt.table, userID(0))[hdr]; !ok {
		t.Fatal("Update left the item in the legacy format")
	}

	// A legacy writer still running changes an item while it is being
	// migrated: the migration must neither overwrite that change nor sign
	// it, since the manifest does not vouch for it.
	calls := 0
	_, err = migrating.Update(ctx, LegacyUser{ID: userID(1)}, func(u *LegacyUser) error {
		calls++
		if err := testrig.ArticleUserPut(ctx, lt.db, lt.kms, lt.table, testrig.KeyA, userID(1), "old-code", "token-new"); err != nil {
			return err
		}
		u.Username = "migrated"
		return nil
	})
	if !errors.Is(err, dynacrypt.ErrIntegrity) || calls != 1 {
		t.Fatalf("Update racing a legacy writer: %v after %d calls, want ErrIntegrity after 1", err, calls)
	}
	if raw := rawGet(t, lt.db, lt.table, userID(1)); raw[hdr] != nil || raw["username"].(*types.AttributeValueMemberS).Value != "old-code" {
		t.Fatalf("the legacy writer's change was overwritten or signed: %v", raw)
	}

	var mu sync.Mutex
	promoted := map[string]bool{}
	progress, err := migrating.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 3, Promoted: func(key map[string]types.AttributeValue) {
		mu.Lock()
		defer mu.Unlock()
		promoted[key["id"].(*types.AttributeValueMemberS).Value] = true
	}})
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("walk over an item the manifest does not vouch for: %v, want ErrIntegrity", err)
	}
	if progress.Scanned != n || progress.Rewritten != n-2 || progress.Promoted != n-2 || progress.Skipped != 1 || progress.Failed != 1 {
		t.Errorf("walk: %+v, want %d scanned, %d rewritten and promoted, 1 skipped, 1 failed", progress, n, n-2)
	}
	if len(promoted) != n-2 || promoted[userID(0)] || promoted[userID(1)] {
		t.Errorf("promoted keys reported: %d, want %d (all but %s and %s)", len(promoted), n-2, userID(0), userID(1))
	}
	for i := 2; i < n; i++ {
		u, err := current.Get(ctx, LegacyUser{ID: userID(i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != "token-"+userID(i) || u.Version != 1 || u.Username != "user" {
			t.Fatalf("after the walk, %s: %+v, %v", userID(i), u, err)
		}
	}
}

// forgeFromCurrent turns the current-format item id into a forged legacy
// one, as someone who writes the table can: header removed, plaintext
// edited, and the token blob of another (legacy) user pasted in. It returns
// the forged item.
func (lt *legacyTable) forgeFromCurrent(t *testing.T, id, blobFrom string, keepVersion bool) map[string]types.AttributeValue {
	t.Helper()
	forged := rawGet(t, lt.db, lt.table, id)
	delete(forged, hdr)
	if !keepVersion {
		delete(forged, "version")
	}
	forged["username"] = &types.AttributeValueMemberS{Value: "attacker-chosen"}
	forged["token"] = rawGet(t, lt.db, lt.table, blobFrom)["token"]
	rawPut(t, lt.db, lt.table, forged)
	return forged
}

// TestLegacyForgery: someone who writes the table forges legacy items: a
// current item turned into a forged legacy one, a listed legacy item
// edited, blobs swapped between listed items, a tampered manifest. With a
// manifest, each is refused with ErrIntegrity before any KMS request, and
// neither Update nor the walk signs it.
func TestLegacyForgery(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 4)
	manifest := lt.snapshot(t)
	migrating := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(manifest)))
	// Verify the manifest and cache the current root now, so that the
	// KMS counter below sees only what the forgeries cost.
	if _, err := migrating.Get(ctx, LegacyUser{ID: userID(3)}, dynacrypt.ConsistentRead()); err != nil {
		t.Fatal(err)
	}
	if err := migrating.Put(ctx, &LegacyUser{ID: "victim", Username: "victim", Token: "victim-token"}); err != nil {
		t.Fatal(err)
	}

	lt.forgeFromCurrent(t, "victim", userID(0), false)
	edited := rawGet(t, lt.db, lt.table, userID(1))
	edited["username"] = &types.AttributeValueMemberS{Value: "attacker-chosen"}
	rawPut(t, lt.db, lt.table, edited)
	a, b := rawGet(t, lt.db, lt.table, userID(2)), rawGet(t, lt.db, lt.table, userID(3))
	a["token"], b["token"] = b["token"], a["token"]
	rawPut(t, lt.db, lt.table, a)
	rawPut(t, lt.db, lt.table, b)

	before := lt.kmsReqs.Requests()
	for _, id := range []string{"victim", userID(1), userID(2), userID(3)} {
		if u, err := migrating.Get(ctx, LegacyUser{ID: id}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("forged %s read: %+v, %v; want ErrIntegrity", id, u, err)
		}
		if _, err := migrating.Update(ctx, LegacyUser{ID: id}, func(*LegacyUser) error { return nil }); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Update of forged %s: %v, want ErrIntegrity", id, err)
		}
	}
	if got := lt.kmsReqs.Requests() - before; got != 0 {
		t.Errorf("refusing 4 forged legacy items (read and Update) made %d KMS requests, want 0", got)
	}

	// Manifests the attacker can make vouch for nothing: a snapshot of the
	// forged table signed with the attacker's own key, the genuine manifest
	// with the attacker's list spliced in, and a genuine snapshot of
	// another table holding a copy of the forgery.
	attackers := mustNew[LegacyUser](t, lt.db, lt.table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)))
	ownManifest, _, err := attackers.LegacySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signedLen := func(m []byte) int { return 20 + (int(m[18])<<8 | int(m[19])) }
	spliced := append(append(append([]byte(nil), manifest[:signedLen(manifest)]...),
		ownManifest[signedLen(ownManifest):len(ownManifest)-32]...), manifest[len(manifest)-32:]...)
	_, other := usersTable(t)
	rawPut(t, lt.db, other, rawGet(t, lt.db, lt.table, "victim"))
	otherManifest, _, err := mustNew[LegacyUser](t, lt.db, other, lt.base...).LegacySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string][]byte{"signed by the attacker": ownManifest, "spliced": spliced, "of another table": otherManifest} {
		s := lt.store(t, lt.legacyMode(dynacrypt.LegacyManifest(m)))
		if u, err := s.Get(ctx, LegacyUser{ID: "victim"}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("manifest %s: %+v, %v; want ErrIntegrity", name, u, err)
		}
	}

	progress, err := migrating.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
	if !errors.Is(err, dynacrypt.ErrIntegrity) || progress.Failed != 4 || progress.Promoted != 1 {
		t.Errorf("walk over 4 forgeries and 1 genuine legacy item: %+v, %v; want 4 failed, 1 promoted, ErrIntegrity", progress, err)
	}
	for _, id := range []string{"victim", userID(1), userID(2), userID(3)} {
		if rawGet(t, lt.db, lt.table, id)[hdr] != nil {
			t.Errorf("forged %s was signed", id)
		}
	}

}

// TestLegacyUnverified: without a manifest, legacy items read as the legacy
// code read them, but none is ever signed, a current item whose header was
// removed but which kept attributes legacy items lack is refused, and the
// mode ends at its date.
func TestLegacyUnverified(t *testing.T) {
	ctx := context.Background()
	lt := newLegacyTable(t, 2)
	rollout := lt.store(t, lt.legacyMode(dynacrypt.LegacyUnverified()))
	if u, err := rollout.Get(ctx, LegacyUser{ID: userID(0)}); err != nil || u.Token != "token-"+userID(0) {
		t.Fatalf("legacy read: %+v, %v", u, err)
	}
	_, err := rollout.Update(ctx, LegacyUser{ID: userID(0)}, func(u *LegacyUser) error { u.Username = "x"; return nil })
	if err == nil || !strings.Contains(err.Error(), "LegacyManifest") || rawGet(t, lt.db, lt.table, userID(0))[hdr] != nil {
		t.Errorf("Update of an unverified legacy item: %v; want a refusal naming LegacyManifest, nothing written", err)
	}
	if _, err := rollout.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err == nil || !strings.Contains(err.Error(), "LegacyManifest") {
		t.Errorf("Reencrypt without a manifest: %v, want a refusal", err)
	}
	if err := rollout.Put(ctx, &LegacyUser{ID: "victim", Username: "v", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	lt.forgeFromCurrent(t, "victim", userID(1), true)
	before := lt.kmsReqs.Requests()
	if u, err := rollout.Get(ctx, LegacyUser{ID: "victim"}); !errors.Is(err, dynacrypt.ErrIntegrity) || !strings.Contains(err.Error(), `"version"`) {
		t.Errorf("current item with its header removed, version kept: %+v, %v; want ErrIntegrity naming the version attribute", u, err)
	}
	if got := lt.kmsReqs.Requests() - before; got != 0 {
		t.Errorf("refusing it made %d KMS requests", got)
	}
	ended := lt.store(t, dynacrypt.WithLegacyKMS(lt.kms, testrig.KeyA, dynacrypt.LegacyUnverified(), dynacrypt.LegacyUntil(time.Now().Add(-time.Second))))
	if _, err := ended.Get(ctx, LegacyUser{ID: userID(1)}); !errors.Is(err, dynacrypt.ErrIntegrity) || !strings.Contains(err.Error(), "LegacyUntil") {
		t.Errorf("legacy read after LegacyUntil: %v, want ErrIntegrity naming LegacyUntil", err)
	}
}

func TestLegacyOptionsRefused(t *testing.T) {
	k := kms.New(kms.Options{Region: "us-east-1"})
	until := dynacrypt.LegacyUntil(time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name string
		opt  dynacrypt.Option
		want string
	}{
		{"no key", dynacrypt.WithLegacyKMS(k, "", until, dynacrypt.LegacyUnverified()), "key ID is required"},
		{"nil client", dynacrypt.WithLegacyKMS(nil, "k", until, dynacrypt.LegacyUnverified()), "client is nil"},
		{"no end", dynacrypt.WithLegacyKMS(k, "k", dynacrypt.LegacyUnverified()), "LegacyUntil is required"},
		{"no trust", dynacrypt.WithLegacyKMS(k, "k", until), "LegacyManifest"},
		{"both", dynacrypt.WithLegacyKMS(k, "k", until, dynacrypt.LegacyUnverified(), dynacrypt.LegacyManifest([]byte("x"))), "LegacyManifest"},
		{"bad manifest", dynacrypt.WithLegacyKMS(k, "k", until, dynacrypt.LegacyManifest([]byte("not a manifest, but long enough to hold a MAC"))), "malformed manifest"},
		{"version listed", dynacrypt.WithLegacyKMS(k, "k", until, dynacrypt.LegacyUnverified(), dynacrypt.LegacyAttributes("id", "version")), "version attribute"},
		{"unknown attribute", dynacrypt.WithLegacyKMS(k, "k", until, dynacrypt.LegacyUnverified(), dynacrypt.LegacyAttributes("nickname")), `"nickname" is not a field`},
	} {
		err := newErr[LegacyUser](dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(newAES(t)), tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
