package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/dynacrypt/dynacrypt"
)

// tableFlags describe a table dynacrypt encrypts, but for its keys: what
// a command needs to open its items without the service's Go type; and,
// for a command that walks it, which tenant's items.
type tableFlags struct {
	table, logical string
	encrypted      string
	unsigned       string
	header         string
	tenant         string
	onlyTenant     string // -only-tenant: reencrypt's
}

func (f *tableFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "table", "", "table name (required)")
	fs.StringVar(&f.logical, "logical-table", "", "logical table name, if the Store sets one (WithLogicalTableName); default -table")
	fs.StringVar(&f.encrypted, "encrypted", "", "comma-separated encrypted attributes (required)")
	fs.StringVar(&f.unsigned, "unsigned", "", "comma-separated unsigned attributes (WithUnsignedAttributes)")
	fs.StringVar(&f.header, "header", dynacrypt.DefaultHeaderAttribute, "header attribute")
	fs.StringVar(&f.tenant, "tenant", "", "attribute holding each item's tenant, if the Store sets one (WithTenantAttribute); with -keystore, each tenant's branch key is the one named like the tenant, or -branch-key-prefix and the tenant")
}

// registerOnlyTenant registers -only-tenant, for a command that walks the
// table.
func (f *tableFlags) registerOnlyTenant(fs *flag.FlagSet) {
	fs.StringVar(&f.onlyTenant, "only-tenant", "", "walk the items of this tenant only (a value of the -tenant attribute): a Query of its partition if -tenant is the partition key, else a Scan filtered on it")
}

// keyFlags name a table's key attributes, for commands that do not read
// them from the table (an export has no table to ask).
type keyFlags struct {
	partitionKey, sortKey string
}

func (f *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.partitionKey, "partition-key", "", "partition key attribute (required)")
	fs.StringVar(&f.sortKey, "sort-key", "", "sort key attribute, if any")
}

// errUsage means the flags are missing or contradict each other: the
// command prints its usage and exits with code 2.
var errUsage = errors.New("usage")

// usageError is errUsage with what is wrong with the flags, which the
// command says above its usage.
type usageError struct{ reason string }

// usagef returns errUsage with the reason format and args give.
func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func (e usageError) Error() string        { return "usage: " + e.reason }
func (e usageError) Is(target error) bool { return target == errUsage }

// items opens the table's items with keys and cipher (nil for none); opts
// come last.
func (f *tableFlags) items(keys keyFlags, cipher dynacrypt.Cipher, opts ...dynacrypt.Option) (*dynacrypt.Items, error) {
	if f.table == "" || keys.partitionKey == "" || f.encrypted == "" {
		return nil, errUsage
	}
	all := []dynacrypt.Option{
		dynacrypt.WithPartitionKey(keys.partitionKey),
		dynacrypt.WithSortKey(keys.sortKey),
		dynacrypt.WithEncryptedAttributes(list(f.encrypted)...),
		dynacrypt.WithUnsignedAttributes(list(f.unsigned)...),
		dynacrypt.WithHeaderAttribute(f.header),
		// A batch job reads every root key once: keep them for its run.
		dynacrypt.WithRootKeyMaxAge(24 * time.Hour),
	}
	if cipher != nil {
		all = append(all, dynacrypt.WithCipher(cipher))
	}
	if f.logical != "" {
		all = append(all, dynacrypt.WithLogicalTableName(f.logical))
	}
	if f.tenant != "" {
		all = append(all, dynacrypt.WithTenantAttribute(f.tenant))
	}
	return dynacrypt.NewItems(f.table, append(all, opts...)...)
}
