package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestDBESDKKeystoreRefusals: dbesdk-keystore refuses, with exit code 3
// and an error that says why, a table that exists, a branch key that
// exists (create never overwrites), a branch key that does not (rotate,
// list), and records under another KMS key or logical name than its flags
// give; a refused rotation leaves the branch key's versions as they were.
func TestDBESDKKeystoreRefusals(t *testing.T) {
	db := testrig.DynamoDB(t)
	ksTable, _ := dbesdkKeyStore(t, db, "fleet")
	versions, active := listed(t, ksTable, "fleet")
	command := func(sub string, args ...string) []string { return append([]string{"dbesdk-keystore", sub}, args...) }
	for name, c := range map[string]struct {
		args []string
		says string
	}{
		"create-table of a table that exists": {command("create-table", "-dbesdk-keystore", ksTable), "ResourceInUseException"},
		"create of a branch key that exists": {command("create", append(dbesdkKeyStoreFlags(ksTable), "-dbesdk-branch-key", "fleet")...),
			`creating branch key "fleet": conflict: item exists: DB-ESDK branch key exists`},
		"rotate of a branch key that does not exist": {command("rotate", append(dbesdkKeyStoreFlags(ksTable), "-dbesdk-branch-key", "nope")...),
			`rotating branch key "nope": key gone (deleted): DB-ESDK branch key not found`},
		"list of a branch key that does not exist": {command("list", append(dbesdkKeyStoreFlags(ksTable), "-dbesdk-branch-key", "nope")...),
			`listing the versions of branch key "nope": key gone (deleted): DB-ESDK branch key not found`},
		"rotate under another KMS key": {command("rotate", "-dbesdk-keystore", ksTable, "-dbesdk-keystore-key", keyARNB, "-dbesdk-branch-key", "fleet"),
			`branch:ACTIVE record: kms-arn names "` + keyARNA + `", not the key store's KMS key ` + keyARNB},
		"list under another KMS key": {command("list", "-dbesdk-keystore", ksTable, "-dbesdk-keystore-key", keyARNB, "-dbesdk-branch-key", "fleet"),
			`kms-arn names "` + keyARNA + `", not the key store's KMS key ` + keyARNB},
		"rotate under another logical name": {command("rotate", append(dbesdkKeyStoreFlags(ksTable), "-dbesdk-keystore-name", "elsewhere", "-dbesdk-branch-key", "fleet")...),
			`key store elsewhere: rotating branch key "fleet"`},
	} {
		o := runBinary(t, "", c.args...)
		if o.code != exitFailure || !strings.Contains(o.stderr, c.says) {
			t.Errorf("%s: want exit code 3 and %q, got %s", name, c.says, o)
		}
	}
	if after, activeAfter := listed(t, ksTable, "fleet"); !slices.Equal(after, versions) || activeAfter != active {
		t.Errorf("after refused rotations, versions %v (active %s); want %v (active %s)", after, activeAfter, versions, active)
	}
}

// TestDBESDKKeystoreLogicalName: a branch key that dbesdk-keystore create
// makes without -dbesdk-branch-key gets a new UUID, which it prints; the
// key store's logical name, -dbesdk-keystore-name, is bound into it: a
// rotation and a walk with that name use it, and a walk without it fails
// each item and writes nothing.
func TestDBESDKKeystoreLogicalName(t *testing.T) {
	const n = 6
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	ksTable, _ := dbesdkKeyStore(t, db)
	named := append(dbesdkKeyStoreFlags(ksTable), "-dbesdk-keystore-name", "fleet-keys")
	o := runBinary(t, "", append([]string{"dbesdk-keystore", "create"}, named...)...).want(t, exitOK, "dbesdk-keystore create of a new id")
	m := regexp.MustCompile(`^branch key ([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}) created\n$`).FindStringSubmatch(o.stdout)
	if m == nil {
		t.Fatalf("dbesdk-keystore create printed no new UUID: %s", o)
	}
	id := m[1]
	runBinary(t, "", append([]string{"dbesdk-keystore", "rotate", "-dbesdk-branch-key", id}, named...)...).want(t, exitOK, "rotate with the name")
	if versions, _ := listed(t, ksTable, id); len(versions) != 2 {
		t.Fatalf("after a rotation, %d versions", len(versions))
	}

	table := accountsTable(t, db)
	putAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)), n)
	walk := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-key", testrig.KeyA,
		"-to", "dbesdk", "-dbesdk-branch-key", id}, dbesdkKeyStoreFlags(ksTable)...)
	before := sortedLines(scanExport(t, db, table))
	o = runBinary(t, "", walk...).want(t, exitItems, "a walk without the key store's name")
	if _, rewritten, _, failed := counts(t, o); rewritten != 0 || failed != n || !strings.Contains(o.stderr, "key store "+ksTable+": reading the active version") {
		t.Fatalf("a walk without the key store's name: %s", o)
	}
	if after := sortedLines(scanExport(t, db, table)); !slices.Equal(after, before) {
		t.Fatal("a walk that failed every item changed the table")
	}
	o = runBinary(t, "", append(walk, "-dbesdk-keystore-name", "fleet-keys")...).want(t, exitOK, "a walk with the key store's name")
	if _, rewritten, _, _ := counts(t, o); rewritten != n {
		t.Fatalf("a walk with the key store's name: %s", o)
	}
	ks, err := dbesdk.NewKeyStore(db, ksTable, "fleet-keys", kmsClient, keyARNA)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := dbesdk.HierarchicalKeyring(ks, id)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounts(t, dbesdkAccounts(t, db, table, kr), n, 2)
}
