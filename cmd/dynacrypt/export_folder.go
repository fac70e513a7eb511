package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/export"
)

// isFolder reports whether path names a folder, as -in does for a whole
// export.
func isFolder(path string) bool {
	st, err := os.Stat(path)
	return path != "-" && err == nil && st.IsDir()
}

// decryptFolder decrypts the whole export in folder dir into folder out,
// one NAME.jsonl per data file NAME.json.gz, workers data files at once,
// and reports on std.err every line that fails (by file, line and key) and
// every file that does not match the manifest. The exit code is 0 if all
// went well, 1 if items failed or files did not match, 3 if the manifests
// were refused (nothing is decrypted then) or the output failed.
func decryptFolder(ctx context.Context, items *dynacrypt.Items, dir, out string, workers int, strict bool, std streams) int {
	folder, err := export.OpenFolder(dir)
	if err != nil {
		fmt.Fprintln(std.err, "dynacrypt:", printable(err.Error()))
		return exitFailure
	}
	outputs := map[string]string{} // output name -> data file
	for _, f := range folder.Files {
		name := outputName(f.Name())
		if other, dup := outputs[name]; dup {
			fmt.Fprintln(std.err, "dynacrypt:", printable(fmt.Sprintf("data files %s and %s would both decrypt into %s", other, f.Name(), name)))
			return exitFailure
		}
		outputs[name] = f.Name()
	}
	if err := os.MkdirAll(out, 0o700); err != nil { // plaintext: the operator's alone
		fmt.Fprintln(std.err, "dynacrypt:", err)
		return exitFailure
	}
	status := &statusLine{w: std.err}
	done := 0
	var written, failed int64
	counts := func() string {
		return fmt.Sprintf("%d of %d data files, %d items written, %d failed", done, len(folder.Files), written, failed)
	}
	report, err := export.DecryptFolder(ctx, folder, items, export.DecryptOptions{
		Workers: workers,
		Strict:  strict,
		Format:  appendJSONItem,
		Output: func(f *export.DataFile) (io.WriteCloser, error) {
			return os.OpenFile(filepath.Join(out, outputName(f.Name())), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		},
		Failed: func(f *export.ItemFailure) {
			where := fmt.Sprintf("%s: line %d", f.File, f.Line)
			if f.Key != nil {
				where += ", key " + keyText(f.Key)
			}
			status.println(printable(fmt.Sprintf("%s: %v", where, f.Err))) // file names, lines and keys are anyone's
		},
		FileDone: func(r *export.FileResult) {
			done++
			written += r.Written
			failed += r.Failed
			if r.Err != nil {
				status.println(printable(fmt.Sprintf("%s: %v", r.File.Name(), r.Err)))
			}
			status.draw(counts())
		},
	})
	status.draw(counts())
	status.end()
	if err != nil {
		fmt.Fprintln(std.err, "dynacrypt:", printable(err.Error()))
		return exitFailure
	}
	if report.Items != report.ItemCount {
		fmt.Fprintf(std.err, "dynacrypt: the export holds %d items, its summary says %d\n", report.Items, report.ItemCount)
	}
	if report.Err() != nil {
		return exitItems
	}
	return exitOK
}

// outputName is the name of the output of data file data/NAME.json.gz:
// NAME.jsonl.
func outputName(dataFile string) string {
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(dataFile), ".gz"), ".json")
	return name + ".jsonl"
}
