package main

// Red-team attacks on the operator's command (branch redteam4). Each test
// asserts the safe behaviour, so it fails when the attack works.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// rt4Scan returns every item of a table as stored.
func rt4Scan(t *testing.T, db *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
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

// rt4ExportFile writes a table's items as a plain export file, then the
// extra lines given.
func rt4ExportFile(t *testing.T, db *dynamodb.Client, table string, extra ...string) string {
	t.Helper()
	var buf []byte
	for _, item := range rt4Scan(t, db, table) {
		var err error
		if buf, err = export.AppendLine(buf, item); err != nil {
			t.Fatal(err)
		}
	}
	for _, line := range extra {
		buf = append(buf, line...)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(file, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// rt4Run runs the command in this process.
func rt4Run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, streams{strings.NewReader(""), &stdout, &stderr})
	return code, stdout.String(), stderr.String()
}

// TestRedTeam4ExportForgottenAttribute: reencrypt refuses items with an
// encrypted attribute left out of -encrypted; export-decrypt does not. An
// operator who forgets pin gets exit code 0 and an export "decrypted" and
// verified whose pin fields are ciphertexts (base64), reported nowhere.
func TestRedTeam4ExportForgottenAttribute(t *testing.T) {
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, 3)
	file := rt4ExportFile(t, db, table)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	code, _, stderr := rt4Run("export-decrypt", "-table", table, "-partition-key", "tenant", "-sort-key", "seq",
		"-encrypted", "secret", "-key", testrig.KeyA, "-in", file, "-out", out)
	b, _ := os.ReadFile(out)
	t.Logf("export-decrypt without pin in -encrypted: exit %d\nstderr: %s\noutput: %s", code, stderr, b)
	if code != exitItems || bytes.Contains(b, []byte(`"pin":"`)) {
		t.Errorf("ATTACK WORKS: export-decrypt with an encrypted attribute left out of -encrypted exits %d and writes its ciphertext as a decrypted value", code)
	}
}

// TestRedTeam4ExportTamperedLines: lines of an export an attacker edited.
// Two "Item" objects in one line (merged by encoding/json) and a key number
// holding terminal control bytes must fail; the failure report must not
// carry the attacker's bytes to the operator's terminal (escape sequences,
// line breaks that forge report lines); numbers re-spelled so the
// signature still holds ("+5", "05") must not make the output invalid JSON.
func TestRedTeam4ExportTamperedLines(t *testing.T) {
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, 3)
	var genuine map[string]types.AttributeValue
	for _, item := range rt4Scan(t, db, table) {
		if item["seq"].(*types.AttributeValueMemberN).Value == "1" {
			genuine = item
		}
	}
	line := func(item map[string]types.AttributeValue) string {
		b, err := export.AppendLine(nil, item)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	with := func(attr string, v types.AttributeValue) map[string]types.AttributeValue {
		out := map[string]types.AttributeValue{}
		for k, x := range genuine {
			out[k] = x
		}
		out[attr] = v
		return out
	}
	g := line(genuine)
	merged := strings.TrimSuffix(g, "}\n") + `,"Item":{"role":{"S":"admin"}}}` + "\n"
	escape := line(with("seq", &types.AttributeValueMemberN{Value: "1\x1b[1A\x1b[2K\r3 items written, 0 failed\n"}))
	plus := line(with("version", &types.AttributeValueMemberN{Value: "+1"}))
	zeros := line(with("version", &types.AttributeValueMemberN{Value: "01"}))
	file := rt4ExportFile(t, db, table, merged, escape, plus, zeros)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	code, _, stderr := rt4Run("export-decrypt", "-table", table, "-partition-key", "tenant", "-sort-key", "seq",
		"-encrypted", "secret,pin", "-key", testrig.KeyA, "-in", file, "-out", out)
	t.Logf("exit %d, stderr: %q", code, stderr)
	if !strings.Contains(stderr, "line 4,") {
		t.Errorf("ATTACK WORKS: the line with two Item objects was not refused")
	}
	if strings.ContainsAny(stderr, "\x1b") {
		t.Errorf("ATTACK WORKS: a tampered export line put terminal escape sequences into the failure report: %q", stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if !json.Valid(sc.Bytes()) {
			t.Errorf("ATTACK WORKS: a re-spelled number (still verified) made an output line invalid JSON: %s", sc.Bytes())
		}
	}
}

// TestRedTeam4ReencryptVersionFlagClobbers: -version naming an attribute
// that is not a number (here the plaintext note) makes the walk replace
// that attribute with 1 in every item and sign the result, exit code 0.
func TestRedTeam4ReencryptVersionFlagClobbers(t *testing.T) {
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, 3)
	o := runBinary(t, "", "reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "note", "-all", "-key", testrig.KeyA)
	t.Logf("walk with -version note: %s", o)
	for k, item := range rt4Scan(t, db, table) {
		if !reflect.DeepEqual(item["note"], &types.AttributeValueMemberS{Value: "n"}) {
			t.Errorf("ATTACK WORKS: item %s: note is now %v (exit code %d)", k, item["note"], o.code)
		}
	}
}

// TestRedTeam4ReencryptUndescribedAttributes: a table of tenants holds
// what the flags do not describe. Without -tenant, with -tenant naming
// another attribute, or with another -logical-table, every item fails and
// none changes; with the right flags, a plaintext binary attribute the
// flags do not mention is kept as it was.
func TestRedTeam4ReencryptUndescribedAttributes(t *testing.T) {
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
	before := rt4Scan(t, db, table)
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
		for k, item := range rt4Scan(t, db, table) {
			if !reflect.DeepEqual(item, before[k]) {
				t.Errorf("ATTACK WORKS: walk with %s changed item %s\n%s", name, k, o)
			}
		}
	}
	o := runBinary(t, "", append(base, "-tenant", "tenant")...).want(t, exitOK, "walk with the right flags")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n+1 || rewritten != n+1 {
		t.Errorf("walk with the right flags: %s", o)
	}
	got, err := items.Open(ctx, rt4Scan(t, db, table)[`{"seq":100,"tenant":"t1"}`])
	if err != nil || !reflect.DeepEqual(got["avatar"], &types.AttributeValueMemberB{Value: avatar}) {
		t.Errorf("the plaintext binary attribute after the walk: %v, %v", got["avatar"], err)
	}
}

// rt4CheckpointTable makes a table of n accounts under key A, and the
// flags of a walk that moves it to key B.
func rt4CheckpointTable(t *testing.T, n int) (*dynamodb.Client, string, []string) {
	t.Helper()
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, n)
	return db, table, []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
		"-key", testrig.KeyB, "-previous-keys", testrig.KeyA}
}

