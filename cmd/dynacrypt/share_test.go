package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/internal/walkcheckpoint"
)

// TestSegmentFlagValidated: a -segment that is not a range of -segments'
// segments, and a -segments DynamoDB does not scan in, exit 2 with the
// usage and a message that says what is wrong, before any request (no
// server is needed).
func TestSegmentFlagValidated(t *testing.T) {
	walk := []string{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k"}
	for _, c := range []struct {
		flags []string
		says  string
	}{
		{[]string{"-segments", "16", "-segment", "8-16"}, `-segment "8-16": -segments 16 numbers the segments 0 to 15`},
		{[]string{"-segments", "16", "-segment", "16"}, `-segment "16": -segments 16 numbers the segments 0 to 15`},
		{[]string{"-segments", "16", "-segment", "9-8"}, `-segment "9-8": the first segment comes after the last`},
		{[]string{"-segments", "16", "-segment", "-1-3"}, `-segment "-1-3": want FIRST-LAST, two segment numbers (0 to 15), or one`},
		{[]string{"-segments", "16", "-segment", "+3"}, `-segment "+3": want FIRST-LAST`},
		{[]string{"-segments", "16", "-segment", "3-"}, `-segment "3-": want FIRST-LAST`},
		{[]string{"-segments", "16", "-segment", "a-b"}, `-segment "a-b": want FIRST-LAST`},
		{[]string{"-segments", "16", "-segment", "0-3-7"}, `-segment "0-3-7": want FIRST-LAST`},
		{[]string{"-segments", "0"}, "-segments 0: DynamoDB scans a table in 1 to 1000000 segments"},
		{[]string{"-segments", "1000001", "-segment", "0-7"}, "-segments 1000001: DynamoDB scans a table in 1 to 1000000 segments"},
	} {
		o := runBinary(t, "", append(walk, c.flags...)...)
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		if o.code != exitUsage || !strings.Contains(o.stderr, "usage: dynacrypt reencrypt") || !strings.HasPrefix(lines[len(lines)-1], "dynacrypt reencrypt: "+c.says) {
			t.Errorf("reencrypt %s: want exit code 2, the usage, and last %q: %s", strings.Join(c.flags, " "), c.says, o)
		}
	}
	o := runBinary(t, "", "reencrypt-status")
	if o.code != exitUsage || !strings.Contains(o.stderr, "name the checkpoint files") {
		t.Errorf("reencrypt-status without files: want exit code 2 asking for them: %s", o)
	}
}

// statusTotals reads a walk's counts from reencrypt-status's last line.
var statusTotals = regexp.MustCompile(`(\d+) of (\d+) segments done: (\d+) items scanned, (\d+) rewritten, (\d+) already current, (\d+) failed; the walk is (not )?done`)

func statusCounts(t *testing.T, o outcome) (segmentsDone, scanned, rewritten, current, failed int) {
	t.Helper()
	n := numbers(t, statusTotals, o)
	return n[0], n[2], n[3], n[4], n[5]
}

// startBinary starts the command in dir; wait returns what it left.
func startBinary(t *testing.T, ctx context.Context, dir string, args ...string) (wait func() outcome) {
	t.Helper()
	cmd := binaryCommand(ctx, dir, "", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() outcome {
		cmd.Wait()
		return outcome{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	}
}

// TestWalkSharedByFourProcesses: four processes of the built command, each
// a quarter of 16 segments with its own checkpoint file, rotate a table of
// 10,000 accounts (1,000 with -short) from key A to key B between them.
// One is killed (SIGKILL) once it shows progress: reencrypt-status then
// says the walk is not done, and names its unfinished segments. Run
// again, it resumes from its file; reencrypt-status says the walk is
// done. Every account then reads under key B at version 2: rewritten
// once, none twice, none missed. A share run again from its finished file
// has nothing to do, and a second walk by four shares reads every item
// once between them and rewrites none.
func TestWalkSharedByFourProcesses(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	db, table, walk := keyATable(t, n)
	dir := t.TempDir()
	share := func(dir string, i int) []string {
		return append(walk[:len(walk):len(walk)], "-segments", "16", "-segment", fmt.Sprintf("%d-%d", 4*i, 4*i+3), "-page-size", "10",
			"-checkpoint", filepath.Join(dir, fmt.Sprintf("%s.%d.checkpoint", table, i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var waits []func() outcome
	for _, i := range []int{0, 2, 3} {
		waits = append(waits, startBinary(t, ctx, dir, share(dir, i)...))
	}
	killed := signalAtProgress(t, dir, share(dir, 1), os.Kill)
	for i, wait := range waits {
		wait().want(t, exitOK, fmt.Sprintf("share %d of 3 not killed", i+1))
	}
	if killed.code != -1 {
		t.Fatalf("share 1: want it killed midway, got %s", killed)
	}
	pattern := filepath.Join(dir, table+".*.checkpoint")
	o := runBinary(t, "", "reencrypt-status", pattern).want(t, exitItems, "reencrypt-status with share 1 killed")
	if done, _, _, _, _ := statusCounts(t, o); done >= 16 || !strings.Contains(o.stdout, "segments 4-7: ") || !strings.Contains(o.stdout, "unfinished: ") ||
		!strings.Contains(o.stdout, "the walk is not done") {
		t.Errorf("reencrypt-status with share 1 killed: want segments of 4-7 unfinished: %s", o)
	}

	resumed := runBinary(t, "", share(dir, 1)...).want(t, exitOK, "share 1 run again")
	if !strings.Contains(resumed.stderr, "resuming from ") || !strings.Contains(resumed.stdout, "segments 4-7 of 16, done: 2 runs so far") {
		t.Errorf("share 1 run again: want it resumed from its file, and done: %s", resumed)
	}
	o = runBinary(t, "", "reencrypt-status", pattern).want(t, exitOK, "reencrypt-status of the finished walk")
	done, scanned, rewritten, current, failed := statusCounts(t, o)
	// The items share 1 did after its last save before the kill, its
	// second run found done: counted as current.
	if done != 16 || failed != 0 || rewritten > n || rewritten+current < n || scanned != rewritten+current || !strings.Contains(o.stdout, "the walk is done") {
		t.Errorf("reencrypt-status of the finished walk: want 16 segments done and every item counted: %s", o)
	}
	t.Logf("reencrypt-status:\n%s", o.stdout)
	kmsClient, _ := testrig.KMS(t)
	checkAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyB)), n, 2)

	// As a batch system retries a task that finished: nothing to do.
	again := runBinary(t, "", share(dir, 0)...).want(t, exitOK, "share 0 run again")
	if scanned, _, _, _ := counts(t, again); scanned != 0 || !strings.Contains(again.stdout, "segments 0-3 of 16, done") {
		t.Errorf("share 0 run again from its finished file: want nothing scanned: %s", again)
	}

	// The second walk, with files of its own: nothing left to rewrite.
	second := t.TempDir()
	waits = waits[:0]
	for i := range 4 {
		waits = append(waits, startBinary(t, ctx, second, share(second, i)...))
	}
	var secondScanned int
	for i, wait := range waits {
		o := wait().want(t, exitOK, fmt.Sprintf("share %d of the second walk", i))
		scanned, rewritten, _, _ := counts(t, o)
		if rewritten != 0 {
			t.Errorf("share %d of the second walk rewrote %d items, want none: %s", i, rewritten, o)
		}
		secondScanned += scanned
	}
	o = runBinary(t, "", "reencrypt-status", filepath.Join(second, "*")).want(t, exitOK, "reencrypt-status of the second walk")
	if done, scanned, rewritten, current, _ := statusCounts(t, o); done != 16 || secondScanned != n || scanned != n || rewritten != 0 || current != n {
		t.Errorf("the second walk's shares scanned %d items between them: want each of %d once, none rewritten: %s", secondScanned, n, o)
	}
}

// TestShareCheckpointOfAnotherShareRefused: a share's checkpoint file
// resumes that share only. Another share, the same share of another
// -segments, or a walk of every segment refuses it (exit code 3, the file
// kept): resumed there, it would mark segments done that no walk read. A
// file edited to say another share than its checkpoint is refused by the
// walk and by reencrypt-status; one edited, checkpoint and all, to claim
// another share leaves its own share without a file, which
// reencrypt-status reports as not done.
func TestShareCheckpointOfAnotherShareRefused(t *testing.T) {
	const n = 100
	_, table, walk := keyATable(t, n)
	dir := t.TempDir()
	file := func(i int) string { return filepath.Join(dir, fmt.Sprintf("share-%d", i)) }
	run := func(segments, segment, file string) outcome {
		args := append(walk[:len(walk):len(walk)], "-segments", segments, "-checkpoint", file)
		if segment != "" {
			args = append(args, "-segment", segment)
		}
		return runBinary(t, "", args...)
	}
	run("16", "0-3", file(0)).want(t, exitOK, "share 0-3")
	run("16", "4-7", file(1)).want(t, exitOK, "share 4-7")
	saved, err := os.ReadFile(file(1))
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ segments, segment, says string }{
		{"16", "8-11", "segments 4-7 of 16, not of " + table + " with -all=false, segments 8-11 of 16"},
		{"32", "4-7", "segments 4-7 of 16, not of " + table + " with -all=false, segments 4-7 of 32"},
		{"16", "", "segments 4-7 of 16, not of " + table + " with -all=false, segments 0-15 of 16"},
	} {
		o := run(c.segments, c.segment, file(1))
		if o.code != exitFailure || !strings.Contains(o.stderr, c.says) || !fileExists(file(1)) {
			t.Errorf("-segments %s -segment %q from share 4-7's file: want exit code 3 saying %q, the file kept: %s", c.segments, c.segment, c.says, o)
		}
	}

	// The file says 8-11; its checkpoint, 4-7.
	var edited checkpointFile
	if err := json.Unmarshal(saved, &edited); err != nil {
		t.Fatal(err)
	}
	edited.Share = "8-11"
	forged := filepath.Join(t.TempDir(), "share-2")
	if err := edited.save(forged); err != nil {
		t.Fatal(err)
	}
	o := run("16", "8-11", forged)
	if o.code != exitFailure || !strings.Contains(o.stderr, "checkpoint is of segments 4 to 7 of 16, this walk is of segments 8 to 11 of 16") {
		t.Errorf("share 8-11 from a file edited to say 8-11: want exit code 3, the checkpoint's share named: %s", o)
	}
	o = runBinary(t, "", "reencrypt-status", file(0), forged)
	if o.code != exitFailure || !strings.Contains(o.stderr, "says segments 8-11 of 16, but the checkpoint in it is of segments 4-7 of 16") {
		t.Errorf("reencrypt-status of a file edited to say another share: want exit code 3 naming both: %s", o)
	}

	// The file and its checkpoint edited to claim 8-11, done: 4-7 and
	// 12-15 have no file.
	st, err := walkcheckpoint.Decode(edited.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	st.First = 8
	edited.Checkpoint = st.Encode()
	if err := edited.save(forged); err != nil {
		t.Fatal(err)
	}
	o = runBinary(t, "", "reencrypt-status", file(0), forged).want(t, exitItems, "reencrypt-status with share 4-7's file claiming 8-11")
	if !strings.Contains(o.stdout, "segments 4-7, 12-15: no checkpoint file") || !strings.Contains(o.stdout, "8 of 16 segments done") {
		t.Errorf("reencrypt-status with share 4-7's file claiming 8-11: want 4-7 and 12-15 reported without a file: %s", o)
	}

	// Files of two walks are not summed.
	run("8", "0-3", file(3)).want(t, exitOK, "share 0-3 of another walk")
	o = runBinary(t, "", "reencrypt-status", file(0), file(3))
	if o.code != exitFailure || !strings.Contains(o.stderr, "is from another walk than") {
		t.Errorf("reencrypt-status of two walks' files: want exit code 3: %s", o)
	}
}

// TestShareOfATenantsQueryRefused: a walk of one tenant that Queries its
// partition has no segments, and refuses -segment with a message that
// says so.
func TestShareOfATenantsQueryRefused(t *testing.T) {
	_, table, walk := keyATable(t, 1)
	o := runBinary(t, "", append(walk, "-tenant", "tenant", "-only-tenant", "t1", "-segments", "16", "-segment", "0-3",
		"-checkpoint", filepath.Join(t.TempDir(), table))...)
	if o.code != exitFailure || !strings.Contains(o.stderr, "a Query has no segments") {
		t.Errorf("-only-tenant of the partition key with -segment: want exit code 3 saying a Query has no segments: %s", o)
	}
}
