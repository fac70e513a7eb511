// Package dynacrypttest helps test code that uses dynacrypt: a fake
// [dynacrypt.Cipher] that needs no KMS, clients for local servers, and
// throwaway tables.
//
// [NewCipher] returns a fake Cipher with a random key of its own; it counts
// its calls, checks the encryption context, and fails on demand. Fakes made
// by [NewCipherWithKey] with the same key read each other's ciphertexts;
// fakes with different keys do not, so a test can check that a Store with
// another key reads nothing. The fake is not secret: never use it for real
// data.
//
// [DynamoDB] and [KMS] return clients for the servers named by the SDK's
// standard variables, AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS
// (DynamoDB Local or dynalite, local-kms), and skip the test when the
// variable is unset, or fail it when the environment variable CI is set.
// [NewTable] creates a table that is deleted when the test ends.
//
// A test of a notes service might read:
//
//	func TestNotes(t *testing.T) {
//		db := dynacrypttest.DynamoDB(t)
//		table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
//		notes, err := dynacrypt.New[Note](db, table,
//			dynacrypt.WithPartitionKey("id"),
//			dynacrypt.WithCipher(dynacrypttest.NewCipher()))
//		if err != nil {
//			t.Fatal(err)
//		}
//		// ... notes.Put, notes.Get ...
//	}
//
// Run it with a server:
//
//	export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000
//	export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x
//	go test ./...
package dynacrypttest
