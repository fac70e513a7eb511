// Command reencrypt rewrites the article's users table in dynacrypt's
// current format: users written by the article's code (raw KMS blobs, with
// -legacy-key) and users whose root key is wrapped under a previous KMS key
// (after a rotation, with -previous-keys). It shows a progress bar, saves a
// checkpoint after every page, resumes from it when run again, and never
// overwrites a concurrent change.
//
//	reencrypt -table users -key alias/users-2026 -previous-keys alias/users-2025
//	reencrypt -table users -key alias/users -legacy-key alias/users
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// User is the article's user record.
type User struct {
	ID       string `dynamodbav:"id"`
	Username string `dynamodbav:"username"`
	Token    string `dynamodbav:"token" encrypt:"kms"`
	Version  int64  `dynamodbav:"version"`
}

func main() {
	table := flag.String("table", "", "table to re-encrypt (required)")
	key := flag.String("key", "", "KMS key to wrap root keys with from now on (required)")
	previous := flag.String("previous-keys", "", "comma-separated KMS keys items may still be wrapped under")
	legacyKey := flag.String("legacy-key", "", "KMS key of items written the article's way, to migrate them")
	segments := flag.Int("segments", 4, "parallel scan segments")
	checkpointFile := flag.String("checkpoint", "", "checkpoint file (default: TABLE.reencrypt-checkpoint); removed when the walk completes")
	flag.Parse()
	if *table == "" || *key == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *checkpointFile == "" {
		*checkpointFile = *table + ".reencrypt-checkpoint"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *table, *key, *previous, *legacyKey, *segments, *checkpointFile); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, table, key, previous, legacyKey string, segments int, checkpointFile string) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	ddb, kmsClient := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	cipher := dynacrypt.NewKMSCipher(kmsClient, key)
	if previous != "" {
		cipher = cipher.WithPreviousKeys(strings.Split(previous, ",")...)
	}
	opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(cipher)}
	if legacyKey != "" {
		opts = append(opts, dynacrypt.WithLegacyKMS(kmsClient, legacyKey))
	}
	users, err := dynacrypt.New[User](ddb, table, opts...)
	if err != nil {
		return err
	}

	var total int64 // DynamoDB's estimate, for the bar
	if out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table}); err == nil && out.Table.ItemCount != nil {
		total = *out.Table.ItemCount
	}
	checkpoint := ""
	if b, err := os.ReadFile(checkpointFile); err == nil {
		checkpoint = strings.TrimSpace(string(b))
		fmt.Fprintf(os.Stderr, "resuming from %s\n", checkpointFile)
	}
	start := time.Now()
	var last dynacrypt.ReencryptProgress
	progress, err := users.Reencrypt(ctx, dynacrypt.ReencryptOptions{
		Segments:   segments,
		Checkpoint: checkpoint,
		Progress: func(p dynacrypt.ReencryptProgress) {
			last = p
			if p.Checkpoint != "" {
				if err := saveCheckpoint(checkpointFile, p.Checkpoint); err != nil {
					log.Printf("saving the checkpoint: %v", err)
				}
			}
			fmt.Fprintf(os.Stderr, "\r%s", bar(p, total))
			if checkpointSaved != nil {
				checkpointSaved(p)
			}
		},
	})
	fmt.Fprintln(os.Stderr)
	if errors.Is(err, context.Canceled) {
		fmt.Printf("interrupted after %d items: run the same command again to resume from %s\n", last.Scanned, checkpointFile)
		return nil
	}
	fmt.Printf("%d items scanned in %s: %d rewritten, %d already current, %d failed\n",
		progress.Scanned, time.Since(start).Round(time.Millisecond), progress.Rewritten, progress.Skipped, progress.Failed)
	if err != nil {
		return err
	}
	return os.Remove(checkpointFile)
}

// checkpointSaved, if set, is called after each progress report and its
// checkpoint. Tests use it to stop the walk at a known point and kill the
// process there.
var checkpointSaved func(dynacrypt.ReencryptProgress)

// saveCheckpoint replaces the checkpoint file atomically: a process killed
// while saving leaves the previous checkpoint, never half of one.
func saveCheckpoint(file, checkpoint string) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.WriteString(checkpoint); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// bar draws a progress line. total is an estimate and may be 0 (unknown).
func bar(p dynacrypt.ReencryptProgress, total int64) string {
	const width = 30
	counts := fmt.Sprintf("%d scanned, %d rewritten, %d skipped, %d failed", p.Scanned, p.Rewritten, p.Skipped, p.Failed)
	if total <= 0 {
		return counts
	}
	done := int(min(p.Scanned, total) * width / total)
	return fmt.Sprintf("[%s%s] of about %d: %s", strings.Repeat("#", done), strings.Repeat(".", width-done), total, counts)
}
