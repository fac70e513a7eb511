package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// A fleet's set-up: the key store table and a branch key, made once by an
// operator; then, in every process, a Cipher over the key store and a
// Store using it. Rotating the branch key and re-encrypting, and deleting
// it (crypto-shredding), are operators' tasks too.
func ExampleKeyStore() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ddb, kmsClient := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	ks, err := keystore.New(ddb, "branch-keys", "branch-keys", kmsClient, "alias/branch-keys")
	if err != nil {
		log.Fatal(err)
	}

	// Once.
	if err := ks.CreateTable(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := ks.Create(ctx, "users-fleet"); err != nil {
		log.Fatal(err)
	}

	// In every process: the role needs kms:Decrypt only.
	cipher, err := keystore.NewCipher(ks, "users-fleet")
	if err != nil {
		log.Fatal(err)
	}
	type User struct {
		ID    string `dynamodbav:"id"`
		Token string `dynamodbav:"token" encrypt:"kms"`
	}
	users, err := dynacrypt.New[User](ddb, "users", dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	if err := users.Put(ctx, &User{ID: "u1", Token: "s3cret"}); err != nil {
		log.Fatal(err)
	}

	// Rotation: new root keys go under the new version (in this process
	// at once with Forget, in others once their cache TTL ends), and
	// Reencrypt rewraps the other items.
	if _, err := ks.Rotate(ctx, "users-fleet"); err != nil {
		log.Fatal(err)
	}
	cipher.Forget("users-fleet")
	if _, err := users.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err != nil {
		log.Fatal(err)
	}

	// Crypto-shredding: every item of the fleet becomes unreadable, in
	// the table and in its backups.
	if err := ks.Delete(ctx, "users-fleet"); err != nil {
		log.Fatal(err)
	}
	cipher.Forget("users-fleet")
}

// Tenants: a Store declared dynacrypt.WithTenantAttribute wraps each
// item's root key under its tenant's branch key, and deleting that branch
// key shreds the tenant's data alone. The supplier maps a tenant to its
// branch key id, here with a prefix. An item whose tenant is edited is
// refused before any key store request.
func ExampleWithBranchKeyIDSupplier() {
	ctx := context.Background()
	var keys fixedKeys
	for i, id := range []string{"tenant-acme", "tenant-globex"} {
		k, err := keystore.NewBranchKey(id, fmt.Sprintf("%032x", i), time.Now(), bytes.Repeat([]byte{byte(i)}, 32))
		if err != nil {
			log.Fatal(err)
		}
		keys = append(keys, k)
	}
	cipher, err := keystore.NewCipher(keys, "", keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("tenant-")))
	if err != nil {
		log.Fatal(err)
	}
	// Items seals and opens as a Store of the table does.
	orders, err := dynacrypt.NewItems("orders",
		dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithTenantAttribute("tenant"),
		dynacrypt.WithEncryptedAttributes("card"),
		dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := orders.Seal(ctx, map[string]types.AttributeValue{
		"tenant": &types.AttributeValueMemberS{Value: "acme"},
		"id":     &types.AttributeValueMemberS{Value: "o1"},
		"card":   &types.AttributeValueMemberS{Value: "4111 1111 1111 1111"},
	})
	if err != nil {
		log.Fatal(err)
	}
	opened, err := orders.Open(ctx, sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("acme's card:", opened["card"].(*types.AttributeValueMemberS).Value)

	sealed["tenant"] = &types.AttributeValueMemberS{Value: "globex"}
	_, err = orders.Open(ctx, sealed)
	fmt.Println("made globex's:", errors.Is(err, dynacrypt.ErrIntegrity))
	// Output:
	// acme's card: 4111 1111 1111 1111
	// made globex's: true
}

// A service of tenants configures the mapping of tenants to branch keys
// once, on the Cipher, and the Store takes the tenants' beacon keys from
// it too. The supplier refuses tenant ids the service never issues: such a
// tenant costs no key store or KMS request, on writes, lookups and reads.
// A tenant whose branch key does not exist holds no items: lookups find
// nothing, writes fail with dynacrypt.ErrKeyGone.
func ExampleCipher_TenantBeaconKey() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ddb, kmsClient := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	ks, err := keystore.New(ddb, "branch-keys", "branch-keys", kmsClient, "alias/branch-keys")
	if err != nil {
		log.Fatal(err)
	}
	validTenant := regexp.MustCompile(`^[a-z0-9-]{1,40}$`)
	prefixed := keystore.PrefixSupplier("clinic-")          // tenant "north" is under branch key "clinic-north"
	cipher, err := keystore.NewCipher(ks, "visits-service", // the service's own branch key, for page cursors
		keystore.WithBranchKeyIDSupplier(func(ctx context.Context, tenant string) (string, error) {
			if !validTenant.MatchString(tenant) {
				return "", errors.New("no such clinic")
			}
			return prefixed(ctx, tenant)
		}))
	if err != nil {
		log.Fatal(err)
	}
	type Visit struct {
		Clinic  string `dynamodbav:"clinic"`
		ID      string `dynamodbav:"id"`
		Patient string `dynamodbav:"patient" encrypt:"kms,beacon=16,lower,trim"`
		Notes   string `dynamodbav:"notes" encrypt:"kms"`
	}
	visits, err := dynacrypt.New[Visit](ddb, "visits",
		dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithIndex("by-patient", dynacrypt.BeaconAttribute("patient"), ""),
		dynacrypt.WithTenantAttribute("clinic"),
		dynacrypt.WithCipher(cipher),
		dynacrypt.WithTenantBeaconKeys(cipher.TenantBeaconKey))
	if err != nil {
		log.Fatal(err)
	}
	if err := visits.Put(ctx, &Visit{Clinic: "north", ID: "v1", Patient: "Ana Lima", Notes: "..."}); err != nil {
		log.Fatal(err)
	}
	for v, err := range visits.Lookup(ctx, Visit{Clinic: "north", Patient: "ana lima"}, "by-patient") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.ID)
	}

	// After rotating one clinic's branch key, walk that clinic's visits
	// only: a rewrite changes an item (and increments its version
	// attribute, in a Store WithVersion), so the others are left alone.
	if _, err := ks.Rotate(ctx, "clinic-north"); err != nil {
		log.Fatal(err)
	}
	cipher.Forget("clinic-north")
	if _, err := visits.Reencrypt(ctx, dynacrypt.ReencryptOptions{Tenant: "north"}); err != nil {
		log.Fatal(err)
	}
}
