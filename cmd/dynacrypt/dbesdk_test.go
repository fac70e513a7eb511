package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestReencryptMovesTableToDBESDKAndBack: reencrypt -to dbesdk moves a
// table of dynacrypt's items (under a KMS key) to AWS DB-ESDK's format with
// a raw AES keyring, which a Store reads with that keyring alone; run
// again, it finds nothing to do; export-decrypt decrypts an export of the
// moved table with the keyring flags alone; -to dynacrypt moves it back.
func TestReencryptMovesTableToDBESDKAndBack(t *testing.T) {
	const n = 40
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	cipher := dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)
	putAccounts(t, accounts(t, db, table, cipher), n)

	key := randomKey(t)
	keyring := []string{"-dbesdk-raw-aes-key-file", rawAESKeyFile(t, key), "-dbesdk-key-namespace", "ns", "-dbesdk-key-name", "k"}
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
	checkAccounts(t, dbesdkAccounts(t, db, table, kr), n, 2)
	o = runBinary(t, "", append(append(walk, "-to", "dbesdk"), keyring...)...).want(t, exitOK, "the walk again, without a Cipher")
	if _, rewritten, current, _ := counts(t, o); rewritten != 0 || current != n {
		t.Fatalf("the walk to DB-ESDK run again: %s", o)
	}

	// An export of the moved table, decrypted with the keyring alone.
	exportDecrypts(t, db, table, n, keyring)

	o = runBinary(t, "", append(append(walk, "-to", "dynacrypt", "-key", testrig.KeyA), keyring...)...).want(t, exitOK, "walk back")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Fatalf("walk back to dynacrypt's format: %s", o)
	}
	checkAccounts(t, accounts(t, db, table, cipher), n, 3)
}

// The local-kms keys by key ARN, as DB-ESDK's KMS keyrings and key stores
// name them.
var (
	keyARNA = testrig.KeyARN(testrig.KeyAID)
	keyARNB = testrig.KeyARN(testrig.KeyBID)
)

// dbesdkKeyStoreFlags are the flags naming a DB-ESDK key store of the
// tests, its branch keys wrapped under key A.
func dbesdkKeyStoreFlags(table string) []string {
	return []string{"-dbesdk-keystore", table, "-dbesdk-keystore-key", keyARNA}
}

// dbesdkKeyStore makes a DB-ESDK key store table and the branch keys ids
// with the command, as an operator would, and returns the table's name and
// a KeyStore over it.
func dbesdkKeyStore(t *testing.T, db *dynamodb.Client, ids ...string) (string, *dbesdk.KeyStore) {
	t.Helper()
	table := uniqueName("dynacrypt-cli-dbesdk-ks")
	deleteTableAtEnd(t, db, table)
	runBinary(t, "", "dbesdk-keystore", "create-table", "-dbesdk-keystore", table).want(t, exitOK, "dbesdk-keystore create-table")
	for _, id := range ids {
		o := runBinary(t, "", append([]string{"dbesdk-keystore", "create", "-dbesdk-branch-key", id}, dbesdkKeyStoreFlags(table)...)...).
			want(t, exitOK, "dbesdk-keystore create "+id)
		if !strings.Contains(o.stdout, "branch key "+id+" created") {
			t.Fatalf("dbesdk-keystore create: %s", o)
		}
	}
	kmsClient, _ := testrig.KMS(t)
	ks, err := dbesdk.NewKeyStore(db, table, table, kmsClient, keyARNA)
	if err != nil {
		t.Fatal(err)
	}
	return table, ks
}

// dbesdkAccounts returns a Store of the accounts table that reads and
// writes DB-ESDK's format with keyring alone; opts come last.
func dbesdkAccounts(t *testing.T, db *dynamodb.Client, table string, keyring *dbesdk.Keyring, opts ...dynacrypt.Option) *dynacrypt.Store[account] {
	t.Helper()
	return accountsWith(t, db, table, append([]dynacrypt.Option{dbesdk.Format(keyring)}, opts...)...)
}

