package export

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The manifests of an export, as DynamoDB's export to S3 writes them beside
// the export's data folder (S3 prefix PREFIX/AWSDynamoDB/EXPORT-ID/).
const (
	SummaryManifest = "manifest-summary.json"
	FilesManifest   = "manifest-files.json"
)

// ErrManifest means an export folder's manifests were refused: unreadable,
// of another format, inconsistent with each other, listing a data file
// twice, a data file outside the export's data folder, or one that is not
// on disk. Nothing was decrypted.
var ErrManifest = errors.New("export manifest refused")

// A Folder is a table export as DynamoDB writes it to S3 and an operator
// copies it to disk: the folder PREFIX/AWSDynamoDB/EXPORT-ID/ with its two
// manifests and its data folder of gzip files, one per partition of the
// table (an empty partition gives an empty file). OpenFolder reads and checks
// the manifests.
type Folder struct {
	Dir       string
	ExportARN string // the summary's exportArn, which ends in /export/EXPORT-ID
	TableARN  string
	// ItemCount is the summary's count of the export's items, the sum of
	// its files'.
	ItemCount int64
	Files     []DataFile // in the order of the files manifest
}

// A DataFile is one data file of an export, as the files manifest lists it.
type DataFile struct {
	Key       string // its S3 key (dataFileS3Key): PREFIX/AWSDynamoDB/EXPORT-ID/data/NAME
	Path      string // where it is on disk: DIR/data/NAME
	ItemCount int64
	// MD5 is the MD5 digest of the file (md5Checksum), nil if the manifest
	// gives none. It catches a file damaged or cut short on its way, not a
	// forgery: whoever can write the files can write the manifest.
	MD5 []byte
}

// Name returns the file's name in the export folder: data/NAME.
func (f *DataFile) Name() string { return "data/" + filepath.Base(f.Path) }

// summary is the part of manifest-summary.json that OpenFolder reads.
type summary struct {
	ExportARN          string `json:"exportArn"`
	TableARN           string `json:"tableArn"`
	ExportType         string `json:"exportType"`
	OutputFormat       string `json:"outputFormat"`
	ManifestFilesS3Key string `json:"manifestFilesS3Key"`
	ItemCount          *int64 `json:"itemCount"`
}

