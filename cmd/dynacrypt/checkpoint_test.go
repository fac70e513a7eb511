package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	db, table, walk := keyATable(t, n)
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
	wantAllUnderKeyB(t, db, table, n, o)
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

// keyATable makes a table of n accounts under key A, and the
// flags of a walk that moves it to key B.
func keyATable(t *testing.T, n int) (*dynamodb.Client, string, []string) {
	t.Helper()
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, n)
	return db, table, []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
		"-key", testrig.KeyB, "-previous-keys", testrig.KeyA}
}

// wantSafeResume fails the test unless a walk given the checkpoint file
// either refused it (exit code 3, naming the file) or left every account
// under key B.
func wantSafeResume(t *testing.T, db *dynamodb.Client, table string, n int, o outcome, file string) {
	t.Helper()
	switch {
	case o.code == exitOK:
		wantAllUnderKeyB(t, db, table, n, o)
	case o.code != exitFailure || !strings.Contains(o.stderr, file):
		t.Errorf("the walk neither completed nor refused the checkpoint file %s: %s", file, o)
	}
}

// wantAllUnderKeyB fails the test unless every account reads under key B alone.
func wantAllUnderKeyB(t *testing.T, db *dynamodb.Client, table string, n int, o outcome) {
	t.Helper()
	kmsClient, _ := testrig.KMS(t)
	underB := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB))
	left := 0
	for i := range n {
		a := accountOf(i)
		if _, err := underB.Get(context.Background(), account{Tenant: a.Tenant, Seq: i}, dynacrypt.ConsistentRead()); err != nil {
			left++
		}
	}
	if left > 0 {
		scanned, _, _, _ := counts(t, o)
		t.Errorf("the walk exited 0 (%d items scanned) and left %d of %d items under key A", scanned, left, n)
	}
}

// TestCheckpointOfAnotherWalkNotResumed: a checkpoint left by an
// interrupted walk of another kind (here: one that had nothing to rewrite,
// under key A; in life, last quarter's rotation, left in the directory
// under its default name) is given to a rotation to key B. Resumed, it
// would skip the part of the table that walk covered and exit 0, and once
// key A is disabled, as the runbook says next, those items would never
// read again. The checkpoint file records the walk's flags and table, so
// the rotation either refuses it (exit code 3, naming the file) or leaves
// every item under key B.
func TestCheckpointOfAnotherWalkNotResumed(t *testing.T) {
	const n = 100
	ctx := context.Background()
	db, table, walk := keyATable(t, n)
	kmsClient, _ := testrig.KMS(t)
	// The other walk: under key A, nothing to do; its checkpoint after a page.
	other, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithEncryptedAttributes("secret"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)))
	if err != nil {
		t.Fatal(err)
	}
	var cp string
	if _, err := other.Reencrypt(ctx, db, dynacrypt.ReencryptOptions{Segments: 1, PageSize: 40,
		Progress: func(p dynacrypt.ReencryptProgress) {
			if cp == "" {
				cp = p.Checkpoint
			}
		}}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "checkpoint")
	if err := (&checkpointFile{Table: table, Segments: 1, Checkpoint: cp}).save(file); err != nil {
		t.Fatal(err)
	}
	o := runBinary(t, "", append(walk, "-segments", "1", "-checkpoint", file)...)
	t.Logf("rotation to key B with another walk's checkpoint: %s", o)
	wantSafeResume(t, db, table, n, o, file)
}

