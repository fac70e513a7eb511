package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

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
		out, err := k.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(testrig.KeyA), Plaintext: []byte(fmt.Sprint("token-", i))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
			"id":       &types.AttributeValueMemberS{Value: fmt.Sprint("u", i)},
			"username": &types.AttributeValueMemberS{Value: "user"},
			"token":    &types.AttributeValueMemberB{Value: out.CiphertextBlob},
		}}); err != nil {
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
