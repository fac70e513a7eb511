package dynacrypt_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestItemsReencrypt: Items with no Go type walk a table a Store wrote
// under key A to key B, incrementing the version as a Store's walk does;
// a second walk finds nothing to do; with All, every item is rewritten
// again, under a new header, and still reads, by Items and by a Store;
// Items that leave out the encrypted attribute rewrite nothing.
func TestItemsReencrypt(t *testing.T) {
	const n = 120
	ctx := context.Background()
	db, table := usersTable(t)
	k, _ := testrig.KMS(t)
	store := func(c *dynacrypt.KMSCipher) *dynacrypt.Store[User] {
		return mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c))
	}
	underA := store(dynacrypt.NewKMSCipher(k, testrig.KeyA))
	parallel(t, n, func(i int) error {
		return underA.Put(ctx, &User{ID: userID(i), Username: "u", Token: "token-" + userID(i)})
	})

	items, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token"),
		dynacrypt.WithVersion("version"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyB).WithPreviousKeys(testrig.KeyA)))
	if err != nil {
		t.Fatal(err)
	}
	var reports int
	progress, err := items.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{Segments: 3, PageSize: 25,
		Progress: func(dynacrypt.ReencryptProgress) { reports++ }})
	if err != nil || progress.Rewritten != n || progress.Scanned != n || reports < n/25 {
		t.Fatalf("walk to key B: %+v after %d reports, %v", progress, reports, err)
	}
	readB := store(dynacrypt.NewKMSCipher(k, testrig.KeyB))
	check := func(version int64) {
		t.Helper()
		for i := 0; i < n; i++ {
			u, err := readB.Get(ctx, User{ID: userID(i)}, dynacrypt.ConsistentRead())
			if err != nil || u.Token != "token-"+userID(i) || u.Version != version {
				t.Fatalf("%s read with key B only: %+v, %v; want version %d", userID(i), u, err, version)
			}
		}
	}
	check(2)
	if again, err := items.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{}); err != nil || again.Rewritten != 0 || again.Skipped != n {
		t.Errorf("second walk: %+v, %v; want everything skipped", again, err)
	}

	before := rawGet(t, db, table, userID(7))[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value
	if all, err := items.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true}); err != nil || all.Rewritten != n {
		t.Fatalf("walk with All: %+v, %v; want every item rewritten", all, err)
	}
	after := rawGet(t, db, table, userID(7))[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value
	if bytes.Equal(before, after) {
		t.Error("the walk with All left an item's header as it was")
	}
	check(3)
	if all, err := readB.Reencrypt(ctx, dynacrypt.ReencryptOptions{All: true}); err != nil || all.Rewritten != n {
		t.Fatalf("Store walk with All: %+v, %v; want every item rewritten", all, err)
	}
	check(4)

	// An encrypted attribute left out of the list: every item fails and
	// stays as it was, rather than keep a ciphertext whose root key it loses.
	forgetful, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyB)))
	if err != nil {
		t.Fatal(err)
	}
	var failed sync.Map
	progress, err = forgetful.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{All: true,
		Failed: func(key map[string]types.AttributeValue, err error) {
			failed.Store(key["id"].(*types.AttributeValueMemberS).Value, err)
		}})
	if err == nil || !strings.Contains(err.Error(), `attribute "token" is encrypted, but not declared`) || progress.Failed != n || progress.Rewritten != 0 {
		t.Errorf("walk without the encrypted attribute: %+v, %v; want every item failed", progress, err)
	}
	if err, _ := failed.Load(userID(7)); err == nil || !strings.Contains(err.(error).Error(), `"token"`) {
		t.Errorf("Failed was called for %s with %v, want the reason", userID(7), err)
	}
	check(4)

	if _, err := items.Reencrypt(ctx, nil, dynacrypt.ReencryptOptions{}); err == nil {
		t.Error("Reencrypt with a nil DB ran")
	}
	for name, version := range map[string]string{"key": "id", "encrypted": "token", "header": dynacrypt.DefaultHeaderAttribute} {
		if _, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithEncryptedAttributes("token"),
			dynacrypt.WithVersion(version), dynacrypt.WithCipher(newAES(t))); err == nil {
			t.Errorf("NewItems with the %s as version attribute succeeded", name)
		}
	}
}
