package main

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestDBESDKWrongKeyringWritesNothing: a walk or an export decryption
// given another DB-ESDK keyring than the items' (another KMS key, branch
// key, key store KMS key or logical name, a key store that is not there, a
// raw AES key of another name or the same name), or a walk to DB-ESDK's
// format under a branch key that does not exist, fails each item with an
// error that names the key it looked for, writes nothing (the table is
// as it was, item for item) and prints no plaintext.
func TestDBESDKWrongKeyringWritesNothing(t *testing.T) {
	const n = 5
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	ksTable, ks := dbesdkKeyStore(t, db, "fleet", "other")
	rawKey, otherRawKey := randomKey(t), randomKey(t)

	fleet, err := dbesdk.HierarchicalKeyring(ks, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	underKMS, err := dbesdk.KMSKeyring(kmsClient, keyARNA)
	if err != nil {
		t.Fatal(err)
	}
	underRawAES, err := dbesdk.RawAESKeyring("ns", "k", rawKey)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{}
	for name, kr := range map[string]*dbesdk.Keyring{"kms": underKMS, "hierarchical": fleet, "raw AES": underRawAES} {
		tables[name] = accountsTable(t, db)
		putAccounts(t, dbesdkAccounts(t, db, tables[name], kr), n)
	}
	tables["dynacrypt"] = accountsTable(t, db)
	putAccounts(t, accounts(t, db, tables["dynacrypt"], dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)), n)

	hierarchical := func(branchKey string, more ...string) []string {
		return slices.Concat([]string{"-dbesdk-branch-key", branchKey}, dbesdkKeyStoreFlags(ksTable), more)
	}
	for _, c := range []struct {
		name, table string
		command     []string // "reencrypt" or "export-decrypt" and the options of the case
		keyring     []string
		says        string
	}{
		{"another KMS key", "kms", []string{"reencrypt", "-to", "dynacrypt"}, []string{"-dbesdk-kms-key", keyARNB},
			"no encrypted data key is for KMS key " + keyARNB},
		{"another KMS key, -all", "kms", []string{"reencrypt", "-to", "dbesdk", "-all"}, []string{"-dbesdk-kms-key", keyARNB},
			"no encrypted data key is for KMS key " + keyARNB},
		{"another KMS key, an export", "kms", []string{"export-decrypt"}, []string{"-dbesdk-kms-key", keyARNB},
			"no encrypted data key is for KMS key " + keyARNB},
		{"another branch key", "hierarchical", []string{"reencrypt", "-to", "dynacrypt"}, hierarchical("other"),
			`no encrypted data key is for branch key "other"`},
		{"another branch key, an export", "hierarchical", []string{"export-decrypt"}, hierarchical("other"),
			`no encrypted data key is for branch key "other"`},
		{"another key store KMS key", "hierarchical", []string{"reencrypt", "-to", "dbesdk", "-all"},
			[]string{"-dbesdk-branch-key", "fleet", "-dbesdk-keystore", ksTable, "-dbesdk-keystore-key", keyARNB},
			`not the key store's KMS key ` + keyARNB},
		{"another key store name", "hierarchical", []string{"reencrypt", "-to", "dynacrypt"}, hierarchical("fleet", "-dbesdk-keystore-name", "elsewhere"),
			`key store elsewhere: reading branch key "fleet"`},
		{"no key store", "hierarchical", []string{"reencrypt", "-to", "dynacrypt"},
			[]string{"-dbesdk-branch-key", "fleet", "-dbesdk-keystore", "no-such-table", "-dbesdk-keystore-key", keyARNA}, "ResourceNotFoundException"},
		{"a raw AES key of another name", "raw AES", []string{"reencrypt", "-to", "dynacrypt"},
			[]string{"-dbesdk-raw-aes-key-file", rawAESKeyFile(t, rawKey), "-dbesdk-key-namespace", "ns", "-dbesdk-key-name", "k2"}, `no encrypted data key is for raw AES key "k2" in namespace "ns"`},
		{"another raw AES key of the name", "raw AES", []string{"export-decrypt"},
			[]string{"-dbesdk-raw-aes-key-file", rawAESKeyFile(t, otherRawKey), "-dbesdk-key-namespace", "ns", "-dbesdk-key-name", "k"}, "does not unwrap"},
		{"a branch key that does not exist", "dynacrypt", []string{"reencrypt", "-to", "dbesdk"}, hierarchical("nope"),
			`branch key "nope": key gone (deleted): DB-ESDK branch key not found`},
	} {
		t.Run(c.name, func(t *testing.T) {
			table := tables[c.table]
			before := sortedLines(scanExport(t, db, table))
			var o outcome
			switch c.command[0] {
			case "reencrypt":
				o = runBinary(t, "", slices.Concat([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
					"-key", testrig.KeyA}, c.command[1:], c.keyring)...)
				if _, rewritten, _, failed := counts(t, o); rewritten != 0 || failed != n {
					t.Errorf("want every item failed, none rewritten: %s", o)
				}
			case "export-decrypt":
				o = runBinary(t, scanExport(t, db, table), slices.Concat([]string{"export-decrypt", "-table", table,
					"-partition-key", "tenant", "-sort-key", "seq", "-encrypted", "secret,pin"}, c.keyring)...)
				if o.stdout != "" {
					t.Errorf("export-decrypt wrote %q", o.stdout)
				}
			}
			if o.code != exitItems || !strings.Contains(o.stderr, c.says) || strings.Contains(o.stderr, "dbesdk: dbesdk:") ||
				strings.Contains(o.stdout+o.stderr, "secret-") {
				t.Errorf("want exit code 1 and %q, said once, for each item, without plaintext: %s", c.says, o)
			}
			if after := sortedLines(scanExport(t, db, table)); !slices.Equal(after, before) {
				t.Errorf("the table changed:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// randomKey returns a new 256-bit key.
func randomKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

// rawAESKeyFile writes key to a file as -dbesdk-raw-aes-key-file reads it:
// its base64 and a newline. It returns the file's name.
func rawAESKeyFile(t *testing.T, key []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "dbesdk.key")
	if err := os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// sortedLines returns the lines of text, sorted.
func sortedLines(text string) []string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	slices.Sort(lines)
	return lines
}
