package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// dbesdkKeyringSynopsis is how a command's usage line names the keyring of
// DB-ESDK's items: exactly one of raw AES, AWS KMS and hierarchical.
const dbesdkKeyringSynopsis = "(-dbesdk-raw-aes-key-file F -dbesdk-key-namespace NS -dbesdk-key-name N | -dbesdk-kms-key ARN | -dbesdk-keystore TABLE -dbesdk-keystore-key ARN (-dbesdk-branch-key ID | -tenant T [-dbesdk-branch-key-prefix P]))"

// dbesdkKeyringHelp says what the keyring flags choose, for a command's
// help.
const dbesdkKeyringHelp = "Items in AWS DB-ESDK's format (aws_dbe_head) are read with exactly one of its keyrings, as the\n" +
	"other services configure it: raw AES (-dbesdk-raw-aes-key-file and the key's namespace and name),\n" +
	"AWS KMS (-dbesdk-kms-key, a key ARN: one KMS request per item read and written), or hierarchical\n" +
	"over a DB-ESDK key store (-dbesdk-keystore, its KMS key ARN -dbesdk-keystore-key, and\n" +
	"-dbesdk-branch-key; for a table of tenants, -tenant instead: each item's branch key is\n" +
	"-dbesdk-branch-key-prefix and its tenant, as dbesdk.BranchKeyIDFromAttribute maps them)."

// dbesdkFlags choose AWS DB-ESDK's item format beside dynacrypt's, and the
// keyring of its items, as the other services' configuration gives it: a
// raw AES key, an AWS KMS key, or the branch keys of a DB-ESDK key store.
// With them a command reads items of both formats; reencrypt's -to chooses
// the one it writes.
type dbesdkFlags struct {
	keyFile, namespace, name string // raw AES
	kmsKey                   string // AWS KMS
	keystore                 dbesdkKeystoreFlags
	branchKeyPrefix          string // with -tenant: a tenant's branch key id is it and the tenant
	suite                    string
	to                       string // reencrypt's -to: "dynacrypt" or "dbesdk"
}

func (f *dbesdkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.keyFile, "dbesdk-raw-aes-key-file", "", "file holding the base64 of the 16, 24 or 32-byte AES key of DB-ESDK's raw AES keyring: the table holds (or is to hold) items in AWS DB-ESDK's format")
	fs.StringVar(&f.namespace, "dbesdk-key-namespace", "", "the raw AES keyring's key namespace, as DB-ESDK's configuration names it")
	fs.StringVar(&f.name, "dbesdk-key-name", "", "the raw AES keyring's key name, as DB-ESDK's configuration names it")
	fs.StringVar(&f.kmsKey, "dbesdk-kms-key", "", "key ARN of DB-ESDK's AWS KMS keyring (one KMS request per item read and per item written)")
	f.keystore.register(fs)
	fs.StringVar(&f.keystore.branchKey, "dbesdk-branch-key", "", "branch key id of DB-ESDK's hierarchical keyring over -dbesdk-keystore; with -tenant, each item's is its tenant's (see -dbesdk-branch-key-prefix), and this flag is not needed")
	fs.StringVar(&f.branchKeyPrefix, "dbesdk-branch-key-prefix", "", "with -tenant and -dbesdk-keystore: each tenant's branch key id is this prefix and the tenant (dbesdk.BranchKeyIDFromAttribute), as the services map them")
}

// registerTo registers reencrypt's -to and -dbesdk-suite.
func (f *dbesdkFlags) registerTo(fs *flag.FlagSet) {
	fs.StringVar(&f.to, "to", "dynacrypt", `the format the walk writes: "dynacrypt", or "dbesdk" (AWS DB-ESDK's, with a -dbesdk-* keyring); items in the other format are rewritten`)
	fs.StringVar(&f.suite, "dbesdk-suite", "6701", `with -to dbesdk, DB-ESDK's algorithm suite: "6701" (ECDSA P-384 signatures, DB-ESDK's default) or "6700"`)
}

// set reports whether the flags name a DB-ESDK keyring.
func (f *dbesdkFlags) set() bool { return f.keyFile != "" || f.kmsKey != "" || f.keystore.table != "" }

// writes reports whether the command writes DB-ESDK's format.
func (f *dbesdkFlags) writes() bool { return f.to == "dbesdk" }

// option returns the dbesdk.Format option the flags choose, nil if they
// name no keyring; a usage error unless they name one keyring, with its
// companions and no other's. tenant is the -tenant attribute, "" for none.
// With readOnly the Store writes dynacrypt's format, which needs a Cipher.
func (f *dbesdkFlags) option(c *awsClients, tenant string, readOnly bool) (dynacrypt.Option, error) {
	switch f.to {
	case "", "dynacrypt", "dbesdk":
	default:
		return nil, usagef(`-to %q: a walk writes "dynacrypt" or "dbesdk"`, f.to)
	}
	if err := f.unaccompanied(); err != nil {
		return nil, err
	}
	if !f.set() {
		if f.writes() {
			return nil, usagef("-to dbesdk needs a DB-ESDK keyring: -dbesdk-raw-aes-key-file, -dbesdk-kms-key or -dbesdk-keystore")
		}
		return nil, nil
	}
	opts := []dbesdk.FormatOption{}
	switch f.suite {
	case "", "6701":
	case "6700":
		opts = append(opts, dbesdk.WithSuite(dbesdk.SuiteSymSig))
	default:
		return nil, usagef(`-dbesdk-suite %q: DB-ESDK's suites are "6701" and "6700"`, f.suite)
	}
	if readOnly {
		opts = append(opts, dbesdk.ReadOnly())
	}
	kr, err := f.keyring(c, tenant)
	if err != nil {
		return nil, err
	}
	return dbesdk.Format(kr, opts...), nil
}

