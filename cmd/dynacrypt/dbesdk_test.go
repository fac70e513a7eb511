package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestReencryptMovesTableToDBESDKAndBack: reencrypt -to dbesdk moves a
// table of dynacrypt's items (under a KMS key) to AWS DB-ESDK's format with
// a raw AES keyring, which a Store reads with that keyring alone; run
// again, it finds nothing to do; export-decrypt decrypts an export of the
// moved table with the keyring flags alone; -to dynacrypt moves it back.
func TestReencryptMovesTableToDBESDKAndBack(t *testing.T) {
	const n = 40
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	cipher := dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)
	putAccounts(t, accounts(t, db, table, cipher), n)

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "dbesdk.key")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyring := []string{"-dbesdk-raw-aes-key-file", keyFile, "-dbesdk-key-namespace", "ns", "-dbesdk-key-name", "k"}
	walk := []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version"}

	runBinary(t, "", append(walk, "-to", "dbesdk", "-key", testrig.KeyA)...).want(t, exitUsage, "-to dbesdk without a keyring")
	o := runBinary(t, "", append(append(walk, "-to", "dbesdk", "-key", testrig.KeyA), keyring...)...).want(t, exitOK, "walk to DB-ESDK")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Fatalf("walk to DB-ESDK: %s", o)
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
	checkAccounts(t, dbesdkOnly, n, 2)
	o = runBinary(t, "", append(append(walk, "-to", "dbesdk"), keyring...)...).want(t, exitOK, "the walk again, without a Cipher")
	if _, rewritten, current, _ := counts(t, o); rewritten != 0 || current != n {
		t.Fatalf("the walk to DB-ESDK run again: %s", o)
	}

	// An export of the moved table, decrypted with the keyring alone.
	var lines []byte
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if lines, err = export.AppendLine(lines, item); err != nil {
			t.Fatal(err)
		}
	}
	o = runBinary(t, string(lines), append([]string{"export-decrypt", "-table", table, "-partition-key", "tenant", "-sort-key", "seq",
		"-encrypted", "secret,pin"}, keyring...)...).want(t, exitOK, "export-decrypt of DB-ESDK items")
	if got := strings.Count(o.stdout, "\n"); got != n || !strings.Contains(o.stdout, `"secret":"secret-7"`) {
		t.Fatalf("export-decrypt wrote %d lines: %s", got, o)
	}

	o = runBinary(t, "", append(append(walk, "-to", "dynacrypt", "-key", testrig.KeyA), keyring...)...).want(t, exitOK, "walk back")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Fatalf("walk back to dynacrypt's format: %s", o)
	}
	checkAccounts(t, accounts(t, db, table, cipher), n, 3)
}