// branchKeysOf returns, by the items' seq, the branch key id and version
// that the encrypted data key of each item of table names.
func branchKeysOf(t *testing.T, db *dynamodb.Client, table string) map[string][2]string {
	t.Helper()
	items := scanAll(t, db, table)
	keys := make(map[string][2]string, len(items))
	for _, item := range items {
		head, ok := item[structure.HeaderAttr].(*types.AttributeValueMemberB)
		if !ok {
			t.Fatalf("item %v is not in DB-ESDK's format", item["seq"])
		}
		h, err := structure.ParseHeader(head.Value)
		if err != nil || len(h.EDKs) != 1 {
			t.Fatalf("item %v: header %+v, %v; want one encrypted data key", item["seq"], h, err)
		}
		named, err := keywrap.ParseHierarchyEDK(h.EDKs[0])
		if err != nil {
			t.Fatalf("item %v: %v", item["seq"], err)
		}
		keys[item["seq"].(*types.AttributeValueMemberN).Value] = [2]string{named.BranchKeyID, named.Version}
	}
	return keys
}

// listed returns the versions `dbesdk-keystore list` prints of a branch
// key, oldest first, and the active one.
func listed(t *testing.T, ksTable, id string) (versions []string, active string) {
	t.Helper()
	o := runBinary(t, "", append([]string{"dbesdk-keystore", "list", "-dbesdk-branch-key", id}, dbesdkKeyStoreFlags(ksTable)...)...).
		want(t, exitOK, "dbesdk-keystore list")
	line := regexp.MustCompile(`^([0-9a-f-]{36})\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(\tactive)?$`)
	for _, l := range strings.Split(strings.TrimSpace(o.stdout), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("dbesdk-keystore list printed %q: %s", l, o)
		}
		versions = append(versions, m[1])
		if m[2] != "" {
			active = m[1]
		}
	}
	return versions, active
}

// TestReencryptToDBESDKWithKMSKeyring: reencrypt -to dbesdk with
// -dbesdk-kms-key moves a table of dynacrypt's items to DB-ESDK's format
// under DB-ESDK's AWS KMS keyring, which a Store reads with that keyring
// alone; export-decrypt reads an export of it with the flag alone.
func TestReencryptToDBESDKWithKMSKeyring(t *testing.T) {
	const n = 20
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	putAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)), n)

	walk := []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-to", "dbesdk", "-dbesdk-kms-key", keyARNB}
	runBinary(t, "", slices.Concat(walk[:len(walk)-1], []string{testrig.KeyB, "-key", testrig.KeyA})...).want(t, exitFailure, "-dbesdk-kms-key an alias")
	o := runBinary(t, "", append(walk, "-key", testrig.KeyA)...).want(t, exitOK, "walk to DB-ESDK under a KMS key")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Fatalf("walk to DB-ESDK: %s", o)
	}
	kr, err := dbesdk.KMSKeyring(kmsClient, keyARNB)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounts(t, dbesdkAccounts(t, db, table, kr), n, 2)
	o = runBinary(t, "", walk...).want(t, exitOK, "the walk again, without a Cipher")
	if _, rewritten, current, _ := counts(t, o); rewritten != 0 || current != n {
		t.Fatalf("the walk to DB-ESDK run again: %s", o)
	}

	exportDecrypts(t, db, table, n, []string{"-dbesdk-kms-key", keyARNB})
}

// scanAll returns the items of a test's table, of a page at most, as
// stored.
func scanAll(t *testing.T, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil || out.LastEvaluatedKey != nil {
		t.Fatalf("scan: %v (or more than a page)", err)
	}
	return out.Items
}

// scanExport returns a table's items as the lines of an export.
func scanExport(t *testing.T, db *dynamodb.Client, table string) string {
	t.Helper()
	var (
		lines []byte
		err   error
	)
	for _, item := range scanAll(t, db, table) {
		if lines, err = export.AppendLine(lines, item); err != nil {
			t.Fatal(err)
		}
	}
	return string(lines)
}

