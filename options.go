package dynacrypt

import (
	"time"
)

// Defaults for the root key cache and for Update. See the options that
// change them.
const (
	DefaultRootKeyMaxAge   = 5 * time.Minute
	DefaultRootKeyMaxItems = 100_000
	DefaultKeyCacheSize    = 1000
	DefaultHeaderAttribute = "_dynacrypt"
	DefaultUpdateAttempts  = 10
)

// An Option configures a Store at New.
type Option func(*config)

type config struct {
	partitionKey   string
	sortKey        string
	version        string
	cipher         Cipher
	headerAttr     string
	unsigned       []string
	rootMaxAge     time.Duration
	rootMaxItems   int
	cacheSize      int
	noCache        bool
	updateAttempts int
}

func defaultConfig() config {
	return config{
		headerAttr:     DefaultHeaderAttribute,
		rootMaxAge:     DefaultRootKeyMaxAge,
		rootMaxItems:   DefaultRootKeyMaxItems,
		cacheSize:      DefaultKeyCacheSize,
		updateAttempts: DefaultUpdateAttempts,
	}
}

// WithPartitionKey names the table's partition key attribute. Required.
func WithPartitionKey(attr string) Option { return func(c *config) { c.partitionKey = attr } }

// WithSortKey names the table's sort key attribute, for tables that have one.
func WithSortKey(attr string) Option { return func(c *config) { c.sortKey = attr } }

// WithVersion names an integer attribute used for optimistic locking: Put of
// version 0 creates, Put of version v succeeds only if the stored version is
// still v, and every write stores the next version.
func WithVersion(attr string) Option { return func(c *config) { c.version = attr } }

// WithCipher sets the Cipher that wraps root keys. Required when the item
// type has fields tagged encrypt:"kms".
func WithCipher(ci Cipher) Option { return func(c *config) { c.cipher = ci } }

// WithHeaderAttribute changes the name of the binary attribute that holds
// each item's header (DefaultHeaderAttribute).
func WithHeaderAttribute(attr string) Option { return func(c *config) { c.headerAttr = attr } }

// WithUnsignedAttributes declares attributes that the item signature does not
// cover, for attributes that other writers change, such as counters updated
// with UpdateItem ADD or a TTL attribute set by another job. Anyone with
// write access to the table can change them undetected. Key, version and
// encrypted attributes are always signed.
func WithUnsignedAttributes(attrs ...string) Option {
	return func(c *config) { c.unsigned = append(c.unsigned, attrs...) }
}

// WithRootKeyMaxAge bounds how long one root key is used for writing, and
// how long an unwrapped root key stays cached for reading
// (DefaultRootKeyMaxAge).
func WithRootKeyMaxAge(d time.Duration) Option { return func(c *config) { c.rootMaxAge = d } }

// WithRootKeyMaxItems bounds how many item writes use one root key before a
// new one is made (DefaultRootKeyMaxItems).
func WithRootKeyMaxItems(n int) Option { return func(c *config) { c.rootMaxItems = n } }

// WithKeyCacheSize bounds how many unwrapped root keys are kept for reading
// (DefaultKeyCacheSize).
func WithKeyCacheSize(n int) Option { return func(c *config) { c.cacheSize = n } }

// WithoutKeyCache turns root key caching off: every write makes and wraps a
// new root key and every read unwraps its item's root key, one Cipher call
// each. Use it where a KMS key policy or audit trail must see every access.
func WithoutKeyCache() Option { return func(c *config) { c.noCache = true } }

// WithUpdateAttempts sets how many times Update tries its read-modify-write
// before it gives up with ErrConflict (DefaultUpdateAttempts).
func WithUpdateAttempts(n int) Option { return func(c *config) { c.updateAttempts = n } }

// A ReadOption changes one read.
type ReadOption func(*readConfig)

type readConfig struct {
	consistent  bool
	skipDecrypt bool
}

// ConsistentRead makes a read strongly consistent. Reads are eventually
// consistent by default, as in DynamoDB.
func ConsistentRead() ReadOption { return func(c *readConfig) { c.consistent = true } }

// SkipDecryption reads an item without unwrapping its root key: encrypted
// fields are left zero and no Cipher call is made, so a role without decrypt
// permission on the key can read the plaintext fields. Because the signature
// key comes from the root key, the item is not verified either: treat its
// fields as unauthenticated.
func SkipDecryption() ReadOption { return func(c *readConfig) { c.skipDecrypt = true } }

// A WriteOption changes one write.
type WriteOption func(*writeConfig)

type writeConfig struct {
	ifNotExists bool
}

// IfNotExists makes Put fail with ErrConflict when an item with the same key
// exists. With a version attribute, Put of version 0 already does this.
func IfNotExists() WriteOption { return func(c *writeConfig) { c.ifNotExists = true } }
