package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/walkui"
)

// redrawEvery is how often reencrypt redraws its progress line and saves
// its checkpoint file. A walk killed between two saves does again what it
// did since the last: each item's rewrite is idempotent.
const redrawEvery = 250 * time.Millisecond

// reencrypt walks a table and rewrites its items under fresh root keys
// wrapped by the current key: by default the items under another key (a
// previous KMS key, an older branch key version), with -all every item.
func reencrypt(ctx context.Context, args []string, std streams) int {
	fs := newFlagSet("reencrypt", "-table TABLE -encrypted A,B [-version V] [-tenant T [-only-tenant ID] [-branch-key-prefix P]] (-key KMS-KEY | -keystore TABLE -keystore-key KMS-KEY -branch-key ID) [-previous-keys K,...] [-to dbesdk|dynacrypt DBESDK-KEYRING] [-all] [-manifest FILE (-plaintext | -legacy-key KMS-KEY) -attributes A,B] [-segments N [-segment FIRST-LAST]] [flags]\n\nDBESDK-KEYRING: "+dbesdkKeyringSynopsis,
		"Rewrites the items of a table, read with a parallel Scan, with a root key this run makes,\n"+
			"a fresh salt and fresh ciphertexts, wrapped by the current key: -key, or the active version of\n"+
			"-branch-key. Each item is verified and decrypted, every attribute kept, its -version\n"+
			"attribute incremented as a Store does, and written on condition that it has not changed\n"+
			"since it was read: a concurrent change is read again, never overwritten.\n\n"+
			"By default only items whose root key is wrapped under another key are rewritten: after a\n"+
			"rotation (of the branch key, or to a new KMS key with the old one in -previous-keys) that is\n"+
			"every item the rotation concerns, and a walk run again finds nothing left to do. A table\n"+
			"moves from KMS keys to a key store the same way: -keystore with the KMS keys in -previous-keys.\n"+
			"With -all\n"+
			"every item is rewritten: after a suspected compromise of root keys, whose items are still\n"+
			"under the current key.\n\n"+
			"For a table of tenants (-tenant) under a key store, each item is rewritten under its\n"+
			"tenant's branch key, named like the tenant, or with -branch-key-prefix P, P and the tenant\n"+
			"(tenant acme under branch key P+acme: keystore.PrefixSupplier); no -branch-key needed. A run\n"+
			"reads each tenant's active version afresh before its first item of that tenant, and\n"+
			"rewrites only the items under older versions. Every rewrite increments the -version\n"+
			"attribute, which makes clients' copies (ETags) stale: after rotating one tenant's branch\n"+
			"key, walk that tenant's items only with -only-tenant (a Query of its partition if -tenant\n"+
			"is the partition key, else a Scan filtered on it).\n\n"+
			"A table moves between dynacrypt's item format and AWS DB-ESDK's the same way: -to dbesdk, with\n"+
			"the -dbesdk-* flags naming one of DB-ESDK's keyrings, rewrites the items in dynacrypt's format\n"+
			"(which -key or -keystore open) in DB-ESDK's; -to dynacrypt, with both, rewrites DB-ESDK's items\n"+
			"in dynacrypt's. A walk to DB-ESDK's format of a table with no item left in dynacrypt's needs no\n"+
			"-key or -keystore. A walk that writes DB-ESDK's format rewrites its items only in another\n"+
			"suite than -dbesdk-suite: after a rotation of a DB-ESDK branch key, walk with -all to move\n"+
			"them to the new version (it reads the active version afresh, and refuses to move an item under\n"+
			"a newer version than the active one).\n\n"+dbesdkKeyringHelp+"\n\n"+
			"The table's keys come from DescribeTable. Name every encrypted attribute in -encrypted: an\n"+
			"item with one left out fails and is left as it is. The progress line goes to standard error\n"+
			"(redrawn on a terminal, else a plain line every 10 s); the checkpoint file is saved as the walk\n"+
			"goes and removed when it completes (a share's is kept). Interrupted\n"+
			"(Ctrl-C, SIGTERM), the walk saves it and exits with code 3; killed, it leaves its last save.\n"+
			"Either way, run the same command again to resume. The file records the walk's flags (all but\n"+
			"-page-size and -checkpoint): a walk with other flags refuses it (exit code 3) rather than skip\n"+
			"what the other walk did; delete it to start over. Items that fail are reported by key on\n"+
			"standard error (exit code 1), and a walk run again retries them.\n\n"+
			"To encrypt a table that holds items without a header (plaintext items, -plaintext, or\n"+
			"legacy per-field KMS items, -legacy-key), give the -manifest that dynacrypt snapshot wrote:\n"+
			"the items it lists, unchanged, are rewritten encrypted and their keys appended to -promoted;\n"+
			"any other item without a header fails, before any KMS request, and stays as it is. Name in\n"+
			"-attributes the attributes such items hold besides the keys, -encrypted and -unsigned ones.\n"+
			"See docs/operations.md, \"Encrypting an existing table\".\n\n"+
			"A walk spread over N processes (on N machines, say) gives each a share of the Scan's segments:\n"+
			"the same -segments in all, and -segment FIRST-LAST in each, the shares covering 0 to -segments\n"+
			"minus 1 once between them (-segments 64: 0-7, 8-15, ..., 56-63). Each share has its own\n"+
			"checkpoint file (default TABLE.segments-FIRST-LAST-of-N.reencrypt-checkpoint), kept once the\n"+
			"share is done, with what its runs counted: dynacrypt reencrypt-status reads them all and says\n"+
			"whether the walk is done. See docs/operations.md, \"Walks across machines\".", std)
	var (
		tf tableFlags
		cf cipherFlags
		df dbesdkFlags
		mf migrationFlags
	)
	tf.register(fs)
	version := fs.String("version", "", "the Store's version attribute (WithVersion), if it has one: every rewrite increments it")
	cf.register(fs)
	df.register(fs)
	df.registerTo(fs)
	tf.registerOnlyTenant(fs)
	mf.register(fs)
	all := fs.Bool("all", false, "rewrite every item, not only those under an old key")
	segments := fs.Int("segments", 4, "parallel Scan segments (1 to 1000000): with -segment, the walk's total, the same in every share")
	segment := fs.String("segment", "", "walk only segments FIRST-LAST (or one, N) of -segments: this process's share of a walk spread over several")
	pageSize := fs.Int("page-size", 100, "items a Scan request reads: the grain of progress and checkpoints")
	checkpoint := fs.String("checkpoint", "", "checkpoint file (default TABLE.reencrypt-checkpoint in the current directory)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if tf.table == "" || tf.encrypted == "" || *pageSize < 1 || (tf.onlyTenant != "" && tf.tenant == "") || mf.check() != nil {
		return fail(fs, std, errUsage)
	}
	share, err := parseShare(*segment, *segments)
	if err != nil {
		return fail(fs, std, usagef("%v", err))
	}
	switch {
	case *checkpoint != "":
	case share != nil:
		*checkpoint = fmt.Sprintf("%s.segments-%s-of-%d.reencrypt-checkpoint", tf.table, share, *segments)
	default:
		*checkpoint = tf.table + ".reencrypt-checkpoint"
	}
	if mf.migrates() && mf.promoted == "" {
		mf.promoted = tf.table + ".promoted"
	}
	clients, cipher, err := cf.load(ctx, tf.tenant != "", df.writes())
	if err != nil {
		return fail(fs, std, err)
	}
	format, err := df.option(clients, tf.tenant, !df.writes())
	if err != nil {
		return fail(fs, std, err)
	}
	table, err := describeTable(ctx, clients.dynamodb, tf.table)
	if err != nil {
		return fail(fs, std, err)
	}
	var opts []dynacrypt.Option
	if *version != "" {
		opts = append(opts, dynacrypt.WithVersion(*version))
	}
	if format != nil {
		opts = append(opts, format)
	}
	flags := walkFlags(tf, cf, df, *version)
	if mf.migrates() {
		migration, manifest, err := mf.option(tf, clients.kms)
		if err != nil {
			return fail(fs, std, err)
		}
		opts = append(opts, migration)
		mf.addFlags(flags, manifest)
	}
	items, err := tf.items(table.keys, cipher, opts...)
	if err != nil {
		return fail(fs, std, err)
	}
	total := table.total
	if tf.onlyTenant != "" {
		total = 0 // the table's count says nothing of one tenant's
	}
	if share != nil {
		total = total * int64(share.Last-share.First+1) / int64(*segments)
	}
	w := &walk{items: items, db: clients.dynamodb, file: *checkpoint, total: total, tenant: tf.onlyTenant, share: share, std: std,
		state: checkpointFile{Table: tf.table, TableIdentity: table.identity, All: *all, Segments: *segments,
			Flags: flags}, pageSize: *pageSize, promotedFile: mf.promoted}
	if share != nil {
		w.state.Share = share.String()
	}
	return w.run(ctx)
}

