package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/benchitem"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// BenchmarkExportDecrypt: the command decrypts a whole export from local
// files, 8 data files of 2,500 of the 1 KB items (3 encrypted fields) each,
// sealed under local-kms's key, into a folder of JSON lines, with 1 and 4
// workers: items per second, wall time per item, and the process's CPU
// time per item, which tells what parallel work costs on a machine whose
// cores other jobs share. Each run is the command's whole work, its root
// key unwrapped once (one KMS request).
func BenchmarkExportDecrypt(b *testing.B) {
	const files, perFile = 8, 2500
	ctx := context.Background()
	k, _ := testrig.KMS(b)
	const table = "bench-users"
	items, err := dynacrypt.NewItems(table, dynacrypt.WithPartitionKey("id"),
		dynacrypt.WithEncryptedAttributes("token", "card", "notes"), dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyA)))
	if err != nil {
		b.Fatal(err)
	}
	export := make([][]map[string]types.AttributeValue, files)
	for f := range export {
		for i := range perFile {
			av, err := attributevalue.MarshalMap(benchitem.New(fmt.Sprintf("user-%d-%05d", f, i)))
			if err == nil {
				av, err = items.Seal(ctx, av)
			}
			if err != nil {
				b.Fatal(err)
			}
			export[f] = append(export[f], av)
		}
	}
	dir := filepath.Join(b.TempDir(), "export")
	testrig.WriteExportFolder(b, dir, table, export)
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "decrypted")
			args := []string{"export-decrypt", "-table", table, "-partition-key", "id", "-encrypted", "token,card,notes",
				"-key", testrig.KeyA, "-in", dir, "-out", out, "-workers", fmt.Sprint(workers)}
			cpu0 := testrig.CPUTime()
			for b.Loop() {
				var stderr bytes.Buffer
				if code := run(ctx, args, streams{nil, io.Discard, &stderr}); code != exitOK {
					b.Fatalf("exit code %d:\n%s", code, stderr.String())
				}
			}
			n := float64(files * perFile * b.N)
			b.ReportMetric(n/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/item")
			b.ReportMetric(float64((testrig.CPUTime()-cpu0).Nanoseconds())/n, "cpu-ns/item")
		})
	}
}
