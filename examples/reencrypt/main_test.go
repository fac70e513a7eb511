package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestMain runs the command itself when a test starts this binary with
// runMainEnv set, so that a test can kill a real walk process.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "" {
		os.Exit(m.Run())
	}
	if at, _ := strconv.ParseInt(os.Getenv(hangAtEnv), 10, 64); at > 0 {
		checkpointSaved = func(p dynacrypt.ReencryptProgress) {
			if p.Scanned >= at {
				fmt.Fprintln(os.Stderr, "\n"+hangingMarker)
				time.Sleep(time.Hour) // until killed
			}
		}
	}
	main()
	os.Exit(0)
}

const (
	runMainEnv    = "REENCRYPT_TEST_RUN_MAIN"
	hangAtEnv     = "REENCRYPT_TEST_HANG_AT" // hang once this many items are scanned
	hangingMarker = "hanging until killed"
)

// writeArticleUsers writes n users the article's way, 8 at a time.
func writeArticleUsers(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	ddb := testrig.DynamoDB(t)
	k, _ := testrig.KMS(t)
	table := dynacrypttest.NewTable(t, ddb, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	ids := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				if err := testrig.ArticleUserPut(ctx, ddb, k, table, testrig.KeyA, fmt.Sprint("u", i), "user", fmt.Sprint("token-", i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return table
}

// checkMigrated reads every user without the legacy option: each must be in
// the new format, rewritten exactly once, its token intact.
func checkMigrated(t *testing.T, table string, n int) {
	t.Helper()
	ctx := context.Background()
	k, _ := testrig.KMS(t)
	users, err := dynacrypt.New[User](testrig.DynamoDB(t), table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(k, testrig.KeyA)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		u, err := users.Get(ctx, User{ID: fmt.Sprint("u", i)}, dynacrypt.ConsistentRead())
		if err != nil || u.Token != fmt.Sprint("token-", i) || u.Version != 1 {
			t.Fatalf("u%d after the walk: %+v, %v", i, u, err)
		}
	}
}

// TestKilledWalkResumes kills the command's process (SIGKILL, no chance to
// clean up) halfway through a migration, then runs it again: the second run
// resumes from the checkpoint file and finishes the job.
func TestKilledWalkResumes(t *testing.T) {
	const n = 1000
	table := writeArticleUsers(t, n)
	dir := t.TempDir()
	checkpoint, manifest := filepath.Join(dir, "checkpoint"), filepath.Join(dir, "manifest")
	if err := run(context.Background(), job{table: table, key: testrig.KeyA, snapshotFile: manifest}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	command := func(env ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0], "-table", table, "-key", testrig.KeyA,
			"-legacy-key", testrig.KeyA, "-legacy-manifest", manifest, "-checkpoint", checkpoint,
			"-promoted", filepath.Join(dir, "promoted"))
		cmd.Env = append(os.Environ(), append(env, runMainEnv+"=1")...)
		return cmd
	}

	first := command(hangAtEnv + "=" + strconv.Itoa(n/2))
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	for sc := bufio.NewScanner(stderr); sc.Scan() && !strings.Contains(sc.Text(), hangingMarker); {
		seen.WriteString(sc.Text() + "\n")
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil || first.ProcessState.Success() {
		t.Fatalf("first run was not killed halfway: %v\n%s", err, seen.String())
	}
	if _, err := os.Stat(checkpoint); err != nil {
		t.Fatalf("no checkpoint after the kill: %v", err)
	}

	out, err := command().CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) items scanned.*`).FindSubmatch(out)
	if !strings.Contains(string(out), "resuming from") || m == nil {
		t.Fatalf("second run did not resume:\n%s", out)
	}
	if scanned, _ := strconv.Atoi(string(m[1])); scanned >= n {
		t.Errorf("second run scanned %d items, want fewer than %d: it started over", scanned, n)
	}
	t.Logf("second run: %s", m[0])
	if _, err := os.Stat(checkpoint); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a complete walk: %v", err)
	}
	checkMigrated(t, table, n)
	// A write in flight when the process died may miss its line: at most
	// one per segment.
	checkPromoted(t, filepath.Join(dir, "promoted"), n-4, n)
}

// checkPromoted checks the promoted log lists users once each, over all
// runs, and between min and max of them.
func checkPromoted(t *testing.T, file string, min, max int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range strings.Fields(string(b)) {
		seen[id]++
	}
	if len(seen) < min || len(seen) > max {
		t.Errorf("promoted log lists %d users, want %d to %d", len(seen), min, max)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s promoted %d times", id, c)
		}
	}
}

// TestMigrateArticleTable writes users the article's way, runs the command's
// walk, and reads them all without the legacy option.
func TestMigrateArticleTable(t *testing.T) {
	const n = 250
	table := writeArticleUsers(t, n)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest")
	checkpoint := filepath.Join(dir, "checkpoint")
	walk := job{table: table, key: testrig.KeyA, legacyKey: testrig.KeyA, manifestFile: manifest, segments: 3,
		checkpointFile: checkpoint, promotedFile: filepath.Join(dir, "promoted")}
	if err := run(context.Background(), walk); err == nil {
		t.Fatal("a walk without a manifest file ran")
	}
	if err := run(context.Background(), job{table: table, key: testrig.KeyA, snapshotFile: manifest}); err != nil {
		t.Fatal(err)
	}
	check := job{table: table, key: testrig.KeyA, verify: true, segments: 2}
	if err := run(context.Background(), check); err == nil || !strings.Contains(err.Error(), "header") {
		t.Fatalf("verify before the walk: %v, want a failure on a legacy item", err)
	}
	if err := run(context.Background(), walk); err != nil {
		t.Fatal(err)
	}
	checkPromoted(t, walk.promotedFile, n, n)
	if err := run(context.Background(), check); err != nil {
		t.Fatalf("verify after the walk: %v", err)
	}
	if _, err := os.Stat(checkpoint); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a complete walk: %v", err)
	}
	checkMigrated(t, table, n)
}
