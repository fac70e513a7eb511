package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/export"
)

// progressEvery is how often export-decrypt reports its progress.
const progressEvery = time.Second

// exportDecrypt reads a table export, verifies and decrypts every item, and
// writes them as JSON lines. An item that fails verification, or holds an
// encrypted attribute missing from -encrypted (Items.Open refuses it), is
// reported by its line and key on standard error and skipped; the exit code
// is then 1. Given a folder, it decrypts a whole export: see decryptFolder.
func exportDecrypt(ctx context.Context, args []string, std streams) int {
	fs := newFlagSet("export-decrypt", "-table TABLE -partition-key K -encrypted A,B (-key KMS-KEY | -keystore TABLE -keystore-key KMS-KEY -branch-key ID | DBESDK-KEYRING) [flags] (< export > items.jsonl | -in EXPORT-FOLDER -out FOLDER)\n\nDBESDK-KEYRING: "+dbesdkKeyringSynopsis,
		"Decrypts a DynamoDB table export (one {\"Item\": ...} per line, as the export to S3 writes it),\n"+
			"verifying every item, into JSON lines: strings, numbers (exact, in plain decimal: +1, 01 and 1E2\n"+
			"come out as 1, 1 and 100), base64 binaries, arrays and objects.\n"+
			"An item that fails verification, or holds an encrypted attribute missing from -encrypted, is\n"+
			"reported by its line and key (characters a terminal would act on escaped), and the exit code is 1.\n"+
			"A whole export: -in names its folder, AWSDynamoDB/EXPORT-ID as copied from S3 (manifest-summary.json,\n"+
			"manifest-files.json, data/*.json.gz), and -out the folder to write one NAME.jsonl per data file\n"+
			"NAME.json.gz into; -workers data files decrypt at once. Manifests that list a data file twice, one\n"+
			"outside the export's data folder or missing, or counts that do not add up are refused (exit code 3)\n"+
			"before anything is decrypted; a data file whose item count or MD5 digest is not its manifest's is\n"+
			"reported by name, a failed item by file, line and key (exit code 1).\n"+
			"A table of DB-ESDK's items only needs no -key or -keystore.\n"+dbesdkKeyringHelp, std)
	var (
		tf tableFlags
		kf keyFlags
		cf cipherFlags
		df dbesdkFlags
	)
	tf.register(fs)
	kf.register(fs)
	cf.register(fs)
	df.register(fs)
	in := fs.String("in", "-", "export file, DynamoDB JSON lines, plain or gzip, or a whole export's folder; - for standard input")
	out := fs.String("out", "-", "output file of JSON lines, - for standard output; for an export's folder, the folder to decrypt it into")
	strict := fs.Bool("strict", false, "stop at the first item (or data file) that fails")
	workers := fs.Int("workers", 4, "data files of an export's folder decrypted at once")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	folder := isFolder(*in)
	if tf.table == "" || kf.partitionKey == "" || tf.encrypted == "" || *workers < 1 || (folder && *out == "-") {
		return fail(fs, std, errUsage)
	}
	clients, cipher, err := cf.load(ctx, tf.tenant != "", df.set())
	if err != nil {
		return fail(fs, std, err)
	}
	var opts []dynacrypt.Option
	format, err := df.option(clients, tf.tenant, cipher != nil)
	if err != nil {
		return fail(fs, std, err)
	}
	if format != nil {
		opts = append(opts, format)
	}
	items, err := tf.items(kf, cipher, opts...)
	if err != nil {
		return fail(fs, std, err)
	}
	if folder {
		return decryptFolder(ctx, items, *in, *out, *workers, *strict, std)
	}
	r, w := std.in, std.out
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintln(std.err, "dynacrypt:", err)
			return exitFailure
		}
		defer f.Close()
		r = f
	}
	var outFile *os.File
	if *out != "-" {
		if outFile, err = os.Create(*out); err != nil {
			fmt.Fprintln(std.err, "dynacrypt:", err)
			return exitFailure
		}
		w = outFile
	}
	bw := bufio.NewWriter(w)
	failed, err := decryptLines(ctx, items, r, bw, std.err, *strict)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if outFile != nil {
		if cerr := outFile.Close(); err == nil {
			err = cerr
		}
	}
	switch {
	case err != nil:
		fmt.Fprintln(std.err, "dynacrypt:", err)
		return exitFailure
	case failed > 0:
		return exitItems
	}
	return exitOK
}

// opener verifies and decrypts one item; *dynacrypt.Items is one.
type opener interface {
	Open(ctx context.Context, av map[string]types.AttributeValue, opts ...dynacrypt.ReadOption) (map[string]types.AttributeValue, error)
	Key(av map[string]types.AttributeValue) map[string]types.AttributeValue
}

// decryptLines decrypts every item of an export from r to w, reporting
// failures, progress and the final counts on log, and returns how many
// failed.
func decryptLines(ctx context.Context, items opener, r io.Reader, w io.Writer, log io.Writer, strict bool) (failed int, err error) {
	written := 0
	status := newStatusLine(log)
	counts := func() string { return fmt.Sprintf("%d items written, %d failed", written, failed) }
	defer func() { status.draw(counts()); status.end() }()
	last := time.Now()
	var buf []byte
	for line, lerr := range export.Items(r) {
		if ctx.Err() != nil {
			return failed, ctx.Err()
		}
		if lerr != nil && line.Number == 0 { // the file did not read: no line to skip
			return failed, lerr
		}
		if lerr == nil {
			if buf, lerr = openLine(ctx, items, line, buf[:0]); lerr == nil {
				if _, err := w.Write(buf); err != nil {
					return failed, err
				}
				written++
			}
		}
		if lerr != nil {
			failed++
			status.println(printable(lerr.Error())) // the key and the line are anyone's
			if strict {
				return failed, nil
			}
		}
		if time.Since(last) >= progressEvery {
			status.draw(counts())
			last = time.Now()
		}
	}
	return failed, nil
}

// openLine verifies and decrypts the item of an export line and appends it
// to buf as a JSON line; its error names the line and the item's key.
func openLine(ctx context.Context, items opener, line export.Line, buf []byte) ([]byte, error) {
	item, err := items.Open(ctx, line.Item)
	if err == nil {
		buf, err = appendJSONItem(buf, item)
	}
	if err != nil {
		return buf, fmt.Errorf("line %d, key %s: %w", line.Number, keyText(items.Key(line.Item)), err)
	}
	return buf, nil
}
