package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// user is the service's item, as the command never sees it.
type user struct {
	ID    string   `dynamodbav:"id"`
	Name  string   `dynamodbav:"name"`
	Token string   `dynamodbav:"token" encrypt:"kms"`
	Score float64  `dynamodbav:"score"`
	Tags  []string `dynamodbav:"tags,stringset" encrypt:"kms"`
}

// storeUsers writes n users through a Store to a fresh table, then reads
// the table back raw, as an export holds it; the item of user tampered gets
// another name. It returns the table and the items.
func storeUsers(t *testing.T, n, tampered int) (string, []map[string]types.AttributeValue) {
	t.Helper()
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	k, _ := testrig.KMS(t)
	store := dynacrypttest.NewStore[user](t, db, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyA)))
	users := make([]*user, n)
	for i := range users {
		users[i] = &user{ID: fmt.Sprintf("user-%05d", i), Name: "name", Token: fmt.Sprintf("token-%05d", i), Score: float64(i) / 4, Tags: []string{"a", "b"}}
	}
	if err := store.BatchPut(ctx, users); err != nil {
		t.Fatal(err)
	}
	in := &dynamodb.ScanInput{TableName: aws.String(store.Table())}
	var items []map[string]types.AttributeValue
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range out.Items {
			if item["id"].(*types.AttributeValueMemberS).Value == fmt.Sprintf("user-%05d", tampered) {
				item["name"] = &types.AttributeValueMemberS{Value: "mallory"}
			}
			items = append(items, item)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return store.Table(), items
}

