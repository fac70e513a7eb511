package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// usersItems returns Items of a users table, keyed by "id", with "token"
// encrypted.
func usersItems(t testing.TB) *dynacrypt.Items {
	t.Helper()
	items, err := dynacrypt.NewItems("users", dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithEncryptedAttributes("token"), dynacrypt.WithCipher(dynacrypttest.NewCipherWithKey("users")))
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func s(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

// sealedFiles seals perFile users into each of n files, but file empty,
// which holds none; user i has token "token-i".
func sealedFiles(t testing.TB, items *dynacrypt.Items, n, perFile, empty int) [][]map[string]types.AttributeValue {
	t.Helper()
	files := make([][]map[string]types.AttributeValue, n)
	for f := range files {
		if f == empty {
			continue
		}
		for i := range perFile {
			id := fmt.Sprintf("u%d-%03d", f, i)
			sealed, err := items.Seal(context.Background(), map[string]types.AttributeValue{
				"id": s(id), "name": s("name of " + id), "token": s("token-" + id)})
			if err != nil {
				t.Fatal(err)
			}
			files[f] = append(files[f], sealed)
		}
	}
	return files
}

// outputs collects the output of each data file.
type outputs struct {
	mu    sync.Mutex
	files map[string]*bytes.Buffer
}

func (o *outputs) open(f *export.DataFile) (io.WriteCloser, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.files == nil {
		o.files = map[string]*bytes.Buffer{}
	}
	b := &bytes.Buffer{}
	o.files[f.Name()] = b
	return nopCloser{b}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// TestDecryptFolder: an export of 8 data files, one empty, one with a
// tampered line, decrypts with 1 and 4 workers: every other item comes out
// decrypted in its file's output, in order; the tampered line is reported
// by file, line and key, without its plaintext; the counts match the
// manifests, and the report's error names the failure alone.
func TestDecryptFolder(t *testing.T) {
	const n, perFile, empty, tamperedFile, tamperedLine = 8, 40, 5, 2, 7
	items := usersItems(t)
	files := sealedFiles(t, items, n, perFile, empty)
	files[tamperedFile][tamperedLine-1]["name"] = s("mallory")
	dir := t.TempDir()
	testrig.WriteExportFolder(t, dir, "users", files)

	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			folder, err := export.OpenFolder(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(folder.Files) != n || folder.ItemCount != (n-1)*perFile {
				t.Fatalf("%d files, %d items, want %d and %d", len(folder.Files), folder.ItemCount, n, (n-1)*perFile)
			}
			var out outputs
			var failures []*export.ItemFailure
			done := map[string]bool{}
			report, err := export.DecryptFolder(context.Background(), folder, items, export.DecryptOptions{
				Workers:  workers,
				Output:   out.open,
				Failed:   func(f *export.ItemFailure) { failures = append(failures, f) },
				FileDone: func(r *export.FileResult) { done[r.File.Name()] = true },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(failures) != 1 {
				t.Fatalf("%d failures reported, want 1: %v", len(failures), failures)
			}
			f := failures[0]
			tamperedID := fmt.Sprintf("u%d-%03d", tamperedFile, tamperedLine-1)
			if f.File != fmt.Sprintf("data/part-%02d.json.gz", tamperedFile) || f.Line != tamperedLine ||
				f.Key["id"].(*types.AttributeValueMemberS).Value != tamperedID || !errors.Is(f, dynacrypt.ErrIntegrity) {
				t.Errorf("failure %+v, want file %d, line %d, key %s, ErrIntegrity", f, tamperedFile, tamperedLine, tamperedID)
			}
			if msg := f.Error(); !strings.Contains(msg, fmt.Sprintf(`data/part-%02d.json.gz: line %d, key {"id":%q}`, tamperedFile, tamperedLine, tamperedID)) ||
				strings.Contains(msg, "token-") {
				t.Errorf("failure message %q: want file, line and key, and no plaintext", msg)
			}
			if report.Items != (n-1)*perFile || report.Written != (n-1)*perFile-1 || report.Failed != 1 || len(done) != n {
				t.Errorf("report: %d items, %d written, %d failed, %d files done", report.Items, report.Written, report.Failed, len(done))
			}
			err = report.Err()
			if err == nil || errors.Is(err, export.ErrItemCount) || errors.Is(err, export.ErrChecksum) || !strings.Contains(err.Error(), "1 of 280 items failed") {
				t.Errorf("report's error: %v, want one item failed and nothing else", err)
			}
			for i, res := range report.Files {
				if res.Err != nil || res.Items != int64(len(files[i])) {
					t.Errorf("file %d: %d items, %v", i, res.Items, res.Err)
				}
				var got []string
				for l, err := range export.Items(out.files[res.File.Name()]) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, l.Item["token"].(*types.AttributeValueMemberS).Value)
				}
				var want []string
				for j := range files[i] {
					if id := fmt.Sprintf("u%d-%03d", i, j); id != tamperedID {
						want = append(want, "token-"+id)
					}
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("file %d's output: %d items %v, want %d", i, len(got), got, len(want))
				}
			}
		})
	}
}

// rewriteSummary changes the summary of the export folder dir.
func rewriteSummary(t *testing.T, dir string, change func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, export.SummaryManifest)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFolderRefuses: manifests that list a data file twice, a data
// file outside the export's data folder or of another export, one that is
// missing, counts that do not add up, or another format are refused before
// anything is decrypted, even where the summary's count was made to agree.
func TestOpenFolderRefuses(t *testing.T) {
	items := usersItems(t)
	files := sealedFiles(t, items, 3, 4, -1)
	const id = testrig.ExportID
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string, entries []testrig.ExportFile) []testrig.ExportFile
		want string
	}{
		{"a data file listed twice", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			rewriteSummary(t, dir, func(m map[string]any) { m["itemCount"] = 16 })
			return append(e, e[1])
		}, "listed twice"},
		{"a data file listed twice under another prefix", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			rewriteSummary(t, dir, func(m map[string]any) { m["itemCount"] = 16 })
			again := e[1]
			again.DataFileS3Key = "2026-Nov/" + again.DataFileS3Key
			return append(e, again)
		}, "listed twice"},
		{"a key out of the data folder", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			// A file planted beside the folder, that a path joined from
			// the key would reach.
			os.WriteFile(filepath.Join(dir, "..", "planted.json.gz"), nil, 0o644)
			e[0].DataFileS3Key = "AWSDynamoDB/" + id + "/data/../../../planted.json.gz"
			return e
		}, "not a plain path"},
		{"a key climbing out first", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].DataFileS3Key = "../AWSDynamoDB/" + id + "/data/part-00.json.gz"
			return e
		}, "not a plain path"},
		{"an absolute key", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].DataFileS3Key = "/AWSDynamoDB/" + id + "/data/part-00.json.gz"
			return e
		}, "not a plain path"},
		{"a backslash", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].DataFileS3Key = "AWSDynamoDB/" + id + "/data/..\\..\\part-00.json.gz"
			return e
		}, "not a plain path"},
		{"a control character", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].DataFileS3Key = "AWSDynamoDB/" + id + "/data/part-00.json.gz\n3 of 3 data files, 12 items written, 0 failed"
			return e
		}, "not printable"},
		{"a manifest key", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].DataFileS3Key = "AWSDynamoDB/" + id + "/" + export.SummaryManifest
			return e
		}, "not a data file of export"},
		{"a data file of another export", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].DataFileS3Key = "AWSDynamoDB/01700000000001-ffffffff/data/part-00.json.gz"
			return e
		}, "not a data file of export"},
		{"a data file missing", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			os.Remove(filepath.Join(dir, "data", "part-02.json.gz"))
			return e
		}, "part-02.json.gz is missing"},
		{"a data file that is a folder", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			os.Remove(filepath.Join(dir, "data", "part-02.json.gz"))
			os.Mkdir(filepath.Join(dir, "data", "part-02.json.gz"), 0o755)
			return e
		}, "not a regular file"},
		{"files counting more than the summary", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[1].ItemCount++
			return e
		}, "hold 13 items by manifest-files.json, the summary says 12"},
		{"a summary counting more than the files", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			rewriteSummary(t, dir, func(m map[string]any) { m["itemCount"] = 13 })
			return e
		}, "hold 12 items by manifest-files.json, the summary says 13"},
		{"a file without a count", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			os.WriteFile(filepath.Join(dir, export.FilesManifest), []byte(`{"dataFileS3Key":"AWSDynamoDB/`+id+`/data/part-00.json.gz"}`), 0o644)
			return nil
		}, "no itemCount"},
		{"a malformed MD5", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			e[0].MD5Checksum = "not base64!"
			return e
		}, "md5Checksum"},
		{"an Ion export", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			rewriteSummary(t, dir, func(m map[string]any) { m["outputFormat"] = "ION" })
			return e
		}, "only DYNAMODB_JSON"},
		{"an incremental export", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			rewriteSummary(t, dir, func(m map[string]any) { m["exportType"] = "INCREMENTAL_EXPORT" })
			return e
		}, "only full exports"},
		{"the files manifest of another export", func(t *testing.T, dir string, e []testrig.ExportFile) []testrig.ExportFile {
			rewriteSummary(t, dir, func(m map[string]any) {
				m["manifestFilesS3Key"] = "AWSDynamoDB/01700000000001-ffffffff/manifest-files.json"
			})
			return e
		}, "not the files manifest of export"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			entries := testrig.WriteExportFolder(t, dir, "users", files)
			if e := c.edit(t, dir, entries); e != nil {
				testrig.WriteFilesManifest(t, dir, e)
			}
			folder, err := export.OpenFolder(dir)
			if !errors.Is(err, export.ErrManifest) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenFolder: %v, %v; want ErrManifest: ...%s...", folder, err, c.want)
			}
		})
	}
}