// TestCheckpointClaimingAllDoneRefusedOrReported: a checkpoint file says
// every segment is done (a file copied from another run, or written by
// anyone who can write the directory); resumed silently, the walk would
// exit 0 having read nothing, and remove the file, the operator's only
// evidence. A file that does not record the walk's flags (as this
// forgery) is refused, or the walk leaves every item under key B. One
// forged with the walk's flags resumes: the checkpoint file is the
// operator's own, on the operator's machine, outside the threat model
// (whoever writes it can run the command); the command then says so, that
// it resumed from the file and scanned 0 items.
func TestCheckpointClaimingAllDoneRefusedOrReported(t *testing.T) {
	const n = 30
	db, table, walk := keyATable(t, n)
	inner, _ := json.Marshal(map[string]any{"done": []bool{true, true, true, true}, "starts": []any{nil, nil, nil, nil}})
	file := filepath.Join(t.TempDir(), "checkpoint")
	if err := (&checkpointFile{Table: table, Segments: 4, Checkpoint: base64.RawURLEncoding.EncodeToString(inner)}).save(file); err != nil {
		t.Fatal(err)
	}
	o := runBinary(t, "", append(walk, "-checkpoint", file)...)
	t.Logf("walk from a checkpoint saying all is done: %s", o)
	wantSafeResume(t, db, table, n, o, file)

	// Forged with the walk's flags: out of the threat model, but told.
	flags := walkFlags(tableFlags{table: table, encrypted: "secret,pin", header: dynacrypt.DefaultHeaderAttribute},
		cipherFlags{key: testrig.KeyB, previousKeys: testrig.KeyA}, dbesdkFlags{}, "version")
	if err := (&checkpointFile{Table: table, TableIdentity: identityOf(t, db, table), Segments: 4, Flags: flags, Checkpoint: base64.RawURLEncoding.EncodeToString(inner)}).save(file); err != nil {
		t.Fatal(err)
	}
	o = runBinary(t, "", append(walk, "-checkpoint", file)...)
	t.Logf("walk from a checkpoint with its flags saying all is done: %s", o)
	if scanned, _, _, _ := counts(t, o); o.code != exitOK || scanned != 0 || !strings.Contains(o.stderr, "resuming from "+file) ||
		!strings.Contains(o.stdout, "(resumed from "+file) {
		t.Errorf("a walk resumed from a forged checkpoint with its flags: want exit code 0, 0 items scanned and the file named: %s", o)
	}
}

// TestCheckpointOfSameNamedTableNotResumed: the same command is run
// against another table of the same name (another region, account or
// stage: AWS_PROFILE or AWS_REGION changed, the default file name
// TABLE.reencrypt-checkpoint left in the directory; or the table deleted
// and restored), with the first table's checkpoint. Resumed, it would skip
// what the first walk did there and exit 0. The checkpoint file records
// which table it belongs to (its identity, not only its name), so the walk
// refuses it (exit code 3, naming the file) or leaves every item under key
// B. Here the first walk is cancelled after six pages; the table is then
// replaced by another of the same name.
func TestCheckpointOfSameNamedTableNotResumed(t *testing.T) {
	const n = 60
	ctx := context.Background()
	db, table, walk := keyATable(t, n)
	kmsClient, _ := testrig.KMS(t)
	// The first walk, as the command runs it (same flags), interrupted
	// after its first pages: its checkpoint.
	items, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithEncryptedAttributes("secret", "pin"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB).WithPreviousKeys(testrig.KeyA)))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var cp string
	var pages int
	items.Reencrypt(wctx, db, dynacrypt.ReencryptOptions{Segments: 4, PageSize: 5,
		Progress: func(p dynacrypt.ReencryptProgress) {
			cp = p.Checkpoint
			if pages++; pages == 6 {
				cancel()
			}
		}})
	cancel()
	tf := tableFlags{table: table, encrypted: "secret,pin", header: dynacrypt.DefaultHeaderAttribute}
	cf := cipherFlags{key: testrig.KeyB, previousKeys: testrig.KeyA}
	file := filepath.Join(t.TempDir(), "checkpoint")
	if err := (&checkpointFile{Table: table, TableIdentity: identityOf(t, db, table), Segments: 4, Flags: walkFlags(tf, cf, dbesdkFlags{}, "version"), Checkpoint: cp}).save(file); err != nil {
		t.Fatal(err)
	}

	// Another table of the same name, every item under key A.
	recreateTable(t, db, table)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, n)
	o := runBinary(t, "", append(walk, "-checkpoint", file)...)
	t.Logf("the walk of the other table, with the first table's checkpoint: %s", o)
	wantSafeResume(t, db, table, n, o, file)
}

// recreateTable deletes table and makes another of the same name and schema.
func recreateTable(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
		t.Fatal(err)
	}
	waitForTable(t, db, table, false)
	s, n := "tenant", "seq"
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: &table, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &s, AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: &n, AttributeType: types.ScalarAttributeTypeN}},
		KeySchema: []types.KeySchemaElement{{AttributeName: &s, KeyType: types.KeyTypeHash}, {AttributeName: &n, KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	waitForTable(t, db, table, true)
}

// waitForTable polls until table is active (exists) or gone.
func waitForTable(t *testing.T, db *dynamodb.Client, table string, exists bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &table})
		var nf *types.ResourceNotFoundException
		switch {
		case !exists && errors.As(err, &nf):
			return
		case exists && err == nil && out.Table.TableStatus == types.TableStatusActive:
			return
		}
	}
	t.Fatalf("table %s: not %s after a minute", table, map[bool]string{true: "active", false: "gone"}[exists])
}
