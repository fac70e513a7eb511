package main

import (
	"context"
	"fmt"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/walkui"
)

// openTable loads the AWS clients and the Cipher the flags choose, and
// returns them with the table's Items, its keys read from DescribeTable.
func openTable(ctx context.Context, tf tableFlags, cf cipherFlags) (*awsClients, *dynacrypt.Items, error) {
	clients, cipher, err := cf.load(ctx, tf.tenant != "", false)
	if err != nil {
		return nil, nil, err
	}
	table, err := describeTable(ctx, clients.dynamodb, tf.table)
	if err != nil {
		return nil, nil, err
	}
	items, err := tf.items(table.keys, cipher)
	return clients, items, err
}

// snapshot writes the manifest of a table's items without a header
// (Items.LegacySnapshot): what reencrypt -manifest, and the services'
// LegacyManifest, take.
func snapshot(ctx context.Context, args []string, std streams) int {
	fs := newFlagSet("snapshot", "-table TABLE -encrypted A,B (-key KMS-KEY | -keystore TABLE -keystore-key KMS-KEY -branch-key ID) -manifest FILE [flags]",
		"Scans the table, with consistent reads, and writes to -manifest a signed list of its items\n"+
			"without a header (plaintext items, or legacy per-field KMS items): a 128-bit digest of each as\n"+
			"stored, unsigned attributes left out, signed with a root key wrapped by the table's key. The\n"+
			"services (LegacyManifest) and reencrypt -manifest then read and migrate those items only,\n"+
			"unchanged; any other item without a header fails, before any KMS request.\n\n"+
			"The manifest vouches for what the scan saw: take it once nothing writes items without a\n"+
			"header any more (the old code is gone, and every instance writes encrypted items), and check\n"+
			"its count against what you expect. It is bound to the table's logical name and key. See\n"+
			"docs/operations.md, \"Encrypting an existing table\".", std)
	var (
		tf tableFlags
		cf cipherFlags
	)
	tf.register(fs)
	cf.register(fs)
	file := fs.String("manifest", "", "file to write the manifest to (required); replaced atomically")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if tf.table == "" || tf.encrypted == "" || *file == "" {
		return fail(fs, std, errUsage)
	}
	clients, items, err := openTable(ctx, tf, cf)
	if err != nil {
		return fail(fs, std, err)
	}
	manifest, n, err := items.LegacySnapshot(ctx, clients.dynamodb)
	if err != nil {
		return fail(fs, std, err)
	}
	if err := walkui.WriteFile(*file, manifest); err != nil {
		return fail(fs, std, err)
	}
	fmt.Fprintf(std.out, "%d items without a header listed in %s (%d bytes)\n", n, *file, len(manifest))
	return exitOK
}