// tableInfo is what reencrypt learns of a table from DescribeTable.
type tableInfo struct {
	keys  keyFlags
	total int64 // DynamoDB's estimate of its item count, 0 if unknown
	// identity tells this table from another of the same name (in another
	// account or region, or made again): its ARN and id.
	identity string
}

// describeTable returns a table's key attributes, item count and identity.
func describeTable(ctx context.Context, db *dynamodb.Client, table string) (tableInfo, error) {
	var info tableInfo
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return info, err
	}
	keys := &info.keys
	for _, k := range out.Table.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			keys.partitionKey = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			keys.sortKey = aws.ToString(k.AttributeName)
		}
	}
	if keys.partitionKey == "" {
		return info, fmt.Errorf("DescribeTable %s named no partition key", table)
	}
	info.total = aws.ToInt64(out.Table.ItemCount)
	info.identity = aws.ToString(out.Table.TableArn) + " " + aws.ToString(out.Table.TableId)
	if out.Table.TableId == nil && out.Table.CreationDateTime != nil { // a server without table ids
		info.identity += out.Table.CreationDateTime.UTC().Format(time.RFC3339Nano)
	}
	return info, nil
}

// walk is one run of reencrypt.
type walk struct {
	items    *dynacrypt.Items
	db       dynacrypt.DB
	file     string         // the checkpoint file
	state    checkpointFile // what the walk saves there
	pageSize int
	total    int64                   // items in the table (in the share), estimated; 0 if unknown
	tenant   string                  // the only tenant walked; "" for every item
	share    *dynacrypt.SegmentShare // the segments walked; nil for every one
	std      streams
	// promotedFile, if set, is where the keys of the items without a
	// header the walk migrates are appended.
	promotedFile string
}

