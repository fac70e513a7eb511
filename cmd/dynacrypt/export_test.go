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
