package dbesdk_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// Every item wrapped under a KMS key in each of two regions, so that either
// region reads it alone.
func ExampleMultiKeyring() {
	ctx := context.Background()
	east, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		log.Fatal(err)
	}
	west, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-west-2"))
	if err != nil {
		log.Fatal(err)
	}
	primary, err := dbesdk.KMSKeyring(kms.NewFromConfig(east),
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	if err != nil {
		log.Fatal(err)
	}
	replica, err := dbesdk.KMSKeyring(kms.NewFromConfig(west),
		"arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321")
	if err != nil {
		log.Fatal(err)
	}
	keyring, err := dbesdk.MultiKeyring(primary, replica)
	if err != nil {
		log.Fatal(err)
	}
	_ = keyring
}