func (w *walk) run(ctx context.Context) int {
	saved, err := loadCheckpoint(w.file)
	if err == nil && saved != nil {
		err = saved.matches(w.file, w.state)
	}
	if err != nil {
		fmt.Fprintln(w.std.err, "dynacrypt:", printable(err.Error()))
		return exitFailure
	}
	var before walkCounts // what earlier runs counted
	if saved != nil {
		w.state.Checkpoint, before = saved.Checkpoint, saved.Counts
		fmt.Fprintf(w.std.err, "resuming from %s\n", w.file)
	}
	w.state.Counts = before.add(dynacrypt.ReencryptProgress{})
	label := "" // names the share on the progress line
	if w.share != nil {
		label = shareName(w.state.Share, w.state.Segments) + ": "
	}
	var promoted func(map[string]types.AttributeValue)
	if w.promotedFile != "" {
		log, err := openPromotedLog(w.promotedFile)
		if err != nil {
			fmt.Fprintln(w.std.err, "dynacrypt:", err)
			return exitFailure
		}
		defer func() {
			if err := log.close(); err != nil {
				fmt.Fprintf(w.std.err, "dynacrypt: writing %s: %v\n", w.promotedFile, err)
			}
		}()
		promoted = log.add
	}
	start := time.Now()
	status := newStatusLine(w.std.err)
	var last time.Time // of the last save and redraw
	var saveErr error
	reported := false // Progress was called
	progress, err := w.items.Reencrypt(ctx, w.db, dynacrypt.ReencryptOptions{
		Promoted:   promoted,
		Segments:   w.state.Segments,
		Share:      w.share,
		PageSize:   w.pageSize,
		Checkpoint: w.state.Checkpoint,
		All:        w.state.All,
		Tenant:     w.tenant,
		Progress: func(p dynacrypt.ReencryptProgress) { // one call at a time
			reported = true
			w.state.Checkpoint, w.state.Counts = p.Checkpoint, before.add(p)
			if time.Since(last) >= redrawEvery {
				saveErr = w.state.save(w.file)
				status.draw(label + walkui.Bar(p, w.total))
				last = time.Now()
			}
		},
		Failed: func(key map[string]types.AttributeValue, err error) {
			if ctx.Err() == nil { // once interrupted, items in flight fail: no news
				status.println(printable(fmt.Sprintf("key %s: %v", keyText(key), err))) // keys are the table's, anyone's
			}
		},
	})
	status.draw(label + walkui.Bar(progress, w.total))
	status.end()
	done := err == nil
	w.state.Counts = before.add(progress)
	// A share's file is kept once it is done: it is how reencrypt-status
	// tells a share done from one never run. A run refused, or stopped
	// before its first page, leaves the file as it was.
	if keep := !done || w.share != nil; keep && w.state.Checkpoint != "" && (reported || done) {
		if serr := w.state.save(w.file); serr != nil {
			saveErr = serr
		}
	}
	if saveErr != nil {
		fmt.Fprintf(w.std.err, "dynacrypt: saving the checkpoint file %s: %v\n", w.file, saveErr)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(w.std.err, "interrupted after %d items: run the same command again to resume from %s\n", progress.Scanned, w.file)
		return exitFailure
	}
	resumed := ""
	if saved != nil {
		resumed = " (resumed from " + w.file + ": what earlier runs did is not counted)"
	}
	fmt.Fprintf(w.std.out, "%d items scanned in %s: %d rewritten, %d already current, %d failed%s\n",
		progress.Scanned, time.Since(start).Round(time.Millisecond), progress.Rewritten, progress.Skipped, progress.Failed, resumed)
	if w.promotedFile != "" {
		fmt.Fprintf(w.std.out, "%d items without a header migrated, their keys appended to %s\n", progress.Promoted, w.promotedFile)
	}
	if w.share != nil {
		c := w.state.Counts
		fmt.Fprintf(w.std.out, "%s, %s: %s so far, %d items scanned, %d rewritten, %d already current, %d failed in the last; %s keeps them for dynacrypt reencrypt-status\n",
			shareName(w.state.Share, w.state.Segments), shareState(w.state.Checkpoint), runs(c.Runs), c.Scanned, c.Rewritten, c.Skipped, c.Failed, w.file)
	}
	switch {
	case progress.Failed > 0:
		fmt.Fprintf(w.std.err, "dynacrypt: %d items failed, the first: %s\nrun the same command again to retry them, from %s\n", progress.Failed, printable(fmt.Sprint(err)), w.file)
		return exitItems
	case err != nil:
		fmt.Fprintln(w.std.err, "dynacrypt:", printable(err.Error()))
		return exitFailure
	}
	if w.share != nil {
		return exitOK
	}
	if err := removeCheckpoint(w.file); err != nil {
		fmt.Fprintln(w.std.err, "dynacrypt:", err)
		return exitFailure
	}
	return exitOK
}
