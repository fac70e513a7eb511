package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// verify reads every item of a table in strict mode, as a Store without
// WithPlaintextItems or WithLegacyKMS reads it, and reports each item that
// has no header or fails verification: the check that ends a migration.
func verify(ctx context.Context, args []string, std streams) int {
	fs := newFlagSet("verify", "-table TABLE -encrypted A,B (-key KMS-KEY | -keystore TABLE -keystore-key KMS-KEY -branch-key ID) [flags]",
		"Reads every item of the table, with a parallel Scan and consistent reads, and opens it as a\n"+
			"Store that reads no item without a header does: verified, and decrypted in memory (nothing is\n"+
			"written or shown). Each item left without a header (a plaintext or legacy item) and each\n"+
			"that fails (altered, under a key the flags do not name, an encrypted attribute left out of\n"+
			"-encrypted) is reported by key on standard error, with characters a terminal would act on\n"+
			"escaped. Exit code 0 if every item verified, 1 otherwise.", std)
	var (
		tf tableFlags
		cf cipherFlags
	)
	tf.register(fs)
	cf.register(fs)
	segments := fs.Int("segments", 4, "parallel Scan segments")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if tf.table == "" || tf.encrypted == "" || *segments < 1 {
		return fail(fs, std, errUsage)
	}
	clients, items, err := openTable(ctx, tf, cf)
	if err != nil {
		return fail(fs, std, err)
	}
	c := &checker{items: items, db: clients.dynamodb, table: tf.table, header: tf.header, status: newStatusLine(std.err)}
	start := time.Now()
	err = c.run(ctx, *segments)
	c.status.end()
	fmt.Fprintf(std.out, "%d items read in %s: %d verified, %d without a header, %d failing\n",
		c.read.Load(), time.Since(start).Round(time.Millisecond), c.verified.Load(), c.headerless.Load(), c.failing.Load())
	switch {
	case err != nil:
		fmt.Fprintln(std.err, "dynacrypt:", printable(err.Error()))
		return exitFailure
	case c.verified.Load() != c.read.Load():
		return exitItems
	}
	return exitOK
}

// checker is one run of verify.
type checker struct {
	items                               *dynacrypt.Items
	db                                  *dynamodb.Client
	table, header                       string
	status                              *statusLine
	read, verified, headerless, failing atomic.Int64
	mu                                  sync.Mutex
	last                                time.Time // of the last redraw
}

// run scans the table in segments, checking every item, and returns the
// first error that stopped a segment.
func (c *checker) run(ctx context.Context, segments int) error {
	errs := make([]error, segments)
	var wg sync.WaitGroup
	for seg := range segments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[seg] = c.segment(ctx, int32(seg), int32(segments))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *checker) segment(ctx context.Context, segment, total int32) error {
	in := &dynamodb.ScanInput{TableName: &c.table, Segment: &segment, TotalSegments: &total, ConsistentRead: aws.Bool(true)}
	for {
		out, err := c.db.Scan(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			c.check(ctx, item)
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// check opens one item and counts, and reports, what it is.
func (c *checker) check(ctx context.Context, item map[string]types.AttributeValue) {
	c.read.Add(1)
	_, hasHeader := item[c.header]
	_, err := c.items.Open(ctx, item)
	switch {
	case !hasHeader:
		c.headerless.Add(1)
		c.status.println(printable(fmt.Sprintf("key %s: no %s header: a plaintext or legacy item, not yet encrypted", keyText(c.items.Key(item)), c.header)))
	case err != nil:
		c.failing.Add(1)
		c.status.println(printable(fmt.Sprintf("key %s: %v", keyText(c.items.Key(item)), err)))
	default:
		c.verified.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.last) >= redrawEvery {
		c.status.draw(fmt.Sprintf("%d read, %d verified, %d without a header, %d failing", c.read.Load(), c.verified.Load(), c.headerless.Load(), c.failing.Load()))
		c.last = time.Now()
	}
}