// TestReencryptToDBESDKWithHierarchicalKeyring: a DB-ESDK key store and
// branch key made with dbesdk-keystore; reencrypt -to dbesdk with the
// -dbesdk-keystore flags moves a table of dynacrypt's items to DB-ESDK's
// format under the branch key's active version, which a Store with
// DB-ESDK's hierarchical keyring reads. After a rotation with the command,
// a walk rewrites nothing (the items' suite is current), and a walk with
// -all moves every item to the new version, still read by the Store and
// by export-decrypt with the same flags.
func TestReencryptToDBESDKWithHierarchicalKeyring(t *testing.T) {
	const n = 20
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	ksTable, ks := dbesdkKeyStore(t, db, "fleet")
	_, first := listed(t, ksTable, "fleet")
	table := accountsTable(t, db)
	putAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)), n)

	walk := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-to", "dbesdk",
		"-dbesdk-branch-key", "fleet"}, dbesdkKeyStoreFlags(ksTable)...)
	o := runBinary(t, "", append(walk, "-key", testrig.KeyA)...).want(t, exitOK, "walk to DB-ESDK under a branch key")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Fatalf("walk to DB-ESDK: %s", o)
	}
	for seq, k := range branchKeysOf(t, db, table) {
		if k != [2]string{"fleet", first} {
			t.Fatalf("item %s is under branch key %q version %s, want fleet version %s", seq, k[0], k[1], first)
		}
	}
	kr, err := dbesdk.HierarchicalKeyring(ks, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	checkAccounts(t, dbesdkAccounts(t, db, table, kr), n, 2)

	o = runBinary(t, "", append([]string{"dbesdk-keystore", "rotate", "-dbesdk-branch-key", "fleet"}, dbesdkKeyStoreFlags(ksTable)...)...).
		want(t, exitOK, "dbesdk-keystore rotate")
	versions, second := listed(t, ksTable, "fleet")
	if len(versions) != 2 || versions[0] != first || second != versions[1] || !strings.Contains(o.stdout, "version "+second+" is active") {
		t.Fatalf("after a rotation, list gives %v, active %s: %s", versions, second, o)
	}
	o = runBinary(t, "", walk...).want(t, exitOK, "walk after the rotation")
	if _, rewritten, current, _ := counts(t, o); rewritten != 0 || current != n {
		t.Fatalf("walk after the rotation, without -all: %s", o)
	}
	o = runBinary(t, "", append(walk, "-all")...).want(t, exitOK, "walk -all after the rotation")
	if _, rewritten, _, _ := counts(t, o); rewritten != n {
		t.Fatalf("walk -all after the rotation: %s", o)
	}
	for seq, k := range branchKeysOf(t, db, table) {
		if k != [2]string{"fleet", second} {
			t.Fatalf("item %s is under branch key %q version %s, want fleet version %s", seq, k[0], k[1], second)
		}
	}
	checkAccounts(t, dbesdkAccounts(t, db, table, kr), n, 3)
	exportDecrypts(t, db, table, n, slices.Concat([]string{"-dbesdk-branch-key", "fleet"}, dbesdkKeyStoreFlags(ksTable)))
}

// exportDecrypts checks that export-decrypt, given DB-ESDK's keyring by
// flags, decrypts an export of the n accounts of table.
func exportDecrypts(t *testing.T, db *dynamodb.Client, table string, n int, flags []string) {
	t.Helper()
	o := runBinary(t, scanExport(t, db, table), slices.Concat([]string{"export-decrypt", "-table", table, "-partition-key", "tenant", "-sort-key", "seq",
		"-encrypted", "secret,pin"}, flags)...).want(t, exitOK, "export-decrypt of DB-ESDK items")
	if got := strings.Count(o.stdout, "\n"); got != n || !strings.Contains(o.stdout, `"secret":"secret-5"`) {
		t.Fatalf("export-decrypt wrote %d lines: %s", got, o)
	}
}

