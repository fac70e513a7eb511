// Command reencrypt rewrites a users table in dynacrypt's current format:
// users written the legacy way (one raw KMS ciphertext blob per token) and
// users whose root key is wrapped under a previous KMS key (after a
// rotation). It shows a progress bar, saves a checkpoint after every page,
// resumes from it when run again, and never overwrites a concurrent change.
//
// Migrating legacy users takes two steps. First, while the table is trusted
// (before the migration starts), snapshot the legacy users:
//
//	reencrypt -table users -key alias/users -snapshot users.manifest
//
// The manifest lists each legacy user as stored and is signed with the KMS
// key. Then, with the service deployed with the same manifest (so it reads
// the legacy users), walk the table:
//
//	reencrypt -table users -key alias/users -legacy-key alias/users -legacy-manifest users.manifest
//
// Only users the manifest lists, unchanged, are migrated; any other user
// without a header (a forgery, or a change by code still on the legacy
// format) is refused and counted as failed. The ID of every migrated legacy
// user is appended to TABLE.promoted, to check against the manifest's source.
//
// When the walk is done and the legacy option removed from the service,
// check the table: every item must read, verified, without legacy mode:
//
//	reencrypt -table users -key alias/users -verify
//
// After a rotation to a new KMS key:
//
//	reencrypt -table users -key alias/users-2026 -previous-keys alias/users-2025
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/walkui"
)

// User is the service's user record.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

// job is what one run of the command does.
type job struct {
	table, key, previous string
	snapshotFile         string // if set: write a manifest of the legacy users there, and stop
	verify               bool   // if set: read every item, verified, and stop
	legacyKey            string
	manifestFile         string
	segments             int
	checkpointFile       string
	promotedFile         string
}