// fileEntry is one line of manifest-files.json.
type fileEntry struct {
	ItemCount     *int64 `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

// maxManifestLine bounds a line of the files manifest, a few hundred bytes
// as DynamoDB writes it.
const maxManifestLine = 64 << 10

// OpenFolder reads the manifests of the export in folder dir and checks
// them against each other and the disk: a full export in DynamoDB JSON
// (outputFormat DYNAMODB_JSON; exports in Amazon Ion and incremental exports
// are refused); a files manifest that the summary names, if it names one;
// every data file of this export (its key ends in AWSDynamoDB/EXPORT-ID/data/NAME,
// with the summary's EXPORT-ID, and holds no . or .. part), listed once, and
// present in dir's data folder as a regular file; the files' item counts
// adding up to the summary's. Any of these failing gives an error wrapping
// ErrManifest. The data files are read by Decrypt.
func OpenFolder(dir string) (*Folder, error) {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("export: %s: %w: %s", dir, ErrManifest, fmt.Sprintf(format, args...))
	}
	b, err := os.ReadFile(filepath.Join(dir, SummaryManifest))
	if err != nil {
		return nil, refuse("%v", err)
	}
	var sum summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, refuse("%s: %v", SummaryManifest, err)
	}
	_, id, ok := strings.Cut(sum.ExportARN, "/export/")
	switch {
	case !ok || id == "" || strings.ContainsAny(id, "/\\"):
		return nil, refuse("%s: exportArn %q does not end in /export/EXPORT-ID", SummaryManifest, sum.ExportARN)
	case sum.OutputFormat != "DYNAMODB_JSON":
		return nil, refuse("%s: outputFormat %q: only DYNAMODB_JSON exports are read", SummaryManifest, sum.OutputFormat)
	case sum.ExportType != "" && sum.ExportType != "FULL_EXPORT":
		return nil, refuse("%s: exportType %q: only full exports are read", SummaryManifest, sum.ExportType)
	case sum.ItemCount == nil || *sum.ItemCount < 0:
		return nil, refuse("%s: no itemCount", SummaryManifest)
	case sum.ManifestFilesS3Key != "" && !strings.HasSuffix("/"+sum.ManifestFilesS3Key, "/AWSDynamoDB/"+id+"/"+FilesManifest):
		return nil, refuse("%s: manifestFilesS3Key %q is not the files manifest of export %s", SummaryManifest, sum.ManifestFilesS3Key, id)
	}
	f := &Folder{Dir: dir, ExportARN: sum.ExportARN, TableARN: sum.TableARN, ItemCount: *sum.ItemCount}
	if f.Files, err = readFiles(dir, id); err != nil {
		return nil, refuse("%v", err)
	}
	var total int64
	for _, file := range f.Files {
		total += file.ItemCount
	}
	if total != f.ItemCount {
		return nil, refuse("the data files hold %d items by %s, the summary says %d", total, FilesManifest, f.ItemCount)
	}
	return f, nil
}

// readFiles reads the files manifest of export id in dir and checks each
// data file it lists.
func readFiles(dir, id string) ([]DataFile, error) {
	mf, err := os.Open(filepath.Join(dir, FilesManifest))
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	var files []DataFile
	listed := map[string]int{} // data file name -> its line
	sc := bufio.NewScanner(mf)
	sc.Buffer(make([]byte, 0, 4<<10), maxManifestLine)
	for n := 1; sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s: line %d: %s", FilesManifest, n, fmt.Sprintf(format, args...))
		}
		var e fileEntry
		if err := json.Unmarshal(text, &e); err != nil {
			return nil, fail("%v", err)
		}
		if e.ItemCount == nil || *e.ItemCount < 0 {
			return nil, fail("no itemCount")
		}
		name, err := dataFileName(e.DataFileS3Key, id)
		if err != nil {
			return nil, fail("%v", err)
		}
		if first, dup := listed[name]; dup {
			return nil, fail("data file %s is listed twice (line %d too)", name, first)
		}
		listed[name] = n
		file := DataFile{Key: e.DataFileS3Key, Path: filepath.Join(dir, "data", name), ItemCount: *e.ItemCount}
		if e.MD5Checksum != "" {
			if file.MD5, err = base64.StdEncoding.DecodeString(e.MD5Checksum); err != nil || len(file.MD5) != 16 {
				return nil, fail("md5Checksum %q is not the base64 of an MD5 digest", e.MD5Checksum)
			}
		}
		// Lstat: a link leads out of the export, which a copy from S3 never makes.
		switch st, err := os.Lstat(file.Path); {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fail("data file %s is missing", file.Name())
		case err != nil:
			return nil, fail("data file %s: %v", file.Name(), err)
		case !st.Mode().IsRegular():
			return nil, fail("data file %s is not a regular file", file.Name())
		}
		files = append(files, file)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", FilesManifest, err)
	}
	return files, nil
}

// dataFileName returns the name of a data file of export id from its S3
// key, PREFIX/AWSDynamoDB/EXPORT-ID/data/NAME, refusing any other key: one
// of another export, outside the data folder, with a part that a path
// would resolve (. or ..), an empty one, or a backslash, or with
// characters that a terminal would act on rather than show, since reports
// name the file.
func dataFileName(key, id string) (string, error) {
	if !utf8.ValidString(key) || strings.IndexFunc(key, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("dataFileS3Key %q holds characters that are not printable", key)
	}
	parts := strings.Split(key, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\\\x00") {
			return "", fmt.Errorf("dataFileS3Key %q is not a plain path", key)
		}
	}
	n := len(parts)
	if n < 4 || parts[n-4] != "AWSDynamoDB" || parts[n-3] != id || parts[n-2] != "data" || !filepath.IsLocal(parts[n-1]) {
		return "", fmt.Errorf("dataFileS3Key %q is not a data file of export %s (AWSDynamoDB/%s/data/NAME)", key, id, id)
	}
	return parts[n-1], nil
}
