package testrig

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
)

// ExportID is the id of the exports WriteExportFolder writes.
const ExportID = "01700000000000-0a1b2c3d"

// ExportFile is a line of the files manifest of an export folder.
type ExportFile struct {
	ItemCount     int64  `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum,omitempty"`
	ETag          string `json:"etag,omitempty"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

// WriteExportFolder writes into dir an export of table as DynamoDB's export
// to S3 writes it and an operator copies it to disk: one gzip data file
// per element of files, data/part-NN.json.gz holding its items in DynamoDB
// JSON (none: a gzip stream of nothing, as an empty partition gives), the
// files manifest listing each with its item count and MD5 digest, and the
// summary with the total. It returns the files manifest's lines, for
// WriteFilesManifest to write back changed.
func WriteExportFolder(tb testing.TB, dir, table string, files [][]map[string]types.AttributeValue) []ExportFile {
	tb.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		tb.Fatal(err)
	}
	var entries []ExportFile
	var total int64
	for i, items := range files {
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		var line []byte
		for _, item := range items {
			var err error
			if line, err = export.AppendLine(line[:0], item); err != nil {
				tb.Fatal(err)
			}
			zw.Write(line)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		name := fmt.Sprintf("part-%02d.json.gz", i)
		if err := os.WriteFile(filepath.Join(dir, "data", name), zipped.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		sum := md5.Sum(zipped.Bytes())
		entries = append(entries, ExportFile{
			ItemCount:     int64(len(items)),
			MD5Checksum:   base64.StdEncoding.EncodeToString(sum[:]),
			ETag:          fmt.Sprintf("%x", sum),
			DataFileS3Key: "AWSDynamoDB/" + ExportID + "/data/" + name,
		})
		total += int64(len(items))
	}
	WriteFilesManifest(tb, dir, entries)
	summary, err := json.MarshalIndent(map[string]any{
		"version":            "2020-06-30",
		"exportArn":          "arn:aws:dynamodb:" + Region + ":" + Account + ":table/" + table + "/export/" + ExportID,
		"startTime":          "2026-11-04T07:28:34.028Z",
		"endTime":            "2026-11-04T07:33:43.897Z",
		"tableArn":           "arn:aws:dynamodb:" + Region + ":" + Account + ":table/" + table,
		"tableId":            "12345a12-abcd-123a-ab12-1234abc12345",
		"exportTime":         "2026-11-04T07:28:34.028Z",
		"s3Bucket":           "exports",
		"s3Prefix":           nil,
		"s3SseAlgorithm":     "AES256",
		"s3SseKmsKeyId":      nil,
		"manifestFilesS3Key": "AWSDynamoDB/" + ExportID + "/" + export.FilesManifest,
		"billedSizeBytes":    0,
		"itemCount":          total,
		"outputFormat":       "DYNAMODB_JSON",
		"exportType":         "FULL_EXPORT",
	}, "", "   ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, export.SummaryManifest), summary, 0o644); err != nil {
		tb.Fatal(err)
	}
	return entries
}

// WriteFilesManifest writes the files manifest of the export folder dir:
// one JSON object a line.
func WriteFilesManifest(tb testing.TB, dir string, entries []ExportFile) {
	tb.Helper()
	var b []byte
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		b = append(append(b, line...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, export.FilesManifest), b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// ReadFilesManifest reads the files manifest of the export folder dir.
func ReadFilesManifest(tb testing.TB, dir string) []ExportFile {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, export.FilesManifest))
	if err != nil {
		tb.Fatal(err)
	}
	var entries []ExportFile
	for dec := json.NewDecoder(bytes.NewReader(b)); dec.More(); {
		var e ExportFile
		if err := dec.Decode(&e); err != nil {
			tb.Fatal(err)
		}
		entries = append(entries, e)
	}
	return entries
}
