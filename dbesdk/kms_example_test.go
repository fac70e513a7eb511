package dbesdk_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// Items wrapped under a KMS key, one KMS request per item written and
// read, as DB-ESDK services configured with the same key ARN do.
func ExampleKMSKeyring() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	keyring, err := dbesdk.KMSKeyring(kms.NewFromConfig(cfg),
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	if err != nil {
		log.Fatal(err)
	}
	_ = keyring // the keyring of a Store that reads and writes DB-ESDK's format
}