func main() {
	var j job
	flag.StringVar(&j.table, "table", "", "table to re-encrypt (required)")
	flag.StringVar(&j.key, "key", "", "KMS key to wrap root keys with from now on (required)")
	flag.StringVar(&j.previous, "previous-keys", "", "comma-separated KMS keys items may still be wrapped under")
	flag.StringVar(&j.snapshotFile, "snapshot", "", "write a signed manifest of the table's legacy users to this file, and do nothing else")
	flag.BoolVar(&j.verify, "verify", false, "read every item through a Store without legacy mode, and fail on the first that does not verify")
	flag.StringVar(&j.legacyKey, "legacy-key", "", "KMS key of the legacy users, to migrate them (needs -legacy-manifest)")
	flag.StringVar(&j.manifestFile, "legacy-manifest", "", "the manifest -snapshot wrote: only the legacy users it lists are migrated")
	flag.IntVar(&j.segments, "segments", 4, "parallel scan segments")
	flag.StringVar(&j.checkpointFile, "checkpoint", "", "checkpoint file (default: TABLE.reencrypt-checkpoint); removed when the walk completes")
	flag.StringVar(&j.promotedFile, "promoted", "", "file the IDs of migrated legacy users are appended to (default: TABLE.promoted)")
	flag.Parse()
	if j.table == "" || j.key == "" || (j.legacyKey == "") != (j.manifestFile == "") {
		flag.Usage()
		os.Exit(2)
	}
	if j.checkpointFile == "" {
		j.checkpointFile = j.table + ".reencrypt-checkpoint"
	}
	if j.promotedFile == "" {
		j.promotedFile = j.table + ".promoted"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, j); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, j job) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	ddb, kmsClient := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	cipher := dynacrypt.NewKMSCipher(kmsClient, j.key)
	if j.previous != "" {
		cipher = cipher.WithPreviousKeys(strings.Split(j.previous, ",")...)
	}
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}
	switch {
	case j.snapshotFile != "":
		return snapshot(ctx, ddb, j, opts)
	case j.verify:
		return verify(ctx, ddb, j, opts)
	}
	if j.legacyKey != "" {
		manifest, err := os.ReadFile(j.manifestFile)
		if err != nil {
			return err
		}
		// The walk runs now: legacy reading need not outlive it.
		opts = append(opts, dynacrypt.WithLegacyKMS(kmsClient, j.legacyKey,
			dynacrypt.LegacyManifest(manifest), dynacrypt.LegacyUntil(time.Now().Add(7*24*time.Hour))))
	}
	users, err := dynacrypt.New[User](ddb, j.table, opts...)
	if err != nil {
		return err
	}
	promoted, err := os.OpenFile(j.promotedFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer promoted.Close()
	var promotedMu sync.Mutex

	var total int64 // DynamoDB's estimate, for the bar
	if out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &j.table}); err == nil && out.Table.ItemCount != nil {
		total = *out.Table.ItemCount
	}
	checkpoint := ""
	if b, err := os.ReadFile(j.checkpointFile); err == nil {
		checkpoint = strings.TrimSpace(string(b))
		fmt.Fprintf(os.Stderr, "resuming from %s\n", j.checkpointFile)
	}
	start := time.Now()
	var last dynacrypt.ReencryptProgress
	progress, err := users.Reencrypt(ctx, dynacrypt.ReencryptOptions{
		Segments:   j.segments,
		Checkpoint: checkpoint,
		Promoted: func(key map[string]types.AttributeValue) {
			promotedMu.Lock()
			defer promotedMu.Unlock()
			fmt.Fprintln(promoted, key["id"].(*types.AttributeValueMemberS).Value)
		},
		Progress: func(p dynacrypt.ReencryptProgress) {
			last = p
			if p.Checkpoint != "" {
				if err := walkui.WriteFile(j.checkpointFile, []byte(p.Checkpoint)); err != nil {
					log.Printf("saving the checkpoint: %v", err)
				}
			}
			fmt.Fprintf(os.Stderr, "\r%s", walkui.Bar(p, total))
			if checkpointSaved != nil {
				checkpointSaved(p)
			}
		},
	})
	fmt.Fprintln(os.Stderr)
	if errors.Is(err, context.Canceled) {
		fmt.Printf("interrupted after %d items: run the same command again to resume from %s\n", last.Scanned, j.checkpointFile)
		return nil
	}
	fmt.Printf("%d items scanned in %s: %d rewritten (%d legacy users, listed in %s), %d already current, %d failed\n",
		progress.Scanned, time.Since(start).Round(time.Millisecond), progress.Rewritten, progress.Promoted, j.promotedFile,
		progress.Skipped, progress.Failed)
	if err != nil {
		return err
	}
	return os.Remove(j.checkpointFile)
}

// snapshot writes a manifest of the table's legacy users.
func snapshot(ctx context.Context, ddb *dynamodb.Client, j job, opts []dynacrypt.Option) error {
	users, err := dynacrypt.New[User](ddb, j.table, opts...)
	if err != nil {
		return err
	}
	manifest, n, err := users.LegacySnapshot(ctx)
	if err != nil {
		return err
	}
	if err := walkui.WriteFile(j.snapshotFile, manifest); err != nil {
		return err
	}
	fmt.Printf("%d legacy users listed in %s (%d bytes)\n", n, j.snapshotFile, len(manifest))
	return nil
}

// verify reads every item of the table without legacy mode: it succeeds
// only if no legacy item is left and every item verifies.
func verify(ctx context.Context, ddb *dynamodb.Client, j job, opts []dynacrypt.Option) error {
	users, err := dynacrypt.New[User](ddb, j.table, opts...)
	if err != nil {
		return err
	}
	n := 0
	for _, err := range users.Scan(ctx, dynacrypt.Parallel(max(j.segments, 1)), dynacrypt.ConsistentRead()) {
		if err != nil {
			return fmt.Errorf("after %d items: %w", n, err)
		}
		n++
	}
	fmt.Printf("%d items, every one in the current format and verified\n", n)
	return nil
}

// checkpointSaved, if set, is called after each progress report and its
// checkpoint. Tests use it to stop the walk at a known point and kill the
// process there.
var checkpointSaved func(dynacrypt.ReencryptProgress)
