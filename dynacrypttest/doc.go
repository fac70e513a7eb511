// Package dynacrypttest is dynacrypt's test kit: what a service's own tests
// need to test code that uses dynacrypt, with fakes where no server is
// wanted and helpers for local servers where one is.
//
// Without servers:
//
//   - [NewCipher] returns a fake [dynacrypt.Cipher] with a random key of its
//     own; it counts its calls, checks the encryption context, and fails on
//     demand. Fakes made by [NewCipherWithKey] with the same key read each
//     other's ciphertexts; fakes with different keys do not, so a test can
//     check that a Store with another key reads nothing. The fake is not
//     secret: never use it for real data.
//   - [NewMemoryKeyStore] returns a key store in memory, a
//     [keystore.BranchKeySource] for [keystore.NewCipher]: branch keys with
//     real random material, created, rotated and shredded by id, with the
//     errors of a [keystore.KeyStore]. It serves tenants' beacon keys too.
//
// With local servers, named by the SDK's standard variables
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS (dynalite or DynamoDB
// Local, local-kms):
//
//   - [DynamoDB] and [KMS] return clients for them;
//   - [KMSKey] creates a KMS key for the test alone;
//   - [NewTable] creates a table, [NewStore] a Store over a table made from
//     its options, [NewKeyStore] a key store over a table of its own; each
//     is deleted when the test ends;
//   - [StoredItem] reads an item as stored, encrypted and signed: to edit it
//     at rest, or to build the stream records of its changes with package
//     github.com/dynacrypt/dynacrypt/streams/streamstest (in the streams
//     module, which keeps aws-lambda-go out of this one).
//
// Each skips the test when its variable is unset, so that `go test` passes
// on a machine without servers, and fails it when the environment variable
// CI is set too, so that a build server missing its servers never reports
// the tests as passed.
//
// The helpers take interfaces, not clients: [NewStore] takes any [StoreDB]
// ([dynacrypt.DB] and the table methods, [TableAPI]) and [NewKeyStore] any
// [KeyStoreDB], so a wrapper that embeds *dynamodb.Client and counts or
// traces its requests serves as well as the client.
//
// A test of a notes service whose clinics each have a branch key might
// read:
//
//	func TestNotes(t *testing.T) {
//		ctx := context.Background()
//		db := dynacrypttest.DynamoDB(t)
//		kmsClient, keyARN := dynacrypttest.KMSKey(t)
//		keys := dynacrypttest.NewKeyStore(t, db, kmsClient, keyARN)
//		// ... keys.Create(ctx, "notes-service"), keys.Create(ctx, "clinic-acme")
//		cipher, err := keystore.NewCipher(keys, "notes-service",
//			keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
//		if err != nil {
//			t.Fatal(err)
//		}
//		notes := dynacrypttest.NewStore[Note](t, db,
//			dynacrypt.WithPartitionKey("clinic"), dynacrypt.WithSortKey("id"),
//			dynacrypt.WithTenantAttribute("clinic"), dynacrypt.WithCipher(cipher))
//		// ... notes.Put, notes.Get; dynacrypttest.StoredItem(t, db, notes, key)
//	}
//
// Run it with the servers:
//
//	export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 AWS_ENDPOINT_URL_KMS=http://127.0.0.1:8080
//	export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x
//	go test ./...
//
// A unit test without servers uses the fake Cipher or a MemoryKeyStore,
// and [dynacrypt.Store.MarshalItem] and [dynacrypt.Store.UnmarshalItem] in
// place of Put and Get.
//
// The repository's streams/examples/noteaudit is a service tested with
// this kit alone: a Store with a branch key per clinic, on local servers,
// and its Lambda handler fed events built by streamstest.
package dynacrypttest
