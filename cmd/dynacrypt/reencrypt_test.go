package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// account is a service's item with a sort key and two secrets, as the
// command never sees it.
type account struct {
	Tenant  string `dynamodbav:"tenant"`
	Seq     int    `dynamodbav:"seq"`
	Secret  string `dynamodbav:"secret" encrypt:"kms"`
	PIN     int    `dynamodbav:"pin" encrypt:"kms"`
	Note    string `dynamodbav:"note"`
	Version int64  `dynamodbav:"version"`
}

func accountOf(i int) *account {
	return &account{Tenant: fmt.Sprint("t", i%7), Seq: i, Secret: fmt.Sprint("secret-", i), PIN: i * 3, Note: "n"}
}

// accountsTable makes a table keyed by tenant and seq.
func accountsTable(t *testing.T, db *dynamodb.Client) string {
	return dynacrypttest.NewTable(t, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("tenant"), SortKey: dynacrypttest.N("seq")})
}

// accounts returns a Store of the table with cipher; opts come last.
func accounts(t *testing.T, db *dynamodb.Client, table string, cipher dynacrypt.Cipher, opts ...dynacrypt.Option) *dynacrypt.Store[account] {
	t.Helper()
	return accountsWith(t, db, table, append([]dynacrypt.Option{dynacrypt.WithCipher(cipher)}, opts...)...)
}