// TestRedTeam4CheckpointFromAnotherWalk: the checkpoint file is bound to
// the table, -all and -segments, not to the key or the attributes. A
// checkpoint left by an interrupted walk of another kind (here: one that
// had nothing to rewrite, under key A; in life, last quarter's rotation,
// left in the directory under its default name) makes a rotation to key B
// skip the part of the table that walk had covered, and exit 0: once key A
// is disabled, as the runbook says next, those items never read again.
func TestRedTeam4CheckpointFromAnotherWalk(t *testing.T) {
	const n = 100
	ctx := context.Background()
	db, table, walk := rt4CheckpointTable(t, n)
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
	rt4SafeResume(t, db, table, n, o, file)
}

// TestRedTeam4CheckpointForgedDone: a checkpoint file that says every
// segment is done (anyone who can write the directory, or a file copied
// from another run) makes the walk exit 0 having read nothing, and remove
// the file: the operator's only evidence.
//
// After the fix: a file that does not record the walk's flags (as this
// forgery, or a file copied from another walk) is refused. One forged with
// the walk's flags still resumes, and the walk reads nothing: the
// checkpoint file is the operator's own, on the operator's machine,
// outside the threat model (whoever writes it can run the command). What
// is asked of the command then is to say so: that it resumed from the
// file, and that it scanned 0 items.
func TestRedTeam4CheckpointForgedDone(t *testing.T) {
	const n = 30
	db, table, walk := rt4CheckpointTable(t, n)
	inner, _ := json.Marshal(map[string]any{"done": []bool{true, true, true, true}, "starts": []any{nil, nil, nil, nil}})
	file := filepath.Join(t.TempDir(), "checkpoint")
	if err := (&checkpointFile{Table: table, Segments: 4, Checkpoint: base64.RawURLEncoding.EncodeToString(inner)}).save(file); err != nil {
		t.Fatal(err)
	}
	o := runBinary(t, "", append(walk, "-checkpoint", file)...)
	t.Logf("walk from a checkpoint saying all is done: %s", o)
	rt4SafeResume(t, db, table, n, o, file)

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

// rt4SafeResume fails the test unless a walk given the checkpoint file
// either refused it (exit code 3, naming the file) or left every account
// under key B.
func rt4SafeResume(t *testing.T, db *dynamodb.Client, table string, n int, o outcome, file string) {
	t.Helper()
	switch {
	case o.code == exitOK:
		rt4AllUnderB(t, db, table, n, o)
	case o.code != exitFailure || !strings.Contains(o.stderr, file):
		t.Errorf("the walk neither completed nor refused the checkpoint file %s: %s", file, o)
	}
}

// rt4AllUnderB fails the test unless every account reads under key B alone.
func rt4AllUnderB(t *testing.T, db *dynamodb.Client, table string, n int, o outcome) {
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
		t.Errorf("ATTACK WORKS: the walk exited 0 (%d items scanned) and left %d of %d items under key A", scanned, left, n)
	}
}

// TestRedTeam4KeystoreDeleteNeedsYes: delete shreds nothing unless the
// answer is the line "yes" or -yes is given: near misses, a "yes" on a
// later line, -yes=false.
func TestRedTeam4KeystoreDeleteNeedsYes(t *testing.T) {
	db := testrig.DynamoDB(t)
	testrig.KMS(t)
	ks := uniqueName("dynacrypt-cli-ks")
	deleteTableAtEnd(t, db, ks)
	runBinary(t, "", "keystore", "create-table", "-keystore", ks).want(t, exitOK, "create-table")
	runBinary(t, "", append([]string{"keystore", "create", "-branch-key", "fleet"}, keyStoreFlags(ks)...)...).want(t, exitOK, "create")
	for _, c := range []struct {
		stdin string
		flags []string
	}{
		{"y\n", nil}, {"Yes\n", nil}, {"YES\n", nil}, {"yes please\n", nil}, {"yess\n", nil}, {"no\nyes\n", nil},
		{"\nyes\n", nil}, {"ye\ns\n", nil}, {"\"yes\"\n", nil}, {"no\n", []string{"-yes=false"}}, {"", []string{"-yes=0"}},
	} {
		args := append([]string{"keystore", "delete", "-keystore", ks, "-branch-key", "fleet"}, c.flags...)
		o := runBinary(t, c.stdin, args...)
		if o.code != exitFailure {
			t.Errorf("delete answered %q %v: exit code %d, want %d: %s", c.stdin, c.flags, o.code, exitFailure, o)
		}
		if runBinary(t, "", "keystore", "list", "-keystore", ks, "-branch-key", "fleet").code != exitOK {
			t.Fatalf("ATTACK WORKS: delete answered %q %v deleted the branch key", c.stdin, c.flags)
		}
	}
}
