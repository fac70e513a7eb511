package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// binary is the command, built once by TestMain, that the tests run as an
// operator does: flags, standard streams, exit codes, signals.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dynacrypt-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "dynacrypt")
	// go test puts its own toolchain's bin first in PATH.
	build := exec.Command("go", "build", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the command: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fileExists reports whether path names a file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// outcome is what a run of the command left.
type outcome struct {
	code           int
	stdout, stderr string
}

func (o outcome) String() string {
	return fmt.Sprintf("exit code %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
}

// binaryCommand returns the command with args, in dir, its standard input stdin.
func binaryCommand(ctx context.Context, dir, stdin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

// runBinary runs the command to its end.
func runBinary(t *testing.T, stdin string, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := binaryCommand(ctx, t.TempDir(), stdin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("dynacrypt %s: %v", strings.Join(args, " "), err)
	}
	return outcome{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// want fails the test unless o has exit code code.
func (o outcome) want(t *testing.T, code int, what string) outcome {
	t.Helper()
	if o.code != code {
		t.Fatalf("%s: want exit code %d, got %s", what, code, o)
	}
	return o
}

// uniqueName returns a table name no other test uses.
func uniqueName(prefix string) string { return prefix + "-" + strings.ToLower(rand.Text()[:12]) }

// deleteTableAtEnd deletes a table the command created, when the test ends.
func deleteTableAtEnd(t *testing.T, db *dynamodb.Client, table string) {
	t.Cleanup(func() {
		if _, err := db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
			t.Logf("deleting table %s: %v", table, err)
		}
	})
}

// keyStoreFlags are the flags naming the test's key store.
func keyStoreFlags(table string) []string {
	return []string{"-keystore", table, "-keystore-key", testrig.KeyA}
}
