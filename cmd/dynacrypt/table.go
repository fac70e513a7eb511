package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// tableFlags describe a table dynacrypt encrypts: what a command needs to
// open its items without the service's Go type.
type tableFlags struct {
	table, logical    string
	partitionKey      string
	sortKey           string
	encrypted         string
	unsigned          string
	header            string
	key, previousKeys string
}

func (f *tableFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "table", "", "table name (required)")
	fs.StringVar(&f.logical, "logical-table", "", "logical table name, if the Store sets one (WithLogicalTableName); default -table")
	fs.StringVar(&f.partitionKey, "partition-key", "", "partition key attribute (required)")
	fs.StringVar(&f.sortKey, "sort-key", "", "sort key attribute, if any")
	fs.StringVar(&f.encrypted, "encrypted", "", "comma-separated encrypted attributes (required)")
	fs.StringVar(&f.unsigned, "unsigned", "", "comma-separated unsigned attributes (WithUnsignedAttributes)")
	fs.StringVar(&f.header, "header", dynacrypt.DefaultHeaderAttribute, "header attribute")
	fs.StringVar(&f.key, "key", "", "KMS key the table's root keys are wrapped under (required)")
	fs.StringVar(&f.previousKeys, "previous-keys", "", "comma-separated older KMS keys items may still be wrapped under")
}

var errUsage = errors.New("usage")

// items opens the table's items with a KMS cipher from the default AWS
// configuration.
func (f *tableFlags) items(ctx context.Context) (*dynacrypt.Items, error) {
	if f.table == "" || f.partitionKey == "" || f.encrypted == "" || f.key == "" {
		return nil, errUsage
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	cipher := dynacrypt.NewKMSCipher(kms.NewFromConfig(cfg), f.key).WithPreviousKeys(list(f.previousKeys)...)
	opts := []dynacrypt.Option{
		dynacrypt.WithPartitionKey(f.partitionKey),
		dynacrypt.WithSortKey(f.sortKey),
		dynacrypt.WithEncryptedAttributes(list(f.encrypted)...),
		dynacrypt.WithUnsignedAttributes(list(f.unsigned)...),
		dynacrypt.WithHeaderAttribute(f.header),
		dynacrypt.WithCipher(cipher),
		// A batch job reads every root key once: keep them for its run.
		dynacrypt.WithRootKeyMaxAge(24 * time.Hour),
	}
	if f.logical != "" {
		opts = append(opts, dynacrypt.WithLogicalTableName(f.logical))
	}
	return dynacrypt.NewItems(f.table, opts...)
}