// TestReencryptToDBESDKTenants: a table of tenants moves to DB-ESDK's
// format with each item under its tenant's branch key, named by
// -dbesdk-branch-key-prefix and the tenant (dbesdk.BranchKeyIDFromAttribute),
// and a Store whose hierarchical keyring has that supplier reads every
// item, as export-decrypt does with the same flags.
func TestReencryptToDBESDKTenants(t *testing.T) {
	const n, tenants = 28, 7
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprint("tenant-t", i)
	}
	ksTable, ks := dbesdkKeyStore(t, db, ids...)
	table := accountsTable(t, db)
	tenantOpt := dynacrypt.WithTenantAttribute("tenant")
	putAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA), tenantOpt), n)

	walk := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-tenant", "tenant",
		"-key", testrig.KeyA, "-to", "dbesdk"}, dbesdkKeyStoreFlags(ksTable)...)
	runBinary(t, "", walk...).want(t, exitItems, "walk without the prefix: branch keys t0 to t6 do not exist")
	o := runBinary(t, "", append(walk, "-dbesdk-branch-key-prefix", "tenant-")...).want(t, exitOK, "walk of tenants to DB-ESDK")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Fatalf("walk of tenants to DB-ESDK: %s", o)
	}
	for seq, k := range branchKeysOf(t, db, table) {
		i, _ := strconv.Atoi(seq)
		if k[0] != "tenant-"+accountOf(i).Tenant {
			t.Fatalf("item %s of tenant %s is under branch key %q", seq, accountOf(i).Tenant, k[0])
		}
	}
	kr, err := dbesdk.HierarchicalKeyring(ks, "", dbesdk.WithBranchKeyIDSupplier(dbesdk.BranchKeyIDFromAttribute("tenant", "tenant-")))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounts(t, dbesdkAccounts(t, db, table, kr, tenantOpt), n, 2)
	exportDecrypts(t, db, table, n, slices.Concat([]string{"-tenant", "tenant", "-dbesdk-branch-key-prefix", "tenant-"}, dbesdkKeyStoreFlags(ksTable)))
}

