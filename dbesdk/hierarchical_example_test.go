package dbesdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// A fleet that shares one branch key with DB-ESDK services: each process
// calls KMS about once per branch key version and cache TTL.
func ExampleHierarchicalKeyring() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	ks, err := dbesdk.NewKeyStore(dynamodb.NewFromConfig(cfg), "branch-key-store", "branch-key-store",
		kms.NewFromConfig(cfg), keyStoreKMSKey)
	if err != nil {
		log.Fatal(err)
	}
	keyring, err := dbesdk.HierarchicalKeyring(ks, "a3b0a1e8-bd0e-4c37-9a4a-0a1c2f6c7b3d",
		dbesdk.WithCacheTTL(5*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	_ = keyring // the keyring of a Store that reads and writes DB-ESDK's format
}

// One branch key per tenant: the tenant attribute is
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, and tenant "acme" has branch key
// "tenant-acme". An item whose header names another tenant's branch key is
// refused before any request.
func ExampleWithBranchKeyIDSupplier() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	ks, err := dbesdk.NewKeyStore(dynamodb.NewFromConfig(cfg), "branch-key-store", "branch-key-store",
		kms.NewFromConfig(cfg), keyStoreKMSKey)
	if err != nil {
		log.Fatal(err)
	}
	keyring, err := dbesdk.HierarchicalKeyring(ks, "",
		dbesdk.WithBranchKeyIDSupplier(dbesdk.BranchKeyIDFromAttribute("tenant", "tenant-")))
	if err != nil {
		log.Fatal(err)
	}
	_ = keyring
}

// A supplier of its own: tenants map to branch keys through a table the
// service keeps (here a map), and unknown tenants are refused.
func ExampleBranchKeyIDSupplier() {
	branchKeys := map[string]string{"acme": "3f9c2d6e-8a41-4b7e-9c0d-5e1f2a3b4c5d"}
	var supplier dbesdk.BranchKeyIDSupplier = func(_ context.Context, key map[string]types.AttributeValue) (string, error) {
		tenant, ok := key["tenant"].(*types.AttributeValueMemberS)
		if !ok {
			return "", errors.New("no tenant")
		}
		id, ok := branchKeys[tenant.Value]
		if !ok {
			return "", fmt.Errorf("unknown tenant %q", tenant.Value)
		}
		return id, nil
	}
	_ = dbesdk.WithBranchKeyIDSupplier(supplier) // an option of HierarchicalKeyring
}