// unaccompanied returns a usage error naming the keyrings' companion flags
// given without their keyring's flag, or naming the keyrings if there are
// several: a walk reads and writes under one keyring (a multi-keyring is
// for services).
func (f *dbesdkFlags) unaccompanied() error {
	var keyrings []string
	for _, k := range []struct{ flag, value string }{
		{"-dbesdk-raw-aes-key-file", f.keyFile}, {"-dbesdk-kms-key", f.kmsKey}, {"-dbesdk-keystore", f.keystore.table},
	} {
		if k.value != "" {
			keyrings = append(keyrings, k.flag)
		}
	}
	if len(keyrings) > 1 {
		return usagef("%s DB-ESDK keyrings (%s): name one", [...]string{2: "two", 3: "three"}[len(keyrings)], and(keyrings))
	}
	for _, k := range []struct {
		flag, value string
		companions  [][2]string
	}{
		{"-dbesdk-raw-aes-key-file", f.keyFile, [][2]string{{"-dbesdk-key-namespace", f.namespace}, {"-dbesdk-key-name", f.name}}},
		{"-dbesdk-keystore", f.keystore.table, [][2]string{{"-dbesdk-keystore-name", f.keystore.name},
			{"-dbesdk-keystore-key", f.keystore.kmsKey}, {"-dbesdk-branch-key", f.keystore.branchKey},
			{"-dbesdk-branch-key-prefix", f.branchKeyPrefix}}},
	} {
		var stray []string
		for _, c := range k.companions {
			if c[1] != "" {
				stray = append(stray, c[0])
			}
		}
		switch {
		case k.value != "" || len(stray) == 0:
		case len(stray) == 1:
			return usagef("%s goes with %s", stray[0], k.flag)
		default:
			return usagef("%s go with %s", and(stray), k.flag)
		}
	}
	return nil
}

// and joins names as a sentence lists them: "a", "a and b", "a, b and c".
func and(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// keyring returns the one keyring the flags name, which unaccompanied
// has checked.
func (f *dbesdkFlags) keyring(c *awsClients, tenant string) (*dbesdk.Keyring, error) {
	switch {
	case f.keyFile != "" && (f.namespace == "" || f.name == ""):
		return nil, usagef("-dbesdk-raw-aes-key-file needs -dbesdk-key-namespace and -dbesdk-key-name: the key's namespace and name in the services' configuration")
	case f.keyFile != "":
		return f.rawAESKeyring()
	case f.kmsKey != "":
		return dbesdk.KMSKeyring(c.kms, f.kmsKey)
	}
	var opts []dbesdk.HierarchicalOption
	switch {
	case f.keystore.kmsKey == "":
		return nil, usagef("-dbesdk-keystore needs -dbesdk-keystore-key: the ARN of the KMS key that wraps its branch keys")
	case f.keystore.branchKey != "" && f.branchKeyPrefix != "":
		return nil, usagef("-dbesdk-branch-key and -dbesdk-branch-key-prefix: give one (with -tenant, the prefix and the tenant name each item's branch key)")
	case f.keystore.branchKey != "":
	case tenant == "" && f.branchKeyPrefix != "":
		return nil, usagef("-dbesdk-branch-key-prefix needs -tenant: each item's branch key is the prefix and its tenant")
	case tenant != "":
		opts = append(opts, dbesdk.WithBranchKeyIDSupplier(dbesdk.BranchKeyIDFromAttribute(tenant, f.branchKeyPrefix)))
	default:
		return nil, usagef("-dbesdk-keystore needs -dbesdk-branch-key, or -tenant (each item's branch key is then -dbesdk-branch-key-prefix and its tenant)")
	}
	ks, err := f.keystore.open(c)
	if err != nil {
		return nil, err
	}
	return dbesdk.HierarchicalKeyring(ks, f.keystore.branchKey, opts...)
}

// rawAESKeyring reads the raw AES key from its file.
func (f *dbesdkFlags) rawAESKeyring() (*dbesdk.Keyring, error) {
	text, err := os.ReadFile(f.keyFile)
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("-dbesdk-raw-aes-key-file: the file does not hold base64: %w", err)
	}
	defer clear(key)
	return dbesdk.RawAESKeyring(f.namespace, f.name, key)
}

// dbesdkKeystoreFlags name a DB-ESDK key store, and a branch key in it, the
// same way in every command: reencrypt's and export-decrypt's hierarchical
// keyring, and the dbesdk-keystore subcommands.
type dbesdkKeystoreFlags struct {
	table     string // -dbesdk-keystore
	name      string // -dbesdk-keystore-name, default table
	kmsKey    string // -dbesdk-keystore-key
	branchKey string // -dbesdk-branch-key
}

func (f *dbesdkKeystoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "dbesdk-keystore", "", "table of a DB-ESDK key store (branch keys that DB-ESDK services share): the hierarchical keyring's")
	fs.StringVar(&f.name, "dbesdk-keystore-name", "", "the DB-ESDK key store's logical name, as its services' configuration names it (bound into every branch key); default -dbesdk-keystore")
	fs.StringVar(&f.kmsKey, "dbesdk-keystore-key", "", "ARN of the KMS key that wraps the DB-ESDK key store's branch keys")
}

// logical returns the key store's logical name.
func (f *dbesdkKeystoreFlags) logical() string {
	if f.name == "" {
		return f.table
	}
	return f.name
}

// open returns the KeyStore the flags name.
func (f *dbesdkKeystoreFlags) open(c *awsClients) (*dbesdk.KeyStore, error) {
	if f.table == "" || f.kmsKey == "" {
		return nil, errUsage
	}
	return dbesdk.NewKeyStore(c.dynamodb, f.table, f.logical(), c.kms, f.kmsKey)
}
