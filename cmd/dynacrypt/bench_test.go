package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// walkItem is an item of the walk benchmark's table: a key of its own per
// item, so that DynamoDB's segments divide the table evenly.
type walkItem struct {
	ID      string `dynamodbav:"id"`
	Secret  string `dynamodbav:"secret" encrypt:"kms"`
	PIN     int    `dynamodbav:"pin" encrypt:"kms"`
	Note    string `dynamodbav:"note"`
	Version int64  `dynamodbav:"version"`
}

// BenchmarkWalkProcesses walks a table of 5,000 items with the built
// command and -all, after a walk that rewrites nothing, (every item verified, decrypted, re-encrypted and
// written on condition), in 16 segments: by one process, and by four,
// each a quarter of the segments, as four machines would. items/s is the
// table's items over the time from the first process's start to the last
// one's end. Against dynalite and local-kms (scripts/with-servers.sh).
func BenchmarkWalkProcesses(b *testing.B) {
	const n, segments = 5000, 16
	ctx := context.Background()
	db := testrig.DynamoDB(b)
	kmsClient, _ := testrig.KMS(b)
	table := dynacrypttest.NewTable(b, db, dynacrypttest.Table{PartitionKey: dynacrypttest.S("id")})
	store, err := dynacrypt.New[walkItem](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA)))
	if err != nil {
		b.Fatal(err)
	}
	items := make([]*walkItem, n)
	for i := range items {
		items[i] = &walkItem{ID: fmt.Sprintf("item-%05d", i), Secret: fmt.Sprint("secret-", i), PIN: i, Note: "note"}
	}
	if err := store.BatchPut(ctx, items, dynacrypt.Overwrite()); err != nil {
		b.Fatal(err)
	}
	walk := []string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-key", testrig.KeyA,
		"-segments", strconv.Itoa(segments)}
	// A walk that rewrites nothing first, so that the table just written
	// settles before either measured walk: the first would pay for it.
	if out, err := exec.Command(binary, append(walk, "-checkpoint", filepath.Join(b.TempDir(), "warm-up"))...).CombinedOutput(); err != nil {
		b.Fatalf("warm-up walk: %v\n%s", err, out)
	}
	walk = append(walk, "-all")
	for _, processes := range []int{1, 4} {
		b.Run(fmt.Sprintf("processes=%d", processes), func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				cmds := make([]*exec.Cmd, processes)
				outs := make([]bytes.Buffer, processes)
				for i := range cmds {
					args := append(walk[:len(walk):len(walk)], "-checkpoint", filepath.Join(dir, strconv.Itoa(i)))
					if processes > 1 {
						per := segments / processes
						args = append(args, "-segment", fmt.Sprintf("%d-%d", i*per, (i+1)*per-1))
					}
					cmds[i] = exec.Command(binary, args...)
					cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
					if err := cmds[i].Start(); err != nil {
						b.Fatal(err)
					}
				}
				rewritten := 0
				for i, cmd := range cmds {
					if err := cmd.Wait(); err != nil {
						b.Fatalf("process %d of %d: %v\n%s", i, processes, err, outs[i].String())
					}
					m := summary.FindStringSubmatch(outs[i].String())
					if m == nil {
						b.Fatalf("process %d of %d printed no summary:\n%s", i, processes, outs[i].String())
					}
					r, _ := strconv.Atoi(m[2])
					rewritten += r
				}
				if rewritten != n {
					b.Fatalf("%d processes rewrote %d items, want %d", processes, rewritten, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
