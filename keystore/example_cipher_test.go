package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// fixedKeys is a BranchKeySource of branch keys held in memory: a stand-in
// for a *keystore.KeyStore where there is no DynamoDB table or KMS key, as
// in this example or in unit tests.
type fixedKeys []*keystore.BranchKey

func (f fixedKeys) ActiveBranchKey(_ context.Context, id string) (*keystore.BranchKey, error) {
	for _, k := range f {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, keystore.ErrBranchKeyNotFound
}

func (f fixedKeys) BranchKeyVersion(_ context.Context, id, version string) (*keystore.BranchKey, error) {
	for _, k := range f {
		if k.ID == id && k.Version == version {
			return k, nil
		}
	}
	return nil, keystore.ErrBranchKeyNotFound
}

// A Cipher wraps a Store's root keys under a branch key, which it gets
// from a key store (here, a fixed key in memory). The wrapped root key
// names the branch key and version; under another encryption context (here,
// another table) it does not unwrap.
func ExampleCipher() {
	ctx := context.Background()
	key, err := keystore.NewBranchKey("users-fleet", "000102030405060708090a0b0c0d0e0f",
		time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		log.Fatal(err)
	}
	cipher, err := keystore.NewCipher(fixedKeys{key}, "users-fleet")
	if err != nil {
		log.Fatal(err)
	}

	// What a Store does with it: wrap a root key once, then seal and open
	// items with keys derived from the root key.
	items, err := dynacrypt.NewItems("users",
		dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithEncryptedAttributes("token"),
		dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := items.Seal(ctx, map[string]types.AttributeValue{
		"id":    &types.AttributeValueMemberS{Value: "u1"},
		"token": &types.AttributeValueMemberS{Value: "s3cret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	opened, err := items.Open(ctx, sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token:", opened["token"].(*types.AttributeValueMemberS).Value)

	// The Cipher itself, as the Store calls it.
	root := make([]byte, keystore.KeySize) // the Store's root keys are random
	wrapped, err := cipher.Encrypt(ctx, root, map[string]string{"dynacrypt-table": "users"})
	if err != nil {
		log.Fatal(err)
	}
	id, version, _ := keystore.WrappedBy(wrapped)
	fmt.Println(len(wrapped), "bytes, under", id, "version", version)
	_, err = cipher.Decrypt(ctx, wrapped, map[string]string{"dynacrypt-table": "orders"})
	fmt.Println("under another table's context:", errors.Is(err, dynacrypt.ErrIntegrity))
	// Output:
	// token: s3cret
	// 112 bytes, under users-fleet version 000102030405060708090a0b0c0d0e0f
	// under another table's context: true
}

// A table written with another Cipher (KMSCipher in production; here an
// AESCipher) moves to the key store: a Cipher with WithPreviousCipher reads
// both kinds of root keys, wraps new ones under the branch key only, and
// tells the re-encryption walk which items are still to move.
func ExampleWithPreviousCipher() {
	ctx := context.Background()
	old, err := dynacrypt.NewAESCipher(bytes.Repeat([]byte{0x17}, 32))
	if err != nil {
		log.Fatal(err)
	}
	key, err := keystore.NewBranchKey("users-fleet", "000102030405060708090a0b0c0d0e0f",
		time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		log.Fatal(err)
	}
	moving, err := keystore.NewCipher(fixedKeys{key}, "users-fleet", keystore.WithPreviousCipher(old))
	if err != nil {
		log.Fatal(err)
	}
	itemsWith := func(c dynacrypt.Cipher) *dynacrypt.Items {
		items, err := dynacrypt.NewItems("users", dynacrypt.WithPartitionKey("id"),
			dynacrypt.WithEncryptedAttributes("token"), dynacrypt.WithCipher(c))
		if err != nil {
			log.Fatal(err)
		}
		return items
	}
	before, err := itemsWith(old).Seal(ctx, map[string]types.AttributeValue{
		"id":    &types.AttributeValueMemberS{Value: "u1"},
		"token": &types.AttributeValueMemberS{Value: "written before the move"},
	})
	if err != nil {
		log.Fatal(err)
	}
	opened, err := itemsWith(moving).Open(ctx, before)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read through the moving Cipher:", opened["token"].(*types.AttributeValueMemberS).Value)

	root := make([]byte, keystore.KeySize)
	wrapped, err := moving.Encrypt(ctx, root, map[string]string{"dynacrypt-table": "users"})
	if err != nil {
		log.Fatal(err)
	}
	id, _, _ := keystore.WrappedBy(wrapped)
	fmt.Println("new root keys are wrapped under:", id)
	wrappedBefore, err := old.Encrypt(ctx, root, map[string]string{"dynacrypt-table": "users"})
	if err != nil {
		log.Fatal(err)
	}
	// What the walk (Store.Reencrypt) asks of each item's root key.
	fmt.Println("under the current key: new", moving.UnderCurrentKey(wrapped), "old", moving.UnderCurrentKey(wrappedBefore))
	// Output:
	// read through the moving Cipher: written before the move
	// new root keys are wrapped under: users-fleet
	// under the current key: new true old false
}