// accountsWith returns a Store of the table, keyed and versioned as the
// tests write it, with opts.
func accountsWith(t *testing.T, db *dynamodb.Client, table string, opts ...dynacrypt.Option) *dynacrypt.Store[account] {
	t.Helper()
	s, err := dynacrypt.New[account](db, table, append([]dynacrypt.Option{dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithVersion("version")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putAccounts writes accounts 0 to n-1 through store.
func putAccounts(t *testing.T, store *dynacrypt.Store[account], n int) {
	t.Helper()
	all := make([]*account, n)
	for i := range all {
		all[i] = accountOf(i)
	}
	if err := store.BatchPut(context.Background(), all, dynacrypt.Overwrite()); err != nil {
		t.Fatal(err)
	}
}

// checkAccounts reads every account through store, with a parallel Scan:
// each must verify, its secrets intact, at version.
func checkAccounts(t *testing.T, store *dynacrypt.Store[account], n int, version int64) {
	t.Helper()
	seen := 0
	for got, err := range store.Scan(context.Background(), dynacrypt.Parallel(4), dynacrypt.ConsistentRead()) {
		if err != nil {
			t.Fatalf("after %d accounts: %v", seen, err)
		}
		want := accountOf(got.Seq)
		if got.Tenant != want.Tenant || got.Secret != want.Secret || got.PIN != want.PIN || got.Version != version {
			t.Fatalf("account %d: %+v; want its secrets at version %d", got.Seq, got, version)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("%d accounts read, want %d", seen, n)
	}
}

// summary reads the counts of a walk's last line on standard output.
var summary = regexp.MustCompile(`(\d+) items scanned in \S+: (\d+) rewritten, (\d+) already current, (\d+) failed`)

func counts(t *testing.T, o outcome) (scanned, rewritten, current, failed int) {
	t.Helper()
	n := numbers(t, summary, o)
	return n[0], n[1], n[2], n[3]
}

// numbers returns the numbers re's groups match on a command's standard
// output, and fails the test if it does not match.
func numbers(t *testing.T, re *regexp.Regexp, o outcome) []int {
	t.Helper()
	m := re.FindStringSubmatch(o.stdout)
	if m == nil {
		t.Fatalf("no line matching %s: %s", re, o)
	}
	n := make([]int, len(m)-1)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n
}

// TestReencryptBranchKeyRotation runs the rotation runbook with the built
// command: a branch key made with it, items written by a service under its
// first version, a rotation, then the walk, interrupted by SIGINT once it
// shows its progress line and run again: it resumes from its checkpoint
// file (which another walk refuses) and finishes. Every item then reads under the new version only (a
// walk run again has nothing to do); -all rewrites every item again; a
// walk told of one encrypted attribute of two rewrites nothing and names
// the items it refused, by key.
func TestReencryptBranchKeyRotation(t *testing.T) {
	const n = 1000
	db := testrig.DynamoDB(t)
	ksTable := fleetKeyStore(t, db)

	// The service writes under the first version.
	newCipher := func() *keystore.Cipher { return fleetCipher(t, db, ksTable) }
	table := accountsTable(t, db)
	service := accounts(t, db, table, newCipher())
	putAccounts(t, service, n)
	runBinary(t, "", append([]string{"keystore", "rotate", "-branch-key", "fleet"}, keyStoreFlags(ksTable)...)...).want(t, exitOK, "rotate")

	dir := t.TempDir()
	checkpoint := filepath.Join(dir, "walk.checkpoint")
	walk := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
		"-branch-key", "fleet", "-segments", "3", "-page-size", "25", "-checkpoint", checkpoint}, keyStoreFlags(ksTable)...)

	first := interruptAtProgress(t, dir, walk)
	if !strings.Contains(first.stderr, "interrupted after") || !fileExists(checkpoint) {
		t.Fatalf("first walk, interrupted: no checkpoint file, or no word of it: %s", first)
	}
	// The checkpoint resumes that walk only.
	for _, other := range [][]string{{"-all"}, {"-segments", "2"}} {
		o := runBinary(t, "", append(walk, other...)...).want(t, exitFailure, "another walk from the checkpoint: "+strings.Join(other, " "))
		if !strings.Contains(o.stderr, "the checkpoint file is from a walk of table "+table) {
			t.Errorf("another walk from the checkpoint: %s", o)
		}
	}
	second := runBinary(t, "", walk...).want(t, exitOK, "resumed walk")
	scanned, rewritten, current, failed := counts(t, second)
	if !strings.Contains(second.stderr, "resuming from "+checkpoint) || scanned >= n || scanned == 0 || failed != 0 {
		t.Fatalf("second walk did not resume (%d of %d items scanned): %s", scanned, n, second)
	}
	if !strings.Contains(second.stderr, " scanned, ") {
		t.Errorf("second walk showed no progress line: %s", second)
	}
	t.Logf("resumed walk: %d scanned, %d rewritten, %d already current", scanned, rewritten, current)
	if fileExists(checkpoint) {
		t.Error("checkpoint file left after a complete walk")
	}
	checkAccounts(t, accounts(t, db, table, newCipher()), n, 2)

	again := runBinary(t, "", walk...).want(t, exitOK, "walk after the walk")
	if scanned, rewritten, current, _ := counts(t, again); scanned != n || rewritten != 0 || current != n {
		t.Errorf("a walk after the walk: %d scanned, %d rewritten, %d current; want nothing left under the old version", scanned, rewritten, current)
	}

	everything := runBinary(t, "", append(walk, "-all")...).want(t, exitOK, "walk with -all")
	if scanned, rewritten, _, _ := counts(t, everything); scanned != n || rewritten != n {
		t.Errorf("walk with -all: %d scanned, %d rewritten; want every item", scanned, rewritten)
	}
	checkAccounts(t, accounts(t, db, table, newCipher()), n, 3)

	// pin left out of -encrypted: every item refused, by key, none changed.
	forgetful := append([]string{"reencrypt", "-table", table, "-encrypted", "secret", "-version", "version",
		"-branch-key", "fleet", "-all", "-checkpoint", filepath.Join(dir, "forgetful")}, keyStoreFlags(ksTable)...)
	o := runBinary(t, "", forgetful...).want(t, exitItems, "walk without pin in -encrypted")
	if _, rewritten, _, failed := counts(t, o); rewritten != 0 || failed != n {
		t.Errorf("walk without pin in -encrypted: %d rewritten, %d failed; want every item failed", rewritten, failed)
	}
	if !strings.Contains(o.stderr, `key {"seq":5,"tenant":"t5"}: `) || !strings.Contains(o.stderr, `attribute "pin" is encrypted, but not declared`) {
		t.Errorf("walk without pin in -encrypted did not name the items and why: %.2000s", o.stderr)
	}
	if strings.Contains(o.stderr, "secret-") {
		t.Error("the walk's errors show a secret")
	}
	checkAccounts(t, accounts(t, db, table, newCipher()), n, 3)
}

// interruptAtProgress starts the command, sends it SIGINT once its progress
// line shows, and returns what it left: exit code 3.
func interruptAtProgress(t *testing.T, dir string, args []string) outcome {
	t.Helper()
	return signalAtProgress(t, dir, args, os.Interrupt).want(t, exitFailure, "walk interrupted by SIGINT")
}

// signalAtProgress starts the command, sends it sig once its progress line
// shows, and returns what it left.
func signalAtProgress(t *testing.T, dir string, args []string, sig os.Signal) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := binaryCommand(ctx, dir, "", args...)
	var stdout bytes.Buffer
	seen := make(chan struct{}) // Write sets stderr.seen to nil once closed
	stderr := &watchedBuffer{want: " scanned, ", seen: seen}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-ctx.Done():
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return outcome{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// watchedBuffer collects a stream and closes seen once want shows in it.
type watchedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestReencryptKMSKey: after a move from KMS key A to key B, the walk with
// -key B -previous-keys A rewrites every item, incrementing its version,
// and the items then read with key B alone.
func TestReencryptKMSKey(t *testing.T) {
	const n = 60
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	underA := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, underA, n)
	o := runBinary(t, "", "reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
		"-key", testrig.KeyB, "-previous-keys", testrig.KeyA).want(t, exitOK, "walk to key B")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Errorf("walk to key B: %s", o)
	}
	checkAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB)), n, 2)
}

