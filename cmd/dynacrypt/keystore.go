package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/dynacrypt/dynacrypt/keystore"
)

// keystoreCommands are the subcommands of `dynacrypt keystore`.
var keystoreCommands = map[string]command{
	"create-table": {"create a key store's table (on-demand billing) and wait until it is active", keystoreCreateTable.run},
	"create":       {"make a branch key: its first version and its beacon key", keystoreCreate.run},
	"rotate":       {"make a new version of a branch key active (older versions stay readable)", keystoreRotate.run},
	"list":         {"list the versions of a branch key, oldest first, and which is active", keystoreList.run},
	"delete":       {"delete every version of a branch key: crypto-shredding (asks first, unless -yes)", keystoreDelete.run},
}

func keystoreCommand(ctx context.Context, args []string, std streams) int {
	return dispatch(ctx, "dynacrypt keystore", keystoreCommands, args, std)
}

// keystoreSubcommand describes a keystore subcommand: every one takes
// -keystore; the others its flags need.
type keystoreSubcommand struct {
	name, about string
	needKMS     bool // it calls KMS: -keystore-name and -keystore-key
	needID      bool // it works on a branch key: -branch-key
	// setup registers the subcommand's own flags, if it has any, and
	// returns what it does.
	setup func(fs *flag.FlagSet) keystoreAction
}

// keystoreAction is what a keystore subcommand does once its flags are
// parsed, on the branch key id if it needs one.
type keystoreAction func(ctx context.Context, ks *keystore.KeyStore, id string, std streams) error

func (c keystoreSubcommand) run(ctx context.Context, args []string, std streams) int {
	synopsis := "-keystore TABLE"
	if c.needKMS {
		synopsis += " [-keystore-name NAME] -keystore-key KMS-KEY"
	}
	if c.needID {
		synopsis += " -branch-key ID"
	}
	fs := newFlagSet("keystore "+c.name, synopsis, c.about, std)
	var kf keystoreFlags
	kf.registerTable(fs)
	if c.needKMS {
		kf.registerKMS(fs)
	}
	if c.needID {
		kf.registerBranchKey(fs)
	}
	action := c.setup(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if c.needID && kf.branchKey == "" {
		return fail(fs, std, errUsage)
	}
	clients, err := loadClients(ctx)
	if err != nil {
		return fail(fs, std, err)
	}
	ks, err := kf.open(clients, c.needKMS)
	if err == nil {
		err = action(ctx, ks, kf.branchKey, std)
	}
	if err != nil {
		return fail(fs, std, err)
	}
	return exitOK
}

// just is the setup of a subcommand without flags of its own.
func just(action keystoreAction) func(*flag.FlagSet) keystoreAction {
	return func(*flag.FlagSet) keystoreAction { return action }
}

var keystoreCreateTable = keystoreSubcommand{
	name: "create-table",
	about: "Creates the key store's table (partition key branch-key-id, sort key type, on-demand billing)\n" +
		"and waits until it is active: for first set-up and tests. Production tables are usually made\n" +
		"by infrastructure code, with point-in-time recovery and deletion protection.",
	setup: just(func(ctx context.Context, ks *keystore.KeyStore, _ string, std streams) error {
		if err := ks.CreateTable(ctx); err != nil {
			return err
		}
		fmt.Fprintf(std.out, "key store table %s created\n", ks.Table())
		return nil
	}),
}

var keystoreCreate = keystoreSubcommand{
	name: "create",
	about: "Makes a branch key: its first version and its beacon key, 32 random bytes each, wrapped by\n" +
		"KMS Encrypt under -keystore-key, and prints the version. It never overwrites: a branch key\n" +
		"that exists is an error. -keystore-name is bound into every branch key: keep the one the\n" +
		"key store was first used with (by default, its table's name), even if the table is restored\n" +
		"under another name.",
	needKMS: true, needID: true,
	setup: just(func(ctx context.Context, ks *keystore.KeyStore, id string, std streams) error {
		version, err := ks.Create(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "branch key %s created: version %s is active\n", id, version)
		return nil
	}),
}

var keystoreRotate = keystoreSubcommand{
	name: "rotate",
	about: "Makes a new version of a branch key active and prints it. Root keys wrapped from then on\n" +
		"use it, once each process's cache has learnt of it (its TTL: 10 minutes by default); items\n" +
		"under older versions still read. To move them to the new version, run dynacrypt reencrypt\n" +
		"on their tables.",
	needKMS: true, needID: true,
	setup: just(func(ctx context.Context, ks *keystore.KeyStore, id string, std streams) error {
		version, err := ks.Rotate(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "branch key %s rotated: version %s is active\n", id, version)
		return nil
	}),
}

var keystoreList = keystoreSubcommand{
	name: "list",
	about: "Lists the versions of a branch key, oldest first, one a line: the version, its creation\n" +
		"time (RFC 3339, UTC), and \"active\" after the version new root keys are wrapped under, or\n" +
		"\"shredded\" after a version deleted, separated by tabs. It reads the key store only: no KMS\n" +
		"request.",
	needID: true,
	setup: just(func(ctx context.Context, ks *keystore.KeyStore, id string, std streams) error {
		versions, err := ks.Versions(ctx, id)
		if err != nil {
			return err
		}
		for _, v := range versions {
			line := v.Version + "\t" + v.CreateTime.UTC().Format(time.RFC3339)
			switch {
			case v.Active:
				line += "\tactive"
			case v.Shredded:
				line += "\tshredded"
			}
			fmt.Fprintln(std.out, line)
		}
		return nil
	}),
}

// errNotConfirmed is why delete deleted nothing.
var errNotConfirmed = errors.New("nothing deleted: the deletion was not confirmed (answer yes, or pass -yes)")

var keystoreDelete = keystoreSubcommand{
	name: "delete",
	about: "Deletes the material of every version of a branch key, and its beacon key: crypto-shredding.\n" +
		"A record of each version stays, without material, so that items under it read as shredded\n" +
		"(ErrKeyGone), not as forged. Every item\n" +
		"whose root key is wrapped under it becomes unreadable for good, wherever its copies are\n" +
		"(backups and exports of the items' tables included; backups of the key store's own table\n" +
		"keep the branch key until they expire). Processes that cached it keep reading until their\n" +
		"cache's TTL ends. It asks for confirmation on standard input unless -yes; any answer but\n" +
		"\"yes\" deletes nothing, and the exit code is then 3.",
	needID: true,
	setup: func(fs *flag.FlagSet) keystoreAction {
		yes := fs.Bool("yes", false, "delete without asking")
		return func(ctx context.Context, ks *keystore.KeyStore, id string, std streams) error {
			if !*yes && !confirm(std, id, ks.Table()) {
				return errNotConfirmed
			}
			if err := ks.Delete(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(std.out, "branch key %s deleted\n", id)
			return nil
		}
	},
}

// confirm asks on std.err whether to delete a branch key and reads the
// answer, a line, from std.in: only "yes" confirms.
func confirm(std streams, id, table string) bool {
	fmt.Fprintf(std.err, "Delete branch key %s from %s, every version of it? Items under it will never read again.\nType yes to delete: ", id, table)
	if std.in == nil {
		return false
	}
	answer, _ := bufio.NewReader(std.in).ReadString('\n')
	return strings.TrimSpace(answer) == "yes"
}
