package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestEncryptPlaintextTableIntoDBESDKFormat runs the runbook's end with
// the command straight into AWS DB-ESDK's item format: snapshot lists the
// plaintext accounts, reencrypt -manifest -plaintext -to dbesdk encrypts
// each under the raw AES keyring (the manifest is checked with the KMS
// key's root keys), and a Store with the keyring alone then reads every
// account, while no secret is left in plaintext at rest.
func TestEncryptPlaintextTableIntoDBESDKFormat(t *testing.T) {
	const n = 50
	db := testrig.DynamoDB(t)
	table := accountsTable(t, db)
	putOldAccounts(t, db, table, 0, n)
	dir := t.TempDir()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyFile, manifest := filepath.Join(dir, "dbesdk.key"), filepath.Join(dir, "manifest")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	tableFlags := []string{"-table", table, "-encrypted", "secret,pin", "-key", testrig.KeyA}
	runBinary(t, "", append([]string{"snapshot", "-manifest", manifest}, tableFlags...)...).want(t, exitOK, "snapshot")
	walk := append([]string{"reencrypt", "-version", "version", "-manifest", manifest, "-plaintext", "-attributes", "note",
		"-to", "dbesdk", "-dbesdk-raw-aes-key-file", keyFile, "-dbesdk-key-namespace", "ns", "-dbesdk-key-name", "k"}, tableFlags...)
	o := runBinary(t, "", walk...).want(t, exitOK, "walk into DB-ESDK's format")
	if _, rewritten, _, failed := counts(t, o); rewritten != n || failed != 0 || !strings.Contains(o.stdout, fmt.Sprintf("%d items without a header migrated", n)) {
		t.Fatalf("walk into DB-ESDK's format: %s", o)
	}

	kr, err := dbesdk.RawAESKeyring("ns", "k", key)
	if err != nil {
		t.Fatal(err)
	}
	dbesdkOnly, err := dynacrypt.New[account](db, table, dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithVersion("version"), dbesdk.Format(kr))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounts(t, dbesdkOnly, n, 1)
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if _, ok := item["aws_dbe_head"]; !ok || item["secret"] == nil {
			t.Fatalf("an account not in DB-ESDK's format after the walk: %v", item["seq"])
		}
		if strings.Contains(fmt.Sprint(item["secret"]), "secret-") {
			t.Fatalf("a secret in plaintext after the walk: %v", item["seq"])
		}
	}
}
