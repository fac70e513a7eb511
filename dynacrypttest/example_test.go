package dynacrypttest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// The fake Cipher stands in for KMS in unit tests: it counts calls, checks
// the encryption context, and fails on demand.
func ExampleCipher() {
	c := dynacrypttest.NewCipher()
	ctx := context.Background()
	users := map[string]string{dynacrypt.TableContextKey: "users"}

	wrapped, _ := c.Encrypt(ctx, []byte("root"), users)
	plain, _ := c.Decrypt(ctx, wrapped, users)
	fmt.Println(string(plain), c.Encrypts(), c.Decrypts())

	_, err := c.Decrypt(ctx, wrapped, map[string]string{dynacrypt.TableContextKey: "orders"})
	fmt.Println(errors.Is(err, dynacrypttest.ErrContextMismatch), errors.Is(err, dynacrypt.ErrIntegrity))

	c.FailDecrypt(dynacrypttest.ErrInjected)
	_, err = c.Decrypt(ctx, wrapped, users)
	fmt.Println(err)
	// Output:
	// root 1 1
	// true true
	// dynacrypttest: injected failure
}

// Each fake has its own key, as each KMS key does: a fake with another key
// cannot unwrap a root key (so a Store using it reads no item and resumes no
// cursor of the writer's), while fakes made with the same key can, each
// counting its own calls.
func ExampleNewCipherWithKey() {
	ctx := context.Background()
	notes := map[string]string{dynacrypt.TableContextKey: "notes"}
	writer := dynacrypttest.NewCipherWithKey("tenant-a")
	wrapped, _ := writer.Encrypt(ctx, []byte("root key"), notes)

	other := dynacrypttest.NewCipherWithKey("tenant-b")
	_, err := other.Decrypt(ctx, wrapped, notes)
	fmt.Println(errors.Is(err, dynacrypttest.ErrWrongKey), errors.Is(err, dynacrypt.ErrIntegrity))

	_, err = dynacrypttest.NewCipher().Decrypt(ctx, wrapped, notes) // a random key of its own
	fmt.Println(errors.Is(err, dynacrypttest.ErrWrongKey))

	same := dynacrypttest.NewCipherWithKey("tenant-a")
	plain, err := same.Decrypt(ctx, wrapped, notes)
	fmt.Println(string(plain), err, same.Decrypts(), writer.Decrypts())
	// Output:
	// true true
	// true
	// root key <nil> 1 0
}

// Note is a clinic's note: the clinic is the tenant.
type Note struct {
	Clinic string `dynamodbav:"clinic"`
	ID     string `dynamodbav:"id"`
	Body   string `dynamodbav:"body" encrypt:"kms"`
}

// openNotes opens the notes Store as a process of the notes service does,
// with a branch key per clinic from src. The example makes no request:
// MarshalItem and UnmarshalItem do what Put and Get do to items.
func openNotes(src keystore.BranchKeySource) *dynacrypt.Store[Note] {
	cipher, err := keystore.NewCipher(src, "notes-service",
		keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
	if err != nil {
		log.Fatal(err)
	}
	notes, err := dynacrypt.New[Note](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "notes",
		dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithTenantAttribute("clinic"), dynacrypt.WithCipher(cipher))
	if err != nil {
		log.Fatal(err)
	}
	return notes
}

// A key store in memory stands in for a key store table in unit tests: a
// branch key per tenant, created, rotated and shredded as in a KeyStore,
// with real random keys and no server.
func ExampleMemoryKeyStore() {
	ctx := context.Background()
	keys := dynacrypttest.NewMemoryKeyStore()
	for _, id := range []string{"clinic-acme", "clinic-globex"} {
		if _, err := keys.Create(ctx, id); err != nil {
			log.Fatal(err)
		}
	}
	notes := openNotes(keys)
	acme, err := notes.MarshalItem(ctx, &Note{Clinic: "acme", ID: "n1", Body: "acme's note"})
	if err != nil {
		log.Fatal(err)
	}
	globex, err := notes.MarshalItem(ctx, &Note{Clinic: "globex", ID: "n1", Body: "globex's note"})
	if err != nil {
		log.Fatal(err)
	}

	// Acme leaves: its branch key is shredded, and with it its notes.
	if err := keys.Delete(ctx, "clinic-acme"); err != nil {
		log.Fatal(err)
	}
	later := openNotes(keys) // a process started after the shredding
	_, err = later.UnmarshalItem(ctx, acme)
	fmt.Println("acme:", errors.Is(err, keystore.ErrBranchKeyShredded), errors.Is(err, dynacrypt.ErrKeyGone))
	n, err := later.UnmarshalItem(ctx, globex)
	fmt.Println("globex:", n.Body, err)
	// Output:
	// acme: true true
	// globex: globex's note <nil>
}

// A test of a service whose tenants each have a branch key, on local
// servers (dynalite and local-kms): a KMS key and a key store of the
// test's own, a Store over a fresh table, and an item as stored, which a
// test can check, edit, or give to streamstest to build stream records.
// (Compiled, not run: it needs the servers, and belongs in a test.)
func ExampleNewKeyStore() {
	var t *testing.T // the test's
	ctx := context.Background()
	db := dynacrypttest.DynamoDB(t)
	kmsClient, keyARN := dynacrypttest.KMSKey(t)
	keys := dynacrypttest.NewKeyStore(t, db, kmsClient, keyARN)
	for _, id := range []string{"notes-service", "clinic-acme"} {
		if _, err := keys.Create(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	cipher, err := keystore.NewCipher(keys, "notes-service",
		keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
	if err != nil {
		t.Fatal(err)
	}
	notes := dynacrypttest.NewStore[Note](t, db,
		dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithTenantAttribute("clinic"), dynacrypt.WithCipher(cipher))

	note := Note{Clinic: "acme", ID: "n1", Body: "a secret"}
	if err := notes.Put(ctx, &note); err != nil {
		t.Fatal(err)
	}
	stored := dynacrypttest.StoredItem(t, db, notes, note)
	if _, ok := stored["body"].(*types.AttributeValueMemberB); !ok {
		t.Errorf("the body is stored as %T, not as ciphertext", stored["body"])
	}
}
