package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestMigrateArticleTable writes users the article's way, runs the command's
// walk, and reads them all without the legacy option.
func TestMigrateArticleTable(t *testing.T) {
	ctx := context.Background()
	ddb := testrig.DynamoDB(t)
	k, _ := testrig.KMS(t)
	table := dynacrypttest.NewTable(t, ddb, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	const n = 250
	for i := 0; i < n; i++ {
		if err := testrig.ArticleUserPut(ctx, ddb, k, table, testrig.KeyA, fmt.Sprint("u", i), "user", fmt.Sprint("token-", i)); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint := filepath.Join(t.TempDir(), "checkpoint")
	if err := run(ctx, table, testrig.KeyA, "", testrig.KeyA, 3, checkpoint); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(checkpoint); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a complete walk: %v", err)
	}
	users, err := dynacrypt.New[User](ddb, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyA)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		u, err := users.Get(ctx, User{ID: fmt.Sprint("u", i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != fmt.Sprint("token-", i) || u.Version != 1 {
			t.Fatalf("u%d after the walk: %+v, %v", i, u, err)
		}
	}
}