// TestReencryptKMSToKeyStore: a table written with KMSCipher moves to a
// branch key with -keystore and the KMS key in -previous-keys; the items
// then read with the key store Cipher alone.
func TestReencryptKMSToKeyStore(t *testing.T) {
	const n = 40
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	ksTable := fleetKeyStore(t, db)
	table := accountsTable(t, db)
	underB := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB))
	putAccounts(t, underB, n)
	walk := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
		"-branch-key", "fleet", "-previous-keys", testrig.KeyB}, keyStoreFlags(ksTable)...)
	o := runBinary(t, "", walk...).want(t, exitOK, "walk to the key store")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
		t.Errorf("walk to the key store: %s", o)
	}
	checkAccounts(t, accounts(t, db, table, fleetCipher(t, db, ksTable)), n, 2)
	o = runBinary(t, "", walk...).want(t, exitOK, "the walk again")
	if _, rewritten, current, _ := counts(t, o); rewritten != 0 || current != n {
		t.Errorf("the walk run again: %s", o)
	}
}

// fleetKeyStore makes a key store table and its branch key "fleet" with the
// command, as an operator would, and returns the table's name.
func fleetKeyStore(t *testing.T, db *dynamodb.Client) string {
	t.Helper()
	ksTable := uniqueName("dynacrypt-cli-ks")
	deleteTableAtEnd(t, db, ksTable)
	runBinary(t, "", "keystore", "create-table", "-keystore", ksTable).want(t, exitOK, "create-table")
	runBinary(t, "", append([]string{"keystore", "create", "-branch-key", "fleet"}, keyStoreFlags(ksTable)...)...).want(t, exitOK, "create")
	return ksTable
}