// TestDecryptFolderChecksFiles: a data file that holds other items than
// its manifest says, or other bytes, or that is cut short, is reported by
// file, while its items that verify still come out.
func TestDecryptFolderChecksFiles(t *testing.T) {
	items := usersItems(t)
	files := sealedFiles(t, items, 4, 10, -1)
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string, e []testrig.ExportFile)
		want error
		text string
		cut  int64 // lines reported: the line a cut falls in
	}{
		{"an item replayed from another file", func(t *testing.T, dir string, e []testrig.ExportFile) {
			replayed := append(append([]map[string]types.AttributeValue{}, files[1]...), files[0][3])
			other := testrig.WriteExportFolder(t, filepath.Join(dir, "..", "other"), "users", [][]map[string]types.AttributeValue{nil, replayed})
			b, _ := os.ReadFile(filepath.Join(dir, "..", "other", "data", "part-01.json.gz"))
			os.WriteFile(filepath.Join(dir, "data", "part-01.json.gz"), b, 0o644)
			e[1].MD5Checksum = other[1].MD5Checksum // a consistent copy, but for the count
			testrig.WriteFilesManifest(t, dir, e)
		}, export.ErrItemCount, "data/part-01.json.gz: 11 items, the manifest says 10", 0},
		{"an item dropped", func(t *testing.T, dir string, e []testrig.ExportFile) {
			e[2].ItemCount++
			e[3].ItemCount--
			e[2].MD5Checksum, e[3].MD5Checksum = "", ""
			testrig.WriteFilesManifest(t, dir, e)
		}, export.ErrItemCount, "data/part-02.json.gz: 10 items, the manifest says 11", 0},
		{"other bytes", func(t *testing.T, dir string, e []testrig.ExportFile) {
			e[3].MD5Checksum = e[0].MD5Checksum
			testrig.WriteFilesManifest(t, dir, e)
		}, export.ErrChecksum, "data/part-03.json.gz: MD5 digest differs", 0},
		{"a gzip stream appended", func(t *testing.T, dir string, e []testrig.ExportFile) {
			path := filepath.Join(dir, "data", "part-03.json.gz")
			b, _ := os.ReadFile(path)
			var empty bytes.Buffer
			gzip.NewWriter(&empty).Close()
			os.WriteFile(path, append(b, empty.Bytes()...), 0o644)
		}, export.ErrChecksum, "data/part-03.json.gz: MD5 digest differs", 0},
		{"a file cut short", func(t *testing.T, dir string, e []testrig.ExportFile) {
			path := filepath.Join(dir, "data", "part-00.json.gz")
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o644)
		}, io.ErrUnexpectedEOF, "data/part-00.json.gz: export: unexpected EOF", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			c.edit(t, dir, testrig.WriteExportFolder(t, dir, "users", files))
			folder, err := export.OpenFolder(dir)
			if err != nil {
				t.Fatal(err)
			}
			report, err := export.DecryptFolder(context.Background(), folder, items, export.DecryptOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := report.Err(); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("report's error: %v, want %v: ...%s...", err, c.want, c.text)
			}
			if report.Failed != c.cut || report.Written != report.Items-c.cut {
				t.Errorf("%d items read, %d written, %d failed: want every whole item to verify, %d lines cut", report.Items, report.Written, report.Failed, c.cut)
			}
		})
	}
}

