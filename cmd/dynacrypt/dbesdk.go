package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"

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
// name no keyring; errUsage unless they name one keyring, with its
// companions and no other's. tenant is the -tenant attribute, "" for none.
// With readOnly the Store writes dynacrypt's format, which needs a Cipher.
func (f *dbesdkFlags) option(c *awsClients, tenant string, readOnly bool) (dynacrypt.Option, error) {
	if f.to != "" && f.to != "dynacrypt" && f.to != "dbesdk" {
		return nil, errUsage
	}
	if !f.set() {
		if f.writes() || f.namespace != "" || f.name != "" || f.branchKeyPrefix != "" || f.keystore != (dbesdkKeystoreFlags{}) {
			return nil, errUsage
		}
		return nil, nil
	}
	opts := []dbesdk.FormatOption{}
	switch f.suite {
	case "", "6701":
	case "6700":
		opts = append(opts, dbesdk.WithSuite(dbesdk.SuiteSymSig))
	default:
		return nil, errUsage
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

// keyring returns the one keyring the flags name.
func (f *dbesdkFlags) keyring(c *awsClients, tenant string) (*dbesdk.Keyring, error) {
	rawAES, kms, hierarchical := f.keyFile != "", f.kmsKey != "", f.keystore.table != ""
	switch {
	case rawAES && (kms || hierarchical), kms && hierarchical:
		return nil, errUsage // one keyring; a multi-keyring is for services, not a walk
	case rawAES != (f.namespace != "" || f.name != ""), rawAES && (f.namespace == "" || f.name == ""):
		return nil, errUsage
	case !hierarchical && (f.branchKeyPrefix != "" || f.keystore != (dbesdkKeystoreFlags{})):
		return nil, errUsage
	case rawAES:
		return f.rawAESKeyring()
	case kms:
		return dbesdk.KMSKeyring(c.kms, f.kmsKey)
	}
	var opts []dbesdk.HierarchicalOption
	switch {
	case f.keystore.kmsKey == "":
		return nil, errUsage
	case f.keystore.branchKey != "" && f.branchKeyPrefix == "":
	case f.keystore.branchKey == "" && tenant != "":
		opts = append(opts, dbesdk.WithBranchKeyIDSupplier(dbesdk.BranchKeyIDFromAttribute(tenant, f.branchKeyPrefix)))
	default:
		return nil, errUsage // neither a branch key nor tenants, or both
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
