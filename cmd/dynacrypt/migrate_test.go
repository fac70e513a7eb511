package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// oldAccount is an account as the service stored it before dynacrypt:
// every attribute in plaintext, and no version.
type oldAccount struct {
	Tenant string `dynamodbav:"tenant"`
	Seq    int    `dynamodbav:"seq"`
	Secret string `dynamodbav:"secret"`
	PIN    int    `dynamodbav:"pin"`
	Note   string `dynamodbav:"note"`
}

func oldAccountOf(i int) oldAccount {
	a := accountOf(i)
	return oldAccount{Tenant: a.Tenant, Seq: a.Seq, Secret: a.Secret, PIN: a.PIN, Note: a.Note}
}

// putOldAccounts writes accounts from to to-1 as the old service did, 25
// to a request.
func putOldAccounts(t *testing.T, db *dynamodb.Client, table string, from, to int) {
	t.Helper()
	for start := from; start < to; start += 25 {
		var reqs []types.WriteRequest
		for i := start; i < min(start+25, to); i++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: marshal(t, oldAccountOf(i))}})
		}
		for len(reqs) > 0 {
			out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				t.Fatal(err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
}

func marshal(t *testing.T, v any) map[string]types.AttributeValue {
	t.Helper()
	av, err := attributevalue.MarshalMap(v)
	if err != nil {
		t.Fatal(err)
	}
	return av
}

// rawAccount returns account (tenant, seq) as stored.
func rawAccount(t *testing.T, db *dynamodb.Client, table string, i int) map[string]types.AttributeValue {
	t.Helper()
	a := accountOf(i)
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: marshal(t, struct {
			Tenant string `dynamodbav:"tenant"`
			Seq    int    `dynamodbav:"seq"`
		}{a.Tenant, a.Seq})})
	if err != nil || out.Item == nil {
		t.Fatalf("account %d: %v, %v", i, out, err)
	}
	return out.Item
}

// promotedKeys reads the file of promoted keys: how many times each key
// is listed.
func promotedKeys(t *testing.T, file string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for _, line := range strings.Fields(string(b)) {
		keys[line]++
	}
	return keys
}

