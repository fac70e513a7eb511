package main

import (
	"context"
	"flag"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// keystoreFlags name a key store and a branch key in it, the same way in
// every command: the keystore subcommands and the cipher of the others.
type keystoreFlags struct {
	table     string // -keystore
	name      string // -keystore-name, default table
	kmsKey    string // -keystore-key
	branchKey string // -branch-key
}

func (f *keystoreFlags) registerTable(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "keystore", "", "key store table, which keeps the branch keys (see dynacrypt keystore -h)")
}

func (f *keystoreFlags) registerKMS(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "keystore-name", "", "the key store's logical name, fixed when it was created (bound into every branch key); default -keystore")
	fs.StringVar(&f.kmsKey, "keystore-key", "", "KMS key the key store's branch keys are wrapped under")
}

func (f *keystoreFlags) registerBranchKey(fs *flag.FlagSet) {
	fs.StringVar(&f.branchKey, "branch-key", "", "branch key id")
}

// unusedKMSKey stands for the KMS key of a KeyStore whose command makes no
// KMS request (delete, list): keystore.New wants one anyway.
const unusedKMSKey = "unused: this command makes no KMS request"

// open returns the KeyStore the flags name. A command that makes no KMS
// request passes needKMS false and need not name the KMS key.
func (f *keystoreFlags) open(c *awsClients, needKMS bool) (*keystore.KeyStore, error) {
	if f.table == "" || (needKMS && f.kmsKey == "") {
		return nil, errUsage
	}
	name, kmsKey := f.name, f.kmsKey
	if name == "" {
		name = f.table
	}
	if !needKMS && kmsKey == "" {
		kmsKey = unusedKMSKey
	}
	return keystore.New(c.dynamodb, f.table, name, c.kms, kmsKey)
}

// cipherFlags choose the Cipher a table's root keys are wrapped with:
// a KMS key (-key), or a branch key of a key store (-keystore and its
// companions); with either, -previous-keys names KMS keys that items may
// still be wrapped under.
type cipherFlags struct {
	key, previousKeys string
	keystore          keystoreFlags
	branchKeyPrefix   string // -branch-key-prefix: a tenant's branch key id is it and the tenant
}

func (f *cipherFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.key, "key", "", "KMS key the table's root keys are wrapped under (or -keystore and -branch-key: a branch key wraps them)")
	fs.StringVar(&f.previousKeys, "previous-keys", "", "comma-separated older KMS keys items may still be wrapped under: with -key, after a move to it; with -keystore, to move a table from KMS keys to the key store")
	f.keystore.registerTable(fs)
	f.keystore.registerKMS(fs)
	fs.StringVar(&f.keystore.branchKey, "branch-key", "", "branch key of the key store that wraps the table's root keys; with -tenant, each item's is its tenant's, named like the tenant (or -branch-key-prefix and the tenant), and this flag is not needed")
	fs.StringVar(&f.branchKeyPrefix, "branch-key-prefix", "", "with -tenant and -keystore: each tenant's branch key id is this prefix and the tenant (keystore.PrefixSupplier), as the service maps them")
}

// load loads the AWS clients and returns them with the Cipher the flags
// choose (see cipher). With optional, flags that choose none give a nil
// Cipher: a table whose items are in DB-ESDK's format needs none.
func (f *cipherFlags) load(ctx context.Context, tenants, optional bool) (*awsClients, dynacrypt.Cipher, error) {
	clients, err := loadClients(ctx)
	if err != nil {
		return nil, nil, err
	}
	if optional && f.key == "" && f.previousKeys == "" && f.branchKeyPrefix == "" && f.keystore == (keystoreFlags{}) {
		return clients, nil, nil
	}
	cipher, err := f.cipher(clients, tenants)
	return clients, cipher, err
}

// cipher returns the Cipher the flags choose, or errUsage unless they
// choose exactly one. For a table of tenants (-tenant), a key store needs
// no -branch-key: each tenant's items are under the branch key named like
// the tenant (keystore.Cipher's default mapping), or -branch-key-prefix
// and the tenant.
func (f *cipherFlags) cipher(c *awsClients, tenants bool) (dynacrypt.Cipher, error) {
	switch {
	case f.branchKeyPrefix != "" && (!tenants || f.keystore.table == ""):
		return nil, errUsage
	case f.key != "" && f.keystore.table == "":
		return dynacrypt.NewKMSCipher(c.kms, f.key).WithPreviousKeys(list(f.previousKeys)...), nil
	case f.key == "" && f.keystore.table != "" && (f.keystore.branchKey != "" || tenants):
		ks, err := f.keystore.open(c, true)
		if err != nil {
			return nil, err
		}
		var opts []keystore.CipherOption
		if previous := list(f.previousKeys); len(previous) > 0 {
			opts = append(opts, keystore.WithPreviousCipher(dynacrypt.NewKMSCipher(c.kms, previous[0]).WithPreviousKeys(previous[1:]...)))
		}
		if f.branchKeyPrefix != "" {
			opts = append(opts, keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier(f.branchKeyPrefix)))
		}
		return keystore.NewCipher(ks, f.keystore.branchKey, opts...)
	}
	return nil, errUsage
}
