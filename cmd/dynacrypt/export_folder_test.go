package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// exportFolder spreads items over files data files of an export folder,
// leaving file empty without any; it returns the folder and each file's
// ids.
func exportFolder(t *testing.T, table string, items []map[string]types.AttributeValue, files, empty int) (string, [][]string) {
	t.Helper()
	spread := make([][]map[string]types.AttributeValue, files)
	ids := make([][]string, files)
	for i, item := range items {
		f := i % (files - 1)
		if f >= empty {
			f++
		}
		spread[f] = append(spread[f], item)
		ids[f] = append(ids[f], item["id"].(*types.AttributeValueMemberS).Value)
	}
	dir := filepath.Join(t.TempDir(), "AWSDynamoDB", testrig.ExportID)
	testrig.WriteExportFolder(t, dir, table, spread)
	return dir, ids
}

// decryptedIDs reads the ids of an output file of JSON lines, checking
// that each user's token is its own.
func decryptedIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var u struct{ ID, Token string }
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if want := "token-" + strings.TrimPrefix(u.ID, "user-"); u.Token != want {
			t.Errorf("%s: user %s has token %q, want %q", path, u.ID, u.Token, want)
		}
		ids = append(ids, u.ID)
	}
	return ids
}

// TestExportDecryptFolder: a whole export, 8 gzip data files, one empty,
// one holding a tampered line, decrypts into a folder of one JSON lines
// file per data file; the tampered line is reported by file, line and key,
// without plaintext, and the exit code is 1, as the counts match the
// manifests. Without the tampered line the exit code is 0. Manifests
// listing a missing file, one twice or one outside the export's data
// folder are refused (exit code 3) and nothing is written; a data file
// holding fewer items than its manifest says is reported by name (1).
func TestExportDecryptFolder(t *testing.T) {
	const n, files, empty, tampered = 1400, 8, 3, 42
	table, items := storeUsers(t, n, tampered)
	dir, ids := exportFolder(t, table, items, files, empty)
	tamperedID := fmt.Sprintf("user-%05d", tampered)
	var tamperedFile, tamperedLine int
	for f := range ids {
		for i, id := range ids[f] {
			if id == tamperedID {
				tamperedFile, tamperedLine = f, i+1
			}
		}
	}
	decrypt := func(in, out string, more ...string) (int, string) {
		args := append([]string{"export-decrypt", "-table", table, "-partition-key", "id", "-encrypted", "token,tags",
			"-key", testrig.KeyA, "-in", in, "-out", out}, more...)
		var stderr bytes.Buffer
		code := run(context.Background(), args, streams{strings.NewReader(""), &bytes.Buffer{}, &stderr})
		return code, stderr.String()
	}

	out := filepath.Join(t.TempDir(), "decrypted")
	code, stderr := decrypt(dir, out, "-workers", "4")
	if code != exitItems {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitItems, stderr)
	}
	report := fmt.Sprintf(`data/part-%02d.json.gz: line %d, key {"id":%q}: `, tamperedFile, tamperedLine, tamperedID)
	if !strings.Contains(stderr, report) || !strings.Contains(stderr, "integrity check failed") ||
		!strings.Contains(stderr, fmt.Sprintf("8 of 8 data files, %d items written, 1 failed", n-1)) {
		t.Errorf("stderr does not report the tampered line as %q, and the counts:\n%s", report, stderr)
	}
	if strings.Contains(stderr, "token-") || strings.Contains(stderr, "the manifest says") || strings.Contains(stderr, "summary says") {
		t.Errorf("stderr shows plaintext, or a count mismatch:\n%s", stderr)
	}
	for f := range files {
		got := decryptedIDs(t, filepath.Join(out, fmt.Sprintf("part-%02d.jsonl", f)))
		var want []string
		for _, id := range ids[f] {
			if id != tamperedID {
				want = append(want, id)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("part-%02d.jsonl: %d items, want %d, in the file's order", f, len(got), len(want))
		}
	}

	// The export without the tampered item: all good.
	var good []map[string]types.AttributeValue
	for _, item := range items {
		if item["id"].(*types.AttributeValueMemberS).Value != tamperedID {
			good = append(good, item)
		}
	}
	goodDir, _ := exportFolder(t, table, good, files, empty)
	if code, stderr := decrypt(goodDir, filepath.Join(t.TempDir(), "good"), "-workers", "1"); code != exitOK {
		t.Errorf("a good export: exit code %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}

	// Manifests refused: nothing decrypted.
	for _, c := range []struct {
		name string
		edit func(dir string, e []testrig.ExportFile) []testrig.ExportFile
		want string
	}{
		{"a data file missing", func(dir string, e []testrig.ExportFile) []testrig.ExportFile {
			os.Remove(filepath.Join(dir, "data", "part-05.json.gz"))
			return e
		}, "data file data/part-05.json.gz is missing"},
		{"a data file listed twice", func(dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].ItemCount-- // the total still agrees
			e = append(e, e[1])
			e[len(e)-1].ItemCount = 1
			return e
		}, "listed twice"},
		{"a key out of the data folder", func(dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[2].DataFileS3Key = "AWSDynamoDB/" + testrig.ExportID + "/data/../../" + testrig.ExportID + "/data/part-02.json.gz"
			return e
		}, "not a plain path"},
	} {
		dir, _ := exportFolder(t, table, good, files, empty)
		testrig.WriteFilesManifest(t, dir, c.edit(dir, testrig.ReadFilesManifest(t, dir)))
		out := filepath.Join(t.TempDir(), "refused")
		code, stderr := decrypt(dir, out)
		if code != exitFailure || !strings.Contains(stderr, "export manifest refused") || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit code %d, want %d; stderr:\n%s", c.name, code, exitFailure, stderr)
		}
		if written, _ := os.ReadDir(out); len(written) != 0 {
			t.Errorf("%s: %d files written", c.name, len(written))
		}
	}

	// A data file holding one item less than its manifest says (and the
	// summary agreeing with the manifest): decrypted, and reported.
	shortDir, _ := exportFolder(t, table, good, files, empty)
	entries := testrig.ReadFilesManifest(t, shortDir)
	entries[6].ItemCount++
	entries[7].ItemCount--
	entries[6].MD5Checksum, entries[7].MD5Checksum = "", ""
	testrig.WriteFilesManifest(t, shortDir, entries)
	code, stderr = decrypt(shortDir, filepath.Join(t.TempDir(), "short"))
	if code != exitItems || !strings.Contains(stderr, fmt.Sprintf("data/part-06.json.gz: %d items, the manifest says %d", entries[6].ItemCount-1, entries[6].ItemCount)) ||
		!strings.Contains(stderr, "data/part-07.json.gz") || !strings.Contains(stderr, "0 failed") {
		t.Errorf("a data file short of its count: exit code %d, want %d; stderr:\n%s", code, exitItems, stderr)
	}

	// A folder decrypts into a folder only.
	if code, _ := decrypt(dir, "-"); code != exitUsage {
		t.Errorf("a folder to standard output: exit code %d, want %d", code, exitUsage)
	}
}
