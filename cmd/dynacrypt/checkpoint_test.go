package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestCheckpointBoundToFlags: a checkpoint file resumes only the walk that
// saved it. One saved by a walk with other keys, encrypted attributes,
// version or tenant attribute is refused (exit code 3, naming the file and
// the flags that differ, the file kept); one from an older dynacrypt,
// which records no flags, too; the same walk spelled otherwise (its lists
// in another order, the default key store name given) resumes.
func TestCheckpointBoundToFlags(t *testing.T) {
	const n = 20
	db, table, walk := rt4CheckpointTable(t, n)
	this := func() (tableFlags, cipherFlags) { // the flags of walk
		return tableFlags{table: table, encrypted: "secret,pin", header: dynacrypt.DefaultHeaderAttribute},
			cipherFlags{key: testrig.KeyB, previousKeys: testrig.KeyA}
	}
	fromStart, _ := json.Marshal(map[string]any{"done": make([]bool, 4), "starts": make([]any, 4)})
	save := func(flags map[string]string) string {
		file := filepath.Join(t.TempDir(), "checkpoint")
		c := checkpointFile{Table: table, TableIdentity: identityOf(t, db, table), Segments: 4, Flags: flags, Checkpoint: base64.RawURLEncoding.EncodeToString(fromStart)}
		if err := c.save(file); err != nil {
			t.Fatal(err)
		}
		return file
	}
	for name, c := range map[string]struct {
		change func(*tableFlags, *cipherFlags, *string)
		says   string
	}{
		"another key":       {func(_ *tableFlags, cf *cipherFlags, _ *string) { cf.key, cf.previousKeys = testrig.KeyA, "" }, `-key "` + testrig.KeyA + `" where this command has "` + testrig.KeyB + `"`},
		"fewer attributes":  {func(tf *tableFlags, _ *cipherFlags, _ *string) { tf.encrypted = "secret" }, `-encrypted "secret" where this command has "pin,secret"`},
		"no version":        {func(_ *tableFlags, _ *cipherFlags, v *string) { *v = "" }, `-version "" where this command has "version"`},
		"a tenant":          {func(tf *tableFlags, _ *cipherFlags, _ *string) { tf.tenant = "tenant" }, `-tenant "tenant" where this command has ""`},
		"a key store":       {func(_ *tableFlags, cf *cipherFlags, _ *string) { cf.key, cf.keystore.table = "", "ks" }, `-keystore-name "ks" where this command has ""`},
		"another logical":   {func(tf *tableFlags, _ *cipherFlags, _ *string) { tf.logical = "x" }, `-logical-table "x"`},
		"an unsigned":       {func(tf *tableFlags, _ *cipherFlags, _ *string) { tf.unsigned = "note" }, `-unsigned "note" where this command has ""`},
		"another header":    {func(tf *tableFlags, _ *cipherFlags, _ *string) { tf.header = "h" }, `-header "h"`},
		"older dynacrypt":   {nil, "whose flags it does not record"},
		"no previous keys":  {func(_ *tableFlags, cf *cipherFlags, _ *string) { cf.previousKeys = "" }, `-previous-keys "" where this command has`},
		"more previous key": {func(_ *tableFlags, cf *cipherFlags, _ *string) { cf.previousKeys += "," + testrig.KeyB }, `-previous-keys`},
		"one tenant":        {func(tf *tableFlags, _ *cipherFlags, _ *string) { tf.onlyTenant = "t3" }, `-only-tenant "t3" where this command has ""`},
		"a prefix":          {func(_ *tableFlags, cf *cipherFlags, _ *string) { cf.branchKeyPrefix = "clinic-" }, `-branch-key-prefix "clinic-" where this command has ""`},
	} {
		var flags map[string]string
		if c.change != nil {
			tf, cf := this()
			version := "version"
			c.change(&tf, &cf, &version)
			flags = walkFlags(tf, cf, dbesdkFlags{}, version)
		}
		file := save(flags)
		o := runBinary(t, "", append(walk, "-checkpoint", file)...)
		if o.code != exitFailure || !strings.Contains(o.stderr, c.says) || !strings.Contains(o.stderr, "delete "+file) || !fileExists(file) {
			t.Errorf("checkpoint of a walk with %s: want exit code 3 saying %s and naming the file, kept: %s", name, c.says, o)
		}
	}

	// The same walk, its flags spelled otherwise.
	tf, cf := this()
	tf.encrypted, tf.logical = " pin,secret,pin", table
	file := save(walkFlags(tf, cf, dbesdkFlags{}, "version"))
	o := runBinary(t, "", append(walk, "-checkpoint", file)...).want(t, exitOK, "the same walk, resumed")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n || !strings.Contains(o.stderr, "resuming from "+file) || fileExists(file) {
		t.Errorf("the same walk, resumed from its start: %s", o)
	}
	rt4AllUnderB(t, db, table, n, o)
}

// identityOf returns what a walk of table records of it in its checkpoint.
func identityOf(t *testing.T, db *dynamodb.Client, table string) string {
	t.Helper()
	info, err := describeTable(context.Background(), db, table)
	if err != nil {
		t.Fatal(err)
	}
	return info.identity
}

// TestCheckpointBoundToBranchKey: two key store walks that differ only in
// -branch-key are two walks. A checkpoint saved by the walk onto another
// branch key does not resume this one (exit code 3, naming the flag, the
// file kept): it would skip the part of the table that walk covered, whose
// items are under the other branch key. Saved by the same walk, it resumes.
func TestCheckpointBoundToBranchKey(t *testing.T) {
	const n = 5
	db := testrig.DynamoDB(t)
	ksTable := fleetKeyStore(t, db)
	table := accountsTable(t, db)
	putAccounts(t, accounts(t, db, table, fleetCipher(t, db, ksTable)), n)
	walk := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-branch-key", "fleet"},
		keyStoreFlags(ksTable)...)
	fromStart, _ := json.Marshal(map[string]any{"done": make([]bool, 4), "starts": make([]any, 4)})
	save := func(branchKey string) string {
		tf := tableFlags{table: table, encrypted: "secret,pin", header: dynacrypt.DefaultHeaderAttribute}
		cf := cipherFlags{keystore: keystoreFlags{table: ksTable, kmsKey: testrig.KeyA, branchKey: branchKey}}
		file := filepath.Join(t.TempDir(), "checkpoint")
		c := checkpointFile{Table: table, TableIdentity: identityOf(t, db, table), Segments: 4,
			Flags: walkFlags(tf, cf, dbesdkFlags{}, "version"), Checkpoint: base64.RawURLEncoding.EncodeToString(fromStart)}
		if err := c.save(file); err != nil {
			t.Fatal(err)
		}
		return file
	}

	file := save("fleet-2025")
	o := runBinary(t, "", append(walk, "-checkpoint", file)...)
	if says := `-branch-key "fleet-2025" where this command has "fleet"`; o.code != exitFailure || !strings.Contains(o.stderr, says) || !fileExists(file) {
		t.Errorf("checkpoint of a walk onto another branch key: want exit code 3 saying %s, the file kept: %s", says, o)
	}

	file = save("fleet")
	o = runBinary(t, "", append(walk, "-checkpoint", file)...).want(t, exitOK, "the same walk, resumed")
	if scanned, _, _, failed := counts(t, o); scanned != n || failed != 0 || !strings.Contains(o.stderr, "resuming from "+file) {
		t.Errorf("the same walk, resumed from its start: %s", o)
	}
}