// TestDecryptFolderStops: with Strict the decryption stops at the first
// failure and leaves the files after it unread; an output that fails, and
// a cancelled context, end it with their error.
func TestDecryptFolderStops(t *testing.T) {
	items := usersItems(t)
	files := sealedFiles(t, items, 4, 10, -1)
	files[1][2]["name"] = s("mallory")
	dir := t.TempDir()
	testrig.WriteExportFolder(t, dir, "users", files)
	folder, err := export.OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	report, err := export.DecryptFolder(context.Background(), folder, items, export.DecryptOptions{Workers: 1, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if report.Failed != 1 || report.Written != 12 || report.Files[2].Err == nil || report.Files[3].Err == nil || report.Err() == nil {
		t.Errorf("Strict: %d written, %d failed, files 2 and 3: %v, %v; report: %v", report.Written, report.Failed,
			report.Files[2].Err, report.Files[3].Err, report.Err())
	}

	full := errors.New("disk full")
	_, err = export.DecryptFolder(context.Background(), folder, items, export.DecryptOptions{
		Output: func(*export.DataFile) (io.WriteCloser, error) { return nil, full }})
	if !errors.Is(err, full) {
		t.Errorf("a failing output: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := export.DecryptFolder(ctx, folder, items, export.DecryptOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
}