// TestEncryptPlaintextTableWithTheCommand runs the end of the runbook
// "Encrypting an existing table" with the built command, on a table of
// plaintext accounts beside a few a service in phase 2 wrote encrypted:
// verify reports every plaintext item; snapshot lists them; the walk with
// the manifest, killed (SIGKILL) once it shows its progress and run again,
// resumes from its checkpoint file and encrypts each listed item once,
// appending its key to the promoted file; verify then passes, every
// account reads in strict mode with its secrets, no secret is left in
// plaintext at rest, and the walk run again does nothing.
func TestEncryptPlaintextTableWithTheCommand(t *testing.T) {
	const n, encrypted = 600, 10
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	putOldAccounts(t, db, table, 0, n)
	cipher := dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)
	service := accounts(t, db, table, cipher, dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext,
		dynacrypt.LegacyUntil(time.Now().Add(time.Hour)), dynacrypt.LegacyUnverified()))
	for i := n; i < n+encrypted; i++ {
		if err := service.Put(context.Background(), accountOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	manifest, checkpoint, promoted := filepath.Join(dir, "manifest"), filepath.Join(dir, "checkpoint"), filepath.Join(dir, "promoted")
	tableFlags := []string{"-table", table, "-encrypted", "secret,pin", "-key", testrig.KeyA}

	o := runBinary(t, "", append([]string{"verify"}, tableFlags...)...).want(t, exitItems, "verify before the migration")
	if !strings.Contains(o.stdout, fmt.Sprintf("%d items read", n+encrypted)) || !strings.Contains(o.stdout, fmt.Sprintf(": %d verified, %d without a header, 0 failing", encrypted, n)) ||
		!strings.Contains(o.stderr, `key {"seq":5,"tenant":"t5"}: no _dynacrypt header`) {
		t.Errorf("verify before the migration: %s", o)
	}
	o = runBinary(t, "", append([]string{"snapshot", "-manifest", manifest}, tableFlags...)...).want(t, exitOK, "snapshot")
	if !strings.Contains(o.stdout, fmt.Sprintf("%d items without a header listed in %s", n, manifest)) {
		t.Errorf("snapshot: %s", o)
	}

	walk := append([]string{"reencrypt", "-version", "version", "-manifest", manifest, "-plaintext", "-attributes", "note",
		"-segments", "2", "-page-size", "10", "-checkpoint", checkpoint, "-promoted", promoted}, tableFlags...)
	first := signalAtProgress(t, dir, walk, os.Kill)
	if first.code != -1 || !fileExists(checkpoint) {
		t.Fatalf("first walk, killed: want it killed with its checkpoint file saved, got %s", first)
	}
	second := runBinary(t, "", walk...).want(t, exitOK, "resumed walk")
	scanned, rewritten, _, failed := counts(t, second)
	if !strings.Contains(second.stderr, "resuming from "+checkpoint) || scanned >= n+encrypted || failed != 0 ||
		!strings.Contains(second.stdout, fmt.Sprintf("%d items without a header migrated, their keys appended to %s", rewritten, promoted)) {
		t.Fatalf("second walk did not resume (%d of %d items scanned): %s", scanned, n+encrypted, second)
	}
	t.Logf("resumed walk: %s", strings.TrimSpace(second.stdout))
	keys := promotedKeys(t, promoted)
	// A write in flight when the process died may miss its line: at most
	// one per segment.
	if len(keys) < n-2 || len(keys) > n || keys[`{"seq":5,"tenant":"t5"}`] > 1 {
		t.Errorf("promoted file lists %d keys, want %d (but for a write in flight at the kill, at most 2)", len(keys), n)
	}
	for key, times := range keys {
		if times != 1 {
			t.Errorf("%s promoted %d times", key, times)
		}
	}

	o = runBinary(t, "", append([]string{"verify"}, tableFlags...)...).want(t, exitOK, "verify after the walk")
	if !strings.Contains(o.stdout, fmt.Sprintf(": %d verified, 0 without a header, 0 failing", n+encrypted)) {
		t.Errorf("verify after the walk: %s", o)
	}
	checkAccounts(t, accounts(t, db, table, cipher), n+encrypted, 1)
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if s, ok := item["secret"].(*types.AttributeValueMemberS); ok || item["pin"] == nil {
			t.Fatalf("a secret in plaintext after the migration: %v", s)
		}
	}
	again := runBinary(t, "", append(walk[:len(walk):len(walk)], "-checkpoint", filepath.Join(dir, "again"))...).want(t, exitOK, "the walk again")
	if _, rewritten, current, _ := counts(t, again); rewritten != 0 || current != n+encrypted || !strings.Contains(again.stdout, "0 items without a header migrated") {
		t.Errorf("the walk run again: %s", again)
	}
}