// writeExport writes n users through a Store to a fresh table, then the
// table, scanned raw, as a gzip export file; the item of user tampered gets
// another name. It returns the table and the file.
func writeExport(t *testing.T, n, tampered int) (string, string) {
	t.Helper()
	table, items := storeUsers(t, n, tampered)
	file := filepath.Join(t.TempDir(), "export.json.gz")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	var line []byte
	for _, item := range items {
		if line, err = export.AppendLine(line[:0], item); err != nil {
			t.Fatal(err)
		}
		zw.Write(line)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return table, file
}

// TestExportDecrypt: an export of 10,000 items written through a Store
// decrypts completely but for one tampered line, which is reported by key
// with exit code 1; with -strict the command stops there.
func TestExportDecrypt(t *testing.T) {
	const n, tampered = 10_000, 42
	table, file := writeExport(t, n, tampered)
	out := filepath.Join(t.TempDir(), "users.jsonl")
	args := []string{"export-decrypt", "-table", table, "-partition-key", "id", "-encrypted", "token,tags",
		"-key", testrig.KeyA, "-in", file, "-out", out}
	var stderr bytes.Buffer
	code := run(context.Background(), args, streams{strings.NewReader(""), &bytes.Buffer{}, &stderr})
	if code != exitItems {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitItems, stderr.String())
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf(`key {"id":"user-%05d"}`, tampered)) || !strings.Contains(stderr.String(), "integrity check failed") {
		t.Errorf("stderr does not report the tampered item by key:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "token-") {
		t.Errorf("stderr shows plaintext:\n%s", stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := 0
	for sc := bufio.NewScanner(f); sc.Scan(); seen++ {
		var u struct {
			ID    string
			Token string
			Score json.Number
			Tags  []string
		}
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			t.Fatalf("output line %d: %v", seen+1, err)
		}
		var i int
		fmt.Sscanf(u.ID, "user-%d", &i)
		if u.Token != fmt.Sprintf("token-%05d", i) || u.Score.String() != fmt.Sprint(float64(i)/4) || len(u.Tags) != 2 {
			t.Fatalf("output line %d: %+v", seen+1, u)
		}
	}
	if seen != n-1 {
		t.Errorf("%d items written, want %d", seen, n-1)
	}

	stderr.Reset()
	args = append(args, "-strict")
	if code := run(context.Background(), args, streams{nil, &bytes.Buffer{}, &stderr}); code != exitItems || !strings.Contains(stderr.String(), "1 failed") {
		t.Errorf("-strict: exit code %d, stderr:\n%s", code, stderr.String())
	}
	// A file cut short (a truncated download): the rest cannot be read,
	// which is no item's failure but the command's (exit code 3).
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.json.gz")
	if err := os.WriteFile(cut, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	cutArgs := append(append([]string{}, args[:len(args)-5]...), "-in", cut, "-out", filepath.Join(t.TempDir(), "cut.jsonl"))
	if code := run(context.Background(), cutArgs, streams{nil, &bytes.Buffer{}, &stderr}); code != exitFailure || !strings.Contains(stderr.String(), "unexpected EOF") {
		t.Errorf("a truncated export: exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr.String())
	}
	if code := run(context.Background(), []string{"export-decrypt", "-table", table}, streams{nil, &bytes.Buffer{}, &stderr}); code != exitUsage {
		t.Errorf("missing flags: exit code %d, want %d", code, exitUsage)
	}
}

// exportFileOf writes a table's items as a plain export file, then the
// extra lines given.
func exportFileOf(t *testing.T, db *dynamodb.Client, table string, extra ...string) string {
	t.Helper()
	var buf []byte
	for _, item := range scanTable(t, db, table) {
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

// runInProcess runs the command in this process.
func runInProcess(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, streams{strings.NewReader(""), &stdout, &stderr})
	return code, stdout.String(), stderr.String()
}

// TestExportDecryptRefusesUndeclaredEncryptedAttribute: an operator runs
// export-decrypt with an encrypted attribute (pin) left out of -encrypted.
// Writing pin's ciphertext as its decrypted value would pass unnoticed; the
// command refuses every item that holds it, as reencrypt does, and exits
// with exitItems, writing no "pin" string.
func TestExportDecryptRefusesUndeclaredEncryptedAttribute(t *testing.T) {
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, 3)
	file := exportFileOf(t, db, table)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	code, _, stderr := runInProcess("export-decrypt", "-table", table, "-partition-key", "tenant", "-sort-key", "seq",
		"-encrypted", "secret", "-key", testrig.KeyA, "-in", file, "-out", out)
	b, _ := os.ReadFile(out)
	t.Logf("export-decrypt without pin in -encrypted: exit %d\nstderr: %s\noutput: %s", code, stderr, b)
	if code != exitItems || bytes.Contains(b, []byte(`"pin":"`)) {
		t.Errorf("export-decrypt with an encrypted attribute left out of -encrypted exits %d (want %d) or writes its ciphertext as a decrypted value", code, exitItems)
	}
}

// TestExportDecryptRefusesTamperedLines: someone who writes the export
// file edits its lines. A line with two "Item" objects (which encoding/json
// would merge) is refused; a key number holding terminal control bytes
// fails without carrying them to the operator's terminal (no escape
// sequences, no line breaks that forge report lines); numbers re-spelled
// so the signature still holds ("+1", "01") do not make the output invalid
// JSON.
func TestExportDecryptRefusesTamperedLines(t *testing.T) {
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	table := accountsTable(t, db)
	store := accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA))
	putAccounts(t, store, 3)
	var genuine map[string]types.AttributeValue
	for _, item := range scanTable(t, db, table) {
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
	file := exportFileOf(t, db, table, merged, escape, plus, zeros)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	code, _, stderr := runInProcess("export-decrypt", "-table", table, "-partition-key", "tenant", "-sort-key", "seq",
		"-encrypted", "secret,pin", "-key", testrig.KeyA, "-in", file, "-out", out)
	t.Logf("exit %d, stderr: %q", code, stderr)
	if !strings.Contains(stderr, "line 4,") {
		t.Errorf("the line with two Item objects was not refused (no \"line 4,\" in the report)")
	}
	if strings.ContainsAny(stderr, "\x1b") {
		t.Errorf("a tampered export line put terminal escape sequences into the failure report: %q", stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if !json.Valid(sc.Bytes()) {
			t.Errorf("a re-spelled number (still verified) made an output line invalid JSON: %s", sc.Bytes())
		}
	}
}