// TestDBESDKKeyringUsage: the keyring flags name exactly one keyring, with
// its companions and no other's, or the command exits 2 before any
// request, saying what is wrong above its usage.
func TestDBESDKKeyringUsage(t *testing.T) {
	walk := []string{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k"}
	rawAES := []string{"-dbesdk-raw-aes-key-file", "f", "-dbesdk-key-namespace", "ns", "-dbesdk-key-name", "n"}
	kms := []string{"-dbesdk-kms-key", keyARNA}
	hierarchical := []string{"-dbesdk-keystore", "ks", "-dbesdk-keystore-key", keyARNA, "-dbesdk-branch-key", "b"}
	join := func(parts ...[]string) []string { return slices.Concat(append([][]string{walk}, parts...)...) }
	for name, c := range map[string]struct {
		args []string
		says string
	}{
		"raw AES and KMS":                    {join(rawAES, kms), "two DB-ESDK keyrings (-dbesdk-raw-aes-key-file and -dbesdk-kms-key): name one"},
		"KMS and hierarchical":               {join(kms, hierarchical), "two DB-ESDK keyrings (-dbesdk-kms-key and -dbesdk-keystore): name one"},
		"raw AES and hierarchical":           {join(rawAES, hierarchical), "two DB-ESDK keyrings (-dbesdk-raw-aes-key-file and -dbesdk-keystore): name one"},
		"all three":                          {join(rawAES, kms, hierarchical), "three DB-ESDK keyrings (-dbesdk-raw-aes-key-file, -dbesdk-kms-key and -dbesdk-keystore): name one"},
		"-to dbesdk without a keyring":       {join([]string{"-to", "dbesdk"}), "-to dbesdk needs a DB-ESDK keyring"},
		"-to elsewhere":                      {join(kms, []string{"-to", "s3"}), `-to "s3"`},
		"a raw AES key without its name":     {join(rawAES[:4]), "-dbesdk-raw-aes-key-file needs -dbesdk-key-namespace and -dbesdk-key-name"},
		"a raw AES name without its key":     {join(rawAES[2:]), "-dbesdk-key-namespace and -dbesdk-key-name go with -dbesdk-raw-aes-key-file"},
		"KMS with a raw AES namespace":       {join(kms, rawAES[2:4]), "-dbesdk-key-namespace goes with -dbesdk-raw-aes-key-file"},
		"KMS with a branch key":              {join(kms, []string{"-dbesdk-branch-key", "b"}), "-dbesdk-branch-key goes with -dbesdk-keystore"},
		"a key store without its KMS key":    {join(hierarchical[:2], hierarchical[4:]), "-dbesdk-keystore needs -dbesdk-keystore-key"},
		"a key store without a branch key":   {join(hierarchical[:4]), "-dbesdk-keystore needs -dbesdk-branch-key, or -tenant"},
		"a branch key and a prefix":          {join(hierarchical, []string{"-tenant", "tenant", "-dbesdk-branch-key-prefix", "p-"}), "-dbesdk-branch-key and -dbesdk-branch-key-prefix: give one"},
		"a prefix without tenants":           {join(hierarchical[:4], []string{"-dbesdk-branch-key-prefix", "p-"}), "-dbesdk-branch-key-prefix needs -tenant"},
		"a prefix without a key store":       {join(kms, []string{"-tenant", "tenant", "-dbesdk-branch-key-prefix", "p-"}), "-dbesdk-branch-key-prefix goes with -dbesdk-keystore"},
		"a key store name without the store": {join(kms, []string{"-dbesdk-keystore-name", "ks"}), "-dbesdk-keystore-name goes with -dbesdk-keystore"},
		"a key store key without the store":  {join([]string{"-dbesdk-keystore-key", keyARNA}), "-dbesdk-keystore-key goes with -dbesdk-keystore"},
		"another suite":                      {join(kms, []string{"-to", "dbesdk", "-dbesdk-suite", "6702"}), `-dbesdk-suite "6702"`},
		"export-decrypt with two keyrings": {slices.Concat([]string{"export-decrypt", "-table", "t", "-partition-key", "id", "-encrypted", "a"}, kms, hierarchical),
			"two DB-ESDK keyrings (-dbesdk-kms-key and -dbesdk-keystore): name one"},
		"dbesdk-keystore create without its KMS key":  {[]string{"dbesdk-keystore", "create", "-dbesdk-keystore", "ks"}, "-dbesdk-keystore-key is required"},
		"dbesdk-keystore rotate without a branch key": {[]string{"dbesdk-keystore", "rotate", "-dbesdk-keystore", "ks", "-dbesdk-keystore-key", keyARNA}, "-dbesdk-branch-key is required"},
		"dbesdk-keystore list without the table":      {[]string{"dbesdk-keystore", "list", "-dbesdk-keystore-key", keyARNA, "-dbesdk-branch-key", "b"}, "-dbesdk-keystore is required"},
		"dbesdk-keystore without a subcommand":        {[]string{"dbesdk-keystore"}, "usage: dynacrypt dbesdk-keystore COMMAND"},
	} {
		o := runBinary(t, "", c.args...)
		if o.code != exitUsage || !strings.Contains(o.stderr, "usage: dynacrypt") || !strings.Contains(o.stderr, c.says) {
			t.Errorf("%s: want exit code 2, %q and the usage, got %s", name, c.says, o)
		}
	}
	for _, args := range [][]string{{"dbesdk-keystore", "-h"}, {"dbesdk-keystore", "create-table", "-h"}, {"dbesdk-keystore", "create", "-h"},
		{"dbesdk-keystore", "rotate", "-h"}, {"dbesdk-keystore", "list", "-h"}} {
		if o := runBinary(t, "", args...); o.code != exitOK || !strings.Contains(o.stderr, "usage: dynacrypt") {
			t.Errorf("%s: want exit code 0 and the usage, got %s", strings.Join(args, " "), o)
		}
	}
}

// TestCheckpointBoundToDBESDKKeyring: two walks that differ only in one of
// the flags of DB-ESDK's KMS or hierarchical keyring are two walks: each
// refuses the other's checkpoint file (exit code 3, naming the flag, the
// file kept), which would skip what the other walk did; the same walk
// resumes it.
func TestCheckpointBoundToDBESDKKeyring(t *testing.T) {
	db := testrig.DynamoDB(t)
	testrig.KMS(t)
	table := accountsTable(t, db) // empty: the checkpoints are refused, or resumed, before any item
	base := func() dbesdkFlags {
		return dbesdkFlags{to: "dbesdk", keystore: dbesdkKeystoreFlags{table: "ks", kmsKey: keyARNA}}
	}
	args := func(df dbesdkFlags) []string {
		a := []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-tenant", "tenant", "-to", "dbesdk"}
		for _, f := range []struct{ name, value string }{
			{"-dbesdk-kms-key", df.kmsKey}, {"-dbesdk-keystore", df.keystore.table}, {"-dbesdk-keystore-name", df.keystore.name},
			{"-dbesdk-keystore-key", df.keystore.kmsKey}, {"-dbesdk-branch-key", df.keystore.branchKey},
			{"-dbesdk-branch-key-prefix", df.branchKeyPrefix},
		} {
			if f.value != "" {
				a = append(a, f.name, f.value)
			}
		}
		return a
	}
	fromStart, _ := json.Marshal(map[string]any{"done": make([]bool, 4), "starts": make([]any, 4)})
	save := func(df dbesdkFlags) string {
		tf := tableFlags{table: table, encrypted: "secret,pin", header: dynacrypt.DefaultHeaderAttribute, tenant: "tenant"}
		file := filepath.Join(t.TempDir(), "checkpoint")
		c := checkpointFile{Table: table, TableIdentity: identityOf(t, db, table), Segments: 4,
			Flags: walkFlags(tf, cipherFlags{}, df, "version"), Checkpoint: base64.RawURLEncoding.EncodeToString(fromStart)}
		if err := c.save(file); err != nil {
			t.Fatal(err)
		}
		return file
	}
	for name, c := range map[string]struct {
		this, other func(*dbesdkFlags)
		flag        string
	}{
		"another KMS key": {
			func(f *dbesdkFlags) { f.keystore, f.kmsKey = dbesdkKeystoreFlags{}, keyARNA },
			func(f *dbesdkFlags) { f.keystore, f.kmsKey = dbesdkKeystoreFlags{}, keyARNB }, "-dbesdk-kms-key"},
		"KMS or a key store": {
			func(f *dbesdkFlags) {}, func(f *dbesdkFlags) { f.keystore, f.kmsKey = dbesdkKeystoreFlags{}, keyARNA }, "-dbesdk-kms-key"},
		"another key store": {
			func(f *dbesdkFlags) {}, func(f *dbesdkFlags) { f.keystore.table = "ks2" }, "-dbesdk-keystore"},
		"another key store name": {
			func(f *dbesdkFlags) {}, func(f *dbesdkFlags) { f.keystore.name = "fleet-keys" }, "-dbesdk-keystore-name"},
		"another key store KMS key": {
			func(f *dbesdkFlags) {}, func(f *dbesdkFlags) { f.keystore.kmsKey = keyARNB }, "-dbesdk-keystore-key"},
		"another branch key": {
			func(f *dbesdkFlags) { f.keystore.branchKey = "fleet" }, func(f *dbesdkFlags) { f.keystore.branchKey = "fleet-2" }, "-dbesdk-branch-key"},
		"a branch key or the tenants'": {
			func(f *dbesdkFlags) {}, func(f *dbesdkFlags) { f.keystore.branchKey = "fleet" }, "-dbesdk-branch-key"},
		"another prefix": {
			func(f *dbesdkFlags) { f.branchKeyPrefix = "tenant-" }, func(f *dbesdkFlags) { f.branchKeyPrefix = "clinic-" }, "-dbesdk-branch-key-prefix"},
	} {
		this, other := base(), base()
		c.this(&this)
		c.other(&other)
		for _, walk := range []struct{ run, saved dbesdkFlags }{{this, other}, {other, this}} {
			file := save(walk.saved)
			o := runBinary(t, "", append(args(walk.run), "-checkpoint", file)...)
			if o.code != exitFailure || !strings.Contains(o.stderr, c.flag+` "`) || !strings.Contains(o.stderr, "delete "+file) || !fileExists(file) {
				t.Errorf("%s: a walk with %v resumed the checkpoint of one with %v; want exit code 3 naming %s and the file, kept: %s",
					name, args(walk.run)[11:], args(walk.saved)[11:], c.flag, o)
			}
		}
		file := save(this)
		o := runBinary(t, "", append(args(this), "-checkpoint", file)...)
		if o.code != exitOK || !strings.Contains(o.stderr, "resuming from "+file) {
			t.Errorf("%s: the same walk did not resume its checkpoint: %s", name, o)
		}
	}
}