// The threat: items without a header planted once the snapshot is taken (a
// new key, a listed item edited, an encrypted item with its header
// stripped), or a manifest replayed from another table. The command's walk
// must migrate the listed items only, report each other one by key (exit
// code 1) and leave it unsigned, and verify must report them too.
func TestCommandMigratesOnlyWhatTheManifestLists(t *testing.T) {
	const n = 20
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	putOldAccounts(t, db, table, 0, n)
	cipher := dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)
	service := accounts(t, db, table, cipher)
	if err := service.Put(context.Background(), accountOf(n)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest")
	tableFlags := []string{"-table", table, "-encrypted", "secret,pin", "-key", testrig.KeyA}
	runBinary(t, "", append([]string{"snapshot", "-manifest", manifest}, tableFlags...)...).want(t, exitOK, "snapshot")

	// A manifest of another table, which holds a copy of account 0.
	other := accountsTable(t, db)
	putOldAccounts(t, db, other, 0, 1)
	otherManifest := filepath.Join(dir, "other-manifest")
	runBinary(t, "", "snapshot", "-manifest", otherManifest, "-table", other, "-encrypted", "secret,pin", "-key", testrig.KeyA).want(t, exitOK, "snapshot of another table")
	walk := func(manifest, checkpoint string) []string {
		return append([]string{"reencrypt", "-version", "version", "-manifest", manifest, "-plaintext", "-attributes", "note",
			"-checkpoint", filepath.Join(dir, checkpoint), "-promoted", filepath.Join(dir, checkpoint+".promoted")}, tableFlags...)
	}
	o := runBinary(t, "", walk(otherManifest, "replayed")...).want(t, exitItems, "walk with another table's manifest")
	if _, rewritten, _, failed := counts(t, o); rewritten != 0 || failed != n {
		t.Errorf("walk with another table's manifest: %s", o)
	}
	// Its checkpoint, kept for a retry of the failed items, resumes no
	// walk with another manifest.
	o = runBinary(t, "", append(walk(manifest, "walk"), "-checkpoint", filepath.Join(dir, "replayed"))...).want(t, exitFailure, "a walk from another manifest's checkpoint")
	if !strings.Contains(o.stderr, "-manifest") {
		t.Errorf("a walk from another manifest's checkpoint: %s", o)
	}

	planted := oldAccountOf(n + 1)
	planted.Secret = "attacker's"
	putRaw(t, db, table, marshal(t, planted))
	edited := oldAccountOf(3)
	edited.Note = "attacker's"
	putRaw(t, db, table, marshal(t, edited))
	stripped := rawAccount(t, db, table, n)
	delete(stripped, dynacrypt.DefaultHeaderAttribute)
	delete(stripped, "version")
	putRaw(t, db, table, stripped)
	forged := []int{3, n, n + 1}

	o = runBinary(t, "", walk(manifest, "walk")...).want(t, exitItems, "walk over planted items")
	if _, rewritten, _, failed := counts(t, o); rewritten != n-1 || failed != len(forged) {
		t.Errorf("walk over %d planted items: %s; want %d rewritten, %d failed", len(forged), o, n-1, len(forged))
	}
	check := runBinary(t, "", append([]string{"verify"}, tableFlags...)...).want(t, exitItems, "verify after the walk")
	for _, i := range forged {
		a := accountOf(i)
		key := fmt.Sprintf(`key {"seq":%d,"tenant":%q}: `, a.Seq, a.Tenant)
		if !strings.Contains(o.stderr, key) || !strings.Contains(check.stderr, key) {
			t.Errorf("account %d: not reported by the walk or by verify:\n%s\n%s", i, o, check)
		}
		if _, signed := rawAccount(t, db, table, i)[dynacrypt.DefaultHeaderAttribute]; signed {
			t.Errorf("planted account %d was signed", i)
		}
	}
	if keys := promotedKeys(t, filepath.Join(dir, "walk.promoted")); len(keys) != n-1 {
		t.Errorf("promoted file lists %d keys, want %d", len(keys), n-1)
	}
	if strings.Contains(o.stderr+check.stderr, "attacker's") {
		t.Error("the reports show an item's values")
	}
}

// articleUser is a user of the article's service, as a Store reads it once
// migrated.
type articleUser struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// TestMigrateLegacyTableWithTheCommand migrates a table of users written
// the article's way (a KMS ciphertext per token, no header) with the
// command alone: snapshot, the walk with -legacy-key, verify.
func TestMigrateLegacyTableWithTheCommand(t *testing.T) {
	const n = 120
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if err := testrig.ArticleUserPut(ctx, db, kmsClient, table, testrig.KeyA, fmt.Sprint("u", i), "user", fmt.Sprint("token-", i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	dir := t.TempDir()
	manifest, promoted := filepath.Join(dir, "manifest"), filepath.Join(dir, "promoted")
	tableFlags := []string{"-table", table, "-encrypted", "token", "-key", testrig.KeyA}
	runBinary(t, "", append([]string{"verify"}, tableFlags...)...).want(t, exitItems, "verify before the migration")
	runBinary(t, "", append([]string{"snapshot", "-manifest", manifest}, tableFlags...)...).want(t, exitOK, "snapshot")
	o := runBinary(t, "", append([]string{"reencrypt", "-version", "version", "-manifest", manifest, "-legacy-key", testrig.KeyA,
		"-attributes", "username", "-checkpoint", filepath.Join(dir, "checkpoint"), "-promoted", promoted}, tableFlags...)...).want(t, exitOK, "walk")
	if _, rewritten, _, _ := counts(t, o); rewritten != n {
		t.Errorf("walk: %s", o)
	}
	if keys := promotedKeys(t, promoted); len(keys) != n || keys[`{"id":"u7"}`] != 1 {
		t.Errorf("promoted file lists %d keys, want %d", len(keys), n)
	}
	runBinary(t, "", append([]string{"verify"}, tableFlags...)...).want(t, exitOK, "verify after the walk")
	users, err := dynacrypt.New[articleUser](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		u, err := users.Get(ctx, articleUser{ID: fmt.Sprint("u", i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != fmt.Sprint("token-", i) || u.Version != 1 {
			t.Fatalf("u%d after the walk: %+v, %v", i, u, err)
		}
	}
}

// putRaw writes item as it is.
func putRaw(t *testing.T, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
}
