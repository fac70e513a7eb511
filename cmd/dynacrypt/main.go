// Command dynacrypt is the operator's tool for tables that dynacrypt
// encrypts and for their key stores. It works on any such table, without
// the service's Go types, given the table's encrypted attributes by name.
//
// Install it with
//
//	go install github.com/dynacrypt/dynacrypt/cmd/dynacrypt@latest
//
// Key stores (package keystore): make the table once, then branch keys,
// rotate them, list their versions, and delete them (crypto-shredding: the
// items under a deleted branch key never read again, backups included):
//
//	dynacrypt keystore create-table -keystore branch-keys
//	dynacrypt keystore create -keystore branch-keys -keystore-key alias/branch-keys -branch-key users-fleet
//	dynacrypt keystore rotate -keystore branch-keys -keystore-key alias/branch-keys -branch-key users-fleet
//	dynacrypt keystore list -keystore branch-keys -branch-key users-fleet
//	dynacrypt keystore delete -keystore branch-keys -branch-key tenant-42   # asks first, unless -yes
//
// Re-encryption of a whole table, after a rotation (of a branch key, or to
// a new KMS key with the old one in -previous-keys). The table's keys come
// from DescribeTable; the walk scans in parallel segments, rewrites each
// item with a conditional write (a concurrent change is read again, never
// overwritten), shows its progress and saves a checkpoint file as it goes
// (every quarter second): interrupt it (Ctrl-C) and run the same command
// again to resume. The file records the table (its ARN and id) and the
// walk's flags, and a walk of another table or with other flags (another
// key, other -encrypted, -version, -tenant, -all, ...) refuses it.
// By default it rewrites the items under an old key only; -all rewrites
// every item, for a suspected compromise of root keys. Every rewritten item
// gets a root key this run made, a fresh salt and fresh ciphertexts.
//
//	dynacrypt reencrypt -table users -encrypted token -version version \
//		-keystore branch-keys -keystore-key alias/branch-keys -branch-key users-fleet
//	dynacrypt reencrypt -table users -encrypted token -key alias/users-2026 -previous-keys alias/users-2025
//	dynacrypt reencrypt -table users -encrypted token -previous-keys alias/users \
//		-keystore branch-keys -keystore-key alias/branch-keys -branch-key users-fleet   # from KMSCipher to a key store
//	dynacrypt reencrypt -table documents -encrypted body -tenant tenant \
//		-keystore branch-keys -keystore-key alias/branch-keys   # each tenant under its own branch key
//
// A walk spread over several processes (on several machines: an array of
// batch jobs, container tasks) gives each a share of the Scan's segments,
// the same -segments in all, each share its own checkpoint file, kept once
// the share is done; reencrypt-status reads them all and says whether the
// walk is done (exit code 0), or which segments are not (exit code 1):
//
//	dynacrypt reencrypt -table users -encrypted token -key alias/users-2026 -previous-keys alias/users-2025 \
//		-segments 64 -segment 8-15 -checkpoint /mnt/walk/users.8-15.checkpoint
//	dynacrypt reencrypt-status '/mnt/walk/users.*.checkpoint'
//
// Where standard error is not a terminal (a log, CI), progress is printed
// as plain lines, one every 10 seconds, rather than redrawn in place.
//
// Tables in AWS DB-ESDK's item format (services in Java, .NET, Python or
// Rust share them): the -dbesdk-* flags name one of its keyrings, as the
// other services configure it, with which both commands read items of
// either format: raw AES (a file with the key's base64, the key's namespace
// and name), AWS KMS (-dbesdk-kms-key, a key ARN), or hierarchical over a
// DB-ESDK key store (-dbesdk-keystore, -dbesdk-keystore-key and
// -dbesdk-branch-key; for a table of tenants, -tenant and
// -dbesdk-branch-key-prefix instead of -dbesdk-branch-key). reencrypt -to
// dbesdk moves a table to DB-ESDK's format, and -to dynacrypt back:
//
//	dynacrypt reencrypt -table users -encrypted token -version version -key alias/users -to dbesdk \
//		-dbesdk-raw-aes-key-file users.key -dbesdk-key-namespace users -dbesdk-key-name users-2026
//	dynacrypt reencrypt -table documents -encrypted body -tenant tenant -key alias/documents -to dbesdk \
//		-dbesdk-keystore dbesdk-branch-keys -dbesdk-keystore-key arn:aws:kms:eu-west-1:111122223333:key/... \
//		-dbesdk-branch-key-prefix tenant-
//
// dynacrypt dbesdk-keystore administers a DB-ESDK key store with the same
// flags: create-table, create (a branch key, under a new UUID unless
// -dbesdk-branch-key names it), rotate and list. DB-ESDK services use the
// branch keys it makes. A walk to DB-ESDK's format rewrites items in
// dynacrypt's format or in another suite only: after a rotation of a
// DB-ESDK branch key, reencrypt -to dbesdk -all moves every item to the
// new version. Two DB-ESDK keyrings, or a companion flag without its
// keyring, is bad usage (exit code 2, saying which).
//
// Encrypting a table that holds plaintext items (or legacy per-field KMS
// items), with its services running (docs/operations.md, "Encrypting an
// existing table"): once nothing writes such items any more, snapshot them
// into a signed manifest; walk the table with it, which encrypts the items
// it lists, unchanged, and appends their keys to TABLE.promoted; then check
// that every item reads in strict mode:
//
//	dynacrypt snapshot -table users -encrypted token -key alias/users -manifest users.manifest
//	dynacrypt reencrypt -table users -encrypted token -version version -key alias/users \
//		-manifest users.manifest -plaintext -attributes username
//	dynacrypt verify -table users -encrypted token -key alias/users
//
// (-legacy-key KMS-KEY instead of -plaintext for items of the legacy
// per-field KMS format.)
//
// Exports: decrypt a table export into JSON lines, verifying every item,
// one data file, or a whole export's folder as copied from S3 (its
// manifests and data files) into a folder of one JSON lines file per data
// file, -workers data files at once, each checked against the manifests'
// item count and MD5 digest:
//
//	dynacrypt export-decrypt -table users -key alias/users -partition-key id -encrypted token < export.json.gz > users.jsonl
//	dynacrypt export-decrypt -table users -key alias/users -partition-key id -encrypted token \
//		-in exports/AWSDynamoDB/01234567890123-a1b2c3d4 -out users-decrypted
//
// A table's root keys are wrapped either by a KMS key (-key) or by a
// branch key of a key store (-keystore, -keystore-key, -branch-key); the
// flags naming a key store are the same in every command. Run
// `dynacrypt COMMAND -h` for a command's flags. It reaches AWS (or the
// endpoints named by AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS)
// with the SDK's default configuration.
//
// Exit codes: 0 success, and after -h; 1 the command ran but some items
// failed (their keys are reported on standard error), or some data files of
// an export did not match its manifests (their names are reported); 2 bad
// usage (a flag unknown, missing or contradicting another); 3 any other
// failure, including an interrupted walk, a failed request, an export whose
// manifests were refused, and a delete not confirmed.
//
// An interrupt (Ctrl-C) or SIGTERM stops a command cleanly; a second one
// ends it at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitItems   = 1 // some items failed
	exitUsage   = 2
	exitFailure = 3
)

