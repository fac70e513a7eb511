// Command dynacrypt is the operator's tool for tables that dynacrypt
// encrypts: it works on any such table, without the service's Go types,
// given the table's keys and encrypted attributes by name.
//
//	dynacrypt export-decrypt -table users -key alias/users -partition-key id -encrypted token < export.json.gz > users.jsonl
//
// Run `dynacrypt COMMAND -h` for a command's flags. It reaches AWS (or the
// endpoints named by AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_KMS) with
// the SDK's default configuration.
//
// Exit codes: 0 success; 1 the command ran but some items failed (their keys
// are reported on standard error); 2 bad usage; 3 any other failure.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
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

var commands = map[string]command{
	"export-decrypt": {"decrypt a table export (DynamoDB JSON, plain or gzip) into JSON lines", exportDecrypt},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], streams{os.Stdin, os.Stdout, os.Stderr})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, io streams) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		usage(io.err)
		return exitUsage
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(io.err, "dynacrypt: unknown command %q\n", args[0])
		usage(io.err)
		return exitUsage
	}
	return c.run(ctx, args[1:], io)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dynacrypt COMMAND [flags]   (dynacrypt COMMAND -h for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-16s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nexit codes: 0 success, 1 some items failed, 2 bad usage, 3 other failure")
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
