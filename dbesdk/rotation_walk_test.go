package dbesdk_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// branchKeyStore is a DB-ESDK key store on the test servers with one
// branch key, "fleet".
type branchKeyStore struct {
	t     testing.TB
	db    *dynamodb.Client
	table string
	ks    *dbesdk.KeyStore
	kms   *testrig.Counter // the key store's KMS requests
}

func newBranchKeyStore(t testing.TB) *branchKeyStore {
	t.Helper()
	db := testrig.DynamoDB(t)
	kmsClient, kmsRequests := testrig.KMS(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S(keytable.IDAttr), SortKey: dynacrypttest.S(keytable.TypeAttr)})
	ks, err := dbesdk.NewKeyStore(db, table, table, kmsClient, testrig.KeyARN(testrig.KeyAID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Create(context.Background(), "fleet", nil); err != nil {
		t.Fatal(err)
	}
	return &branchKeyStore{t: t, db: db, table: table, ks: ks, kms: kmsRequests}
}

// keyring returns a new hierarchical keyring of branch key "fleet": its
// cache empty, as in a process that starts.
func (b *branchKeyStore) keyring() *dbesdk.Keyring {
	b.t.Helper()
	kr, err := dbesdk.HierarchicalKeyring(b.ks, "fleet")
	if err != nil {
		b.t.Fatal(err)
	}
	return kr
}

// store returns a Store of the accounts table in DB-ESDK's format whose
// keyring is new (see keyring).
func (b *branchKeyStore) store(db *dynamodb.Client, table string) *dynacrypt.Store[Account] {
	b.t.Helper()
	return mustNew[Account](b.t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dbesdk.Format(b.keyring()))
}

func (b *branchKeyStore) rotate() string {
	b.t.Helper()
	v, err := b.ks.Rotate(context.Background(), "fleet")
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// active returns the branch:ACTIVE record as stored.
func (b *branchKeyStore) active() map[string]types.AttributeValue {
	b.t.Helper()
	out, err := b.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &b.table,
		Key: keytable.Key("fleet", "branch:ACTIVE"), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		b.t.Fatalf("reading branch:ACTIVE: %v", err)
	}
	return out.Item
}

// versionsOf returns the branch key version each stored item's encrypted
// data key names, by id.
func versionsOf(t *testing.T, db *dynamodb.Client, table string) map[string]string {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	if err != nil || out.LastEvaluatedKey != nil {
		t.Fatalf("scan: %v (or more than a page)", err)
	}
	versions := make(map[string]string, len(out.Items))
	for _, item := range out.Items {
		h, err := structure.ParseHeader(item[structure.HeaderAttr].(*types.AttributeValueMemberB).Value)
		if err != nil {
			t.Fatal(err)
		}
		named, err := keywrap.ParseHierarchyEDK(h.EDKs[0])
		if err != nil || named.BranchKeyID != "fleet" {
			t.Fatalf("item %v: EDK %+v, %v", item["id"], named, err)
		}
		versions[item["id"].(*types.AttributeValueMemberS).Value] = named.Version
	}
	return versions
}

// putAccountsVia writes accounts first to first+n-1 through s.
func putAccountsVia(t *testing.T, s *dynacrypt.Store[Account], first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		if err := s.Put(context.Background(), &Account{ID: fmt.Sprintf("acct-%03d", i), Secret: fmt.Sprint("secret ", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWalkAfterBranchKeyRotation: after a rotation of the branch key of a
// table in DB-ESDK's format, a walk rewrites none of its items (they are in
// the suite it writes: it does not compare branch key versions), and a walk
// with All, by a Store whose keyring is new, moves every item to the new
// version; every item then reads.
func TestWalkAfterBranchKeyRotation(t *testing.T) {
	const n = 20
	ctx := context.Background()
	b := newBranchKeyStore(t)
	db, table := usersTable(t)
	putAccountsVia(t, b.store(db, table), 0, n)
	before := versionsOf(t, db, table)
	second := b.rotate()

	p, err := b.store(db, table).Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil || p.Rewritten != 0 || p.Skipped != n {
		t.Fatalf("walk after the rotation: %+v, %v; want every item skipped", p, err)
	}
	if got := versionsOf(t, db, table); !maps.Equal(got, before) {
		t.Fatalf("the walk without All moved items: %v, were %v", got, before)
	}
	p, err = b.store(db, table).Reencrypt(ctx, dynacrypt.ReencryptOptions{All: true})
	if err != nil || p.Rewritten != n {
		t.Fatalf("walk with All after the rotation: %+v, %v", p, err)
	}
	for id, v := range versionsOf(t, db, table) {
		if v != second {
			t.Errorf("item %s is under version %s after the walk, want the new version %s", id, v, second)
		}
	}
	reader := b.store(db, table)
	for i := range n {
		got, err := reader.Get(ctx, Account{ID: fmt.Sprintf("acct-%03d", i)})
		if err != nil || got.Secret != fmt.Sprint("secret ", i) || got.Version != 2 {
			t.Fatalf("account %d after the walk: %+v, %v", i, got, err)
		}
	}
}

// TestWalkAfterRollbackMovesNoItemBack: someone who can write the key store
// puts back the branch:ACTIVE record of the first version once items were
// written under the second. A walk with All, by a Store whose keyring is
// new, moves no item from the second version onto the first: each fails
// with dynacrypt.ErrIntegrity and stays as it was.
func TestWalkAfterRollbackMovesNoItemBack(t *testing.T) {
	const n = 10
	ctx := context.Background()
	b := newBranchKeyStore(t)
	db, table := usersTable(t)
	putAccountsVia(t, b.store(db, table), 0, n)
	firstActive := b.active()
	second := b.rotate()
	putAccountsVia(t, b.store(db, table), n, n) // under the second version: a new keyring reads it
	before := versionsOf(t, db, table)
	underSecond := 0
	for _, v := range before {
		if v == second {
			underSecond++
		}
	}
	if underSecond != n {
		t.Fatalf("%d items under the second version, want %d", underSecond, n)
	}
	testrig.RawPut(t, db, b.table, firstActive) // the rollback

	var mu sync.Mutex
	failed := map[string]error{}
	p, err := b.store(db, table).Reencrypt(ctx, dynacrypt.ReencryptOptions{All: true, Failed: func(key map[string]types.AttributeValue, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed[key["id"].(*types.AttributeValueMemberS).Value] = err
	}})
	if err == nil || p.Failed < n {
		t.Fatalf("walk with All after the rollback: %+v, %v; want the %d items under the second version failed", p, err, n)
	}
	after := versionsOf(t, db, table)
	for id, v := range before {
		switch {
		case v == second && after[id] != second:
			t.Errorf("item %s was moved from the second version onto %s", id, after[id])
		case v == second && !errors.Is(failed[id], dynacrypt.ErrIntegrity):
			t.Errorf("item %s under the second version: %v, want an error wrapping ErrIntegrity", id, failed[id])
		case v != second && after[id] != v:
			t.Errorf("item %s was moved from version %s to %s", id, v, after[id])
		}
	}
}
