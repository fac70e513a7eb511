package main

// Red-team attacks of branch redteam5 on the operator's command: the
// checkpoint file's binding to its walk, and the escaping of failure
// reports. Each test asserts the safe behaviour, so it fails when the
// attack works.

import (
	"context"
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

// TestRedTeam5CheckpointOtherTableSameName: the checkpoint file records
// the table's name and the walk's flags, not which table: the same command
// run against another table of the same name (another region, account or
// stage: AWS_PROFILE or AWS_REGION changed, the default file name
// TABLE.reencrypt-checkpoint left in the directory; or the table deleted
// and restored) resumes the first table's walk, skips what it did there,
// and exits 0. Here the first walk ran to its second page; the table is
// then replaced by another of the same name.
func TestRedTeam5CheckpointOtherTableSameName(t *testing.T) {
	const n = 60
	ctx := context.Background()
	db, table, walk := rt4CheckpointTable(t, n)
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
	rt5Recreate(t, db, table)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, n)
	o := runBinary(t, "", append(walk, "-checkpoint", file)...)
	t.Logf("the walk of the other table, with the first table's checkpoint: %s", o)
	rt4SafeResume(t, db, table, n, o, file)
}

// rt5Recreate deletes table and makes another of the same name and schema.
func rt5Recreate(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
		t.Fatal(err)
	}
	rt5Wait(t, db, table, false)
	s, n := "tenant", "seq"
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: &table, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &s, AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: &n, AttributeType: types.ScalarAttributeTypeN}},
		KeySchema: []types.KeySchemaElement{{AttributeName: &s, KeyType: types.KeyTypeHash}, {AttributeName: &n, KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	rt5Wait(t, db, table, true)
}

// TestRedTeam5ReportInjection: keys an attacker wrote (tenant strings with
// ESC sequences, BEL, C1 CSI, bidi overrides, line breaks, invalid UTF-8)
// of items that fail reach the operator's terminal escaped, in the walk's
// report and in its summary of the first failure.
func TestRedTeam5ReportInjection(t *testing.T) {
	ctx := context.Background()
	db, table, walk := rt4CheckpointTable(t, 7)
	src, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{"tenant": &types.AttributeValueMemberS{Value: "t0"}, "seq": &types.AttributeValueMemberN{Value: "0"}}})
	if err != nil || src.Item == nil {
		t.Fatal(err)
	}
	evil := []string{
		"\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "\u009b31m", "a\u202ecod.exe", "x\ny: 0 failed\r", "\xff\xfe\x9b", "\u2028\u2029", "\x7f",
	}
	for i, k := range evil {
		f := map[string]types.AttributeValue{}
		for name, v := range src.Item {
			f[name] = v
		}
		f["tenant"] = &types.AttributeValueMemberS{Value: k}
		f["seq"] = &types.AttributeValueMemberN{Value: "1" + strings.Repeat("0", i)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: f}); err != nil {
			t.Fatalf("key %q: %v", k, err)
		}
	}
	o := runBinary(t, "", append(walk, "-segments", "1")...)
	if o.code != exitItems {
		t.Fatalf("walk: %s", o)
	}
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\u2028", "\x7f"} {
		if strings.Contains(o.stderr, bad) || strings.Contains(o.stdout, bad) {
			t.Errorf("ATTACK WORKS: the report holds %q raw", bad)
		}
	}
	if strings.Count(o.stderr, "\n") > len(evil)+6 {
		t.Errorf("ATTACK WORKS: the report has forged lines:\n%s", o.stderr)
	}
}

// rt5Wait polls until table is active (exists) or gone.
func rt5Wait(t *testing.T, db *dynamodb.Client, table string, exists bool) {
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