// fleetCipher returns a new keystore.Cipher of branch key "fleet" of the
// key store ksTable, as a service of the fleet opens it.
func fleetCipher(t *testing.T, db *dynamodb.Client, ksTable string) *keystore.Cipher {
	t.Helper()
	kmsClient, _ := testrig.KMS(t)
	ks, err := keystore.New(db, ksTable, ksTable, kmsClient, testrig.KeyA)
	if err != nil {
		t.Fatal(err)
	}
	c, err := keystore.NewCipher(ks, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scanTable returns every item of a table as stored.
func scanTable(t *testing.T, db *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
	t.Helper()
	items := map[string]map[string]types.AttributeValue{}
	in := &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range out.Items {
			k, _ := appendJSONItem(nil, map[string]types.AttributeValue{"tenant": item["tenant"], "seq": item["seq"]})
			items[string(bytes.TrimSpace(k))] = item
		}
		if out.LastEvaluatedKey == nil {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// TestReencryptVersionFlagNamingAStringChangesNothing: an operator's
// -version names an attribute that is not a number (here the plaintext
// note). The walk refuses such items rather than replace that attribute
// with 1 in every item and sign the loss: every note is kept.
func TestReencryptVersionFlagNamingAStringChangesNothing(t *testing.T) {
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, 3)
	o := runBinary(t, "", "reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "note", "-all", "-key", testrig.KeyA)
	t.Logf("walk with -version note: %s", o)
	for k, item := range scanTable(t, db, table) {
		if !reflect.DeepEqual(item["note"], &types.AttributeValueMemberS{Value: "n"}) {
			t.Errorf("item %s: note is now %v (exit code %d), want it unchanged", k, item["note"], o.code)
		}
	}
}

// TestReencryptFlagsNotDescribingTableChangeNothing: an operator walks a
// table of tenants with flags that do not describe it: without -tenant,
// with -tenant naming another attribute, with another -logical-table, or
// with a signed attribute declared -unsigned. Every item fails (exitItems)
// and none changes; with the right flags every item is rewritten, and a
// plaintext binary attribute the flags do not mention is kept as it was.
func TestReencryptFlagsNotDescribingTableChangeNothing(t *testing.T) {
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	cipher := dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)
	table := accountsTable(t, db)
	store := accounts(t, db, table, cipher, dynacrypt.WithTenantAttribute("tenant"))
	const n = 8
	putAccounts(t, store, n)
	items, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("seq"),
		dynacrypt.WithEncryptedAttributes("secret", "pin"), dynacrypt.WithTenantAttribute("tenant"), dynacrypt.WithCipher(cipher))
	if err != nil {
		t.Fatal(err)
	}
	avatar := []byte{0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	sealed, err := items.Seal(ctx, map[string]types.AttributeValue{"tenant": &types.AttributeValueMemberS{Value: "t1"},
		"seq": &types.AttributeValueMemberN{Value: "100"}, "secret": &types.AttributeValueMemberS{Value: "s"},
		"note": &types.AttributeValueMemberS{Value: "n"}, "avatar": &types.AttributeValueMemberB{Value: avatar}, "version": &types.AttributeValueMemberN{Value: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: sealed}); err != nil {
		t.Fatal(err)
	}
	before := scanTable(t, db, table)
	base := []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-all", "-key", testrig.KeyA}
	for name, extra := range map[string][]string{
		"no -tenant":       nil,
		"-tenant note":     {"-tenant", "note"},
		"-logical-table x": {"-tenant", "tenant", "-logical-table", "x"},
		"-unsigned note":   {"-tenant", "tenant", "-unsigned", "note"},
	} {
		o := runBinary(t, "", append(append(base, extra...), "-checkpoint", filepath.Join(t.TempDir(), "cp"))...)
		if o.code != exitItems {
			t.Errorf("walk with %s: exit code %d, want %d: %s", name, o.code, exitItems, o)
		}
		for k, item := range scanTable(t, db, table) {
			if !reflect.DeepEqual(item, before[k]) {
				t.Errorf("walk with %s changed item %s\n%s", name, k, o)
			}
		}
	}
	o := runBinary(t, "", append(base, "-tenant", "tenant")...).want(t, exitOK, "walk with the right flags")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n+1 || rewritten != n+1 {
		t.Errorf("walk with the right flags: %s", o)
	}
	got, err := items.Open(ctx, scanTable(t, db, table)[`{"seq":100,"tenant":"t1"}`])
	if err != nil || !reflect.DeepEqual(got["avatar"], &types.AttributeValueMemberB{Value: avatar}) {
		t.Errorf("the plaintext binary attribute after the walk: %v, %v", got["avatar"], err)
	}
}