// command is a subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, io streams) int
}

// streams are a command's standard streams, replaced in tests.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// commands are the top-level commands; keystore has commands of its own
// (keystoreCommands).
var commands = map[string]command{
	"dbesdk-keystore": {"make, rotate and list the branch keys of a DB-ESDK key store: dynacrypt dbesdk-keystore -h", dbesdkKeystoreCommand},

	"export-decrypt":   {"decrypt a table export (DynamoDB JSON, plain or gzip; or a whole export's folder) into JSON lines", exportDecrypt},
	"keystore":         {"make, rotate, list and delete branch keys: dynacrypt keystore -h", keystoreCommand},
	"reencrypt":        {"rewrite a table's items under fresh root keys and the current key, resumably, or a share of its segments (-segment); with -manifest, encrypt its plaintext or legacy items", reencrypt},
	"reencrypt-status": {"report what the checkpoint files of a walk's shares say: segments done, items counted, shares missing", reencryptStatus},
	"snapshot":         {"write a signed manifest of a table's items without a header (plaintext or legacy), for a migration", snapshot},
	"verify":           {"read every item of a table strictly, and report any without a header or failing verification", verify},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	code := run(ctx, os.Args[1:], streams{os.Stdin, os.Stdout, os.Stderr})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, io streams) int {
	return dispatch(ctx, "dynacrypt", commands, args, io)
}

// dispatch runs the command args[0] of set, named prefix + " " + args[0].
func dispatch(ctx context.Context, prefix string, set map[string]command, args []string, io streams) int {
	if len(args) == 0 {
		usage(io.err, prefix, set)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(io.err, prefix, set)
		return exitOK
	}
	c, ok := set[args[0]]
	if !ok {
		fmt.Fprintf(io.err, "%s: unknown command %q\n", prefix, args[0])
		usage(io.err, prefix, set)
		return exitUsage
	}
	return c.run(ctx, args[1:], io)
}

func usage(w io.Writer, prefix string, set map[string]command) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags]   (%s COMMAND -h for its flags)\n", prefix, prefix)
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-16s %s\n", name, set[name].summary)
	}
	fmt.Fprintln(w, "\nexit codes: 0 success (and -h), 1 some items (or data files of an export) failed, 2 bad usage, 3 other failure")
}

// newFlagSet returns the flag set of a command, printing to std.err a usage
// line, what the command does, and its flags.
func newFlagSet(name, synopsis, about string, std streams) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintf(std.err, "usage: dynacrypt %s %s\n\n%s\n\nflags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a command's flags. When the command must stop there it
// returns false and the exit code: 0 after -h (the usage was printed),
// 2 after a flag error or arguments left over.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	case err != nil:
		return exitUsage, false // the flag package printed the error and the usage
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return exitUsage, false
	}
	return exitOK, true
}

// fail reports a command's error: for errUsage (exit code 2) the usage
// and then, if a usageError says it, what is wrong with the flags, last,
// where the operator reads first; the error itself otherwise (exit code 3).
func fail(fs *flag.FlagSet, std streams, err error) int {
	if errors.Is(err, errUsage) {
		fs.Usage()
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(std.err, "\ndynacrypt %s: %s\n", fs.Name(), u.reason)
		}
		return exitUsage
	}
	fmt.Fprintln(std.err, "dynacrypt:", err)
	return exitFailure
}

// list splits a comma-separated flag value, dropping empty parts.
func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
