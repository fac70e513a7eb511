// Command tokenwatch is an AWS Lambda function on the DynamoDB stream of the
// users table of examples/users: it logs every rotation of a user's API
// token, and every stream record that fails verification, as JSON lines.
//
// Tokens are encrypted in the table, and so in the stream; each write also
// encrypts under a fresh key, so that two ciphertexts of one token differ.
// Telling a rotation from another change therefore takes the plaintexts:
// the function decrypts the old and new images with package streams and
// compares them. It never logs a token.
//
// Deploy it with:
//
//   - the table's stream enabled with view type NEW_AND_OLD_IMAGES;
//   - an event source mapping from the stream with ReportBatchItemFailures,
//     so that a record that fails for a passing cause (KMS unreachable) is
//     retried from that record on, not with its whole batch;
//   - the environment variables USERS_TABLE (the table's name) and
//     USERS_KMS_KEY (the KMS key the users service wraps its root keys
//     under), and a role that may call kms:Decrypt with the encryption
//     context {"dynacrypt-table": USERS_TABLE}. It needs no DynamoDB
//     permission: the images come in the event.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

func main() {
	table, key := os.Getenv("USERS_TABLE"), os.Getenv("USERS_KMS_KEY")
	if table == "" || key == "" {
		log.Fatal("tokenwatch: set USERS_TABLE and USERS_KMS_KEY")
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	users, err := newUsers(dynamodb.NewFromConfig(cfg), table, dynacrypt.NewKMSCipher(kms.NewFromConfig(cfg), key))
	if err != nil {
		log.Fatal(err)
	}
	// The Store is made once per Lambda environment, outside the handler,
	// so that its cache of unwrapped root keys serves every invocation: KMS
	// is called once per root key, not once per record.
	w := &Watcher{Users: users, Log: slog.New(slog.NewJSONHandler(os.Stdout, nil))}
	lambda.Start(w.Handle)
}

// newUsers opens the Store of the users service's table, configured as that
// service's is: the same keys, version and Cipher, or nothing verifies.
func newUsers(db dynacrypt.DB, table string, cipher dynacrypt.Cipher) (*dynacrypt.Store[User], error) {
	return dynacrypt.New[User](db, table,
		dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher))
}
