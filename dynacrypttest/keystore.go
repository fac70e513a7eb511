package dynacrypttest

import (
	"context"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// KeyStoreDB is what [NewKeyStore] needs of a DynamoDB client: what a
// [keystore.KeyStore] uses, and what it takes to create and delete its
// table. *dynamodb.Client implements it, and so does a wrapper that embeds
// one, such as one that counts requests.
type KeyStoreDB interface {
	keystore.DB
	TableAPI
}

// NewKeyStore returns a [keystore.KeyStore] over a new table with a unique
// name, which is also its logical name, and deletes the table when the test
// ends. Its material is wrapped under the KMS key kmsKeyID through
// kmsClient, or, if kmsKeyID is "", under a new key made for the test
// through kmsClient, which must then be a [KeyMaker] (as *kms.Client is),
// as [KMSKey] makes one. The key store is empty: Create its branch keys.
// Any failure fails the test.
//
// With local servers:
//
//	kmsClient, keyARN := dynacrypttest.KMSKey(t)
//	ks := dynacrypttest.NewKeyStore(t, dynacrypttest.DynamoDB(t), kmsClient, keyARN)
//	if _, err := ks.Create(ctx, "tenant-acme"); err != nil { ... }
//
// For unit tests without servers, see [MemoryKeyStore].
func NewKeyStore(tb testing.TB, db KeyStoreDB, kmsClient dynacrypt.KMSClient, kmsKeyID string) *keystore.KeyStore {
	tb.Helper()
	if kmsKeyID == "" {
		maker, ok := kmsClient.(KeyMaker)
		if !ok {
			tb.Fatalf("dynacrypttest: NewKeyStore: no KMS key given, and the client (%T) cannot make one (it is no KeyMaker)", kmsClient)
		}
		kmsKeyID = newKMSKey(tb, maker)
	}
	name := tableName(tb)
	ks, err := keystore.New(db, name, name, kmsClient, kmsKeyID)
	if err != nil {
		tb.Fatalf("dynacrypttest: NewKeyStore: %v", err)
	}
	if err := ks.CreateTable(context.Background()); err != nil {
		tb.Fatalf("dynacrypttest: NewKeyStore: %v", err)
	}
	deleteAtEnd(tb, db, name)
	return ks
}
