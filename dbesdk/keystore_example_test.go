package dbesdk_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// The KMS key that wraps the key store's branch keys, as a key ARN.
const keyStoreKMSKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// An operator creates a branch key in the key store that DB-ESDK services
// share (the table name and logical name are theirs), and later rotates it.
func ExampleNewKeyStore() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ks, err := dbesdk.NewKeyStore(dynamodb.NewFromConfig(cfg), "branch-key-store", "branch-key-store",
		kms.NewFromConfig(cfg), keyStoreKMSKey)
	if err != nil {
		log.Fatal(err)
	}
	id, err := ks.Create(ctx, "", map[string]string{"service": "orders"}) // a new UUID
	if err != nil {
		log.Fatal(err)
	}
	version, err := ks.Rotate(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("branch key", id, "now wraps under version", version)
}
