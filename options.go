package dynacrypt

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// Defaults for the root key cache and for Update. See the options that
// change them.
const (
	DefaultRootKeyMaxAge   = 5 * time.Minute
	DefaultRootKeyMaxItems = 100_000
	// MaxRootKeyItems is the most WithRootKeyMaxItems allows: suite 2
	// encrypts every item write under one key per root key with a random
	// nonce, and NIST SP 800-38D allows at most 2^32 such encryptions per
	// key.
	MaxRootKeyItems        = 1 << 32
	DefaultKeyCacheSize    = 1000
	DefaultHeaderAttribute = "_dynacrypt"
	DefaultUpdateAttempts  = 20
	// DefaultUnwrapBurst and DefaultUnwrapRefill are the default
	// WithUnwrapLimit.
	DefaultUnwrapBurst  = 5
	DefaultUnwrapRefill = 10 * time.Second
	// DefaultCursorTTL is how long a page cursor stays valid.
	DefaultCursorTTL = 24 * time.Hour
)

// MaxUnsignedAttributes is how many attributes WithUnsignedAttributes (and
// LegacyAttributes) may name, so that the condition of a write that names
// each of them stays within DynamoDB's limits.
const MaxUnsignedAttributes = 100

// checkAttributeCount refuses more than MaxUnsignedAttributes attributes
// for what option names (n of them).
func checkAttributeCount(option string, n int) error {
	if n > MaxUnsignedAttributes {
		return fmt.Errorf("%s names %d attributes, more than %d: the conditions of Update and Reencrypt, which name each, would exceed DynamoDB's limits on an expression", option, n, MaxUnsignedAttributes)
	}
	return nil
}

// failedKeyTTL is how long a wrapped root key that did not unwrap is refused
// without asking the Cipher again.
const failedKeyTTL = time.Minute

// An Option configures a Store at New.
type Option func(*config)

type config struct {
	logicalName      string
	partitionKey     string
	sortKey          string
	indexes          []indexConfig
	version          string
	cipher           Cipher
	headerAttr       string
	unsigned         []string
	rootMaxAge       time.Duration
	rootMaxItems     int
	cacheSize        int
	noCache          bool
	updateAttempts   int
	unwrapLimit      keyring.Limit
	cursorTTL        time.Duration
	legacy           *legacyOptions
	encryptedAttrs   []string // NewItems only
	beaconKey        []byte
	compounds        []compoundConfig
	tenantAttr       string
	tenantBeaconKeys BeaconKeySource
	suite            Suite
	format           ItemFormat
}

func defaultConfig() config {
	return config{
		headerAttr:     DefaultHeaderAttribute,
		rootMaxAge:     DefaultRootKeyMaxAge,
		rootMaxItems:   DefaultRootKeyMaxItems,
		cacheSize:      DefaultKeyCacheSize,
		updateAttempts: DefaultUpdateAttempts,
		unwrapLimit:    keyring.Limit{Burst: DefaultUnwrapBurst, Refill: DefaultUnwrapRefill},
		cursorTTL:      DefaultCursorTTL,
		suite:          Suite2,
	}
}

// WithLogicalTableName sets the name bound into every item's keys and into
// the encryption context (TableContextKey), instead of the table's name.
// Set it before the first write and never change it: DynamoDB restores a
// backup (on demand or point in time) only into a new table, and items read
// through a Store of another table name only if both Stores have the same
// logical name. Items fail verification under any other logical name. It is
// DB-ESDK's logical table name. The region is not bound, so global tables
// (and multi-region KMS keys) work in every region.
func WithLogicalTableName(name string) Option { return func(c *config) { c.logicalName = name } }

// WithPartitionKey names the table's partition key attribute. Required.
func WithPartitionKey(attr string) Option { return func(c *config) { c.partitionKey = attr } }

// WithSortKey names the table's sort key attribute, for tables that have one.
func WithSortKey(attr string) Option { return func(c *config) { c.sortKey = attr } }

type indexConfig struct {
	name, partitionKey, sortKey string
	local                       bool
}

// WithIndex declares a global secondary index that Query and Scan can use
// with UsingIndex: its name and its key attributes (sortKey empty if it has
// none). The key attributes must be plaintext fields of the item type, or
// beacons ([BeaconAttribute], [WithCompoundBeacon]); an index whose
// partition key is a beacon serves [Store.Lookup] instead of Query. The
// index must project all attributes (ProjectionType ALL): items are verified
// whole. [Store.CreateTable] creates it and [Store.CheckTable] checks it.
func WithIndex(name, partitionKey, sortKey string) Option {
	return func(c *config) { c.indexes = append(c.indexes, indexConfig{name, partitionKey, sortKey, false}) }
}

// WithLocalIndex declares a local secondary index: the table's partition key
// with another sort key. Otherwise it is as WithIndex.
func WithLocalIndex(name, sortKey string) Option {
	return func(c *config) { c.indexes = append(c.indexes, indexConfig{name, "", sortKey, true}) }
}

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
// new one is made (DefaultRootKeyMaxItems, at most MaxRootKeyItems).
func WithRootKeyMaxItems(n int) Option { return func(c *config) { c.rootMaxItems = n } }

// A Suite is a way of encrypting and authenticating items, named by a byte
// of every item's header (FORMAT.md). A Store reads items of every suite
// and writes new ones in one (WithWriteSuite).
type Suite byte

const (
	// Suite1 derives a key per item write (HKDF-SHA-256 with a random
	// salt), encrypts each encrypted attribute with AES-256-GCM and signs
	// the item with HMAC-SHA-256. dynacrypt wrote it before Suite2 and
	// reads it still.
	Suite1 Suite = 1
	// Suite2, the default, encrypts all of an item's encrypted attributes
	// in one AES-256-GCM call under a key derived once per root key, with a
	// random nonce per write; the associated data is every signed
	// attribute, so the GCM tag authenticates the whole item. It does the
	// work of Suite1 in about half the time, and stores 20 bytes less per
	// item and 16 bytes less per encrypted attribute.
	Suite2 Suite = 2
)

// WithWriteSuite sets the suite new items are written in (default Suite2).
// Items of any suite are read. Write Suite1 while some service that reads
// the table runs a dynacrypt older than Suite2, which cannot read it.
func WithWriteSuite(s Suite) Option { return func(c *config) { c.suite = s } }

// WithKeyCacheSize bounds how many unwrapped root keys are kept for reading
// (DefaultKeyCacheSize).
func WithKeyCacheSize(n int) Option { return func(c *config) { c.cacheSize = n } }

// WithoutKeyCache turns root key caching off: every write makes and wraps a
// new root key and every read unwraps its item's root key, one Cipher call
// each. Use it where a KMS key policy or audit trail must see every access.
func WithoutKeyCache() Option { return func(c *config) { c.noCache = true } }

// WithUnwrapLimit bounds the Cipher calls that unwrap root keys not in the
// cache, separately for item headers, page cursors and legacy ciphertexts:
// at most burst run at once, and each that fails (a forged, altered or
// oversized wrapped key; also a genuine wrapped key whose item or cursor
// then fails its check) keeps its place for refill. Once burst places are
// used up that way, uncached root keys of that source are refused with
// ErrUnwrapLimited and no Cipher call, while cached ones keep serving reads;
// honest unwraps, which succeed, give their place back at once. So a client
// that sends a thousand forged cursors costs burst KMS requests, then one per
// refill. A Cipher call that makes several KMS requests (a KMSCipher trying
// a wrapped key under each alias it has not resolved) takes a place per
// request. Wrapped keys that proved invalid are also remembered for a
// minute. Defaults: DefaultUnwrapBurst per DefaultUnwrapRefill.
func WithUnwrapLimit(burst int, refill time.Duration) Option {
	return func(c *config) { c.unwrapLimit = keyring.Limit{Burst: burst, Refill: refill} }
}

// WithCursorTTL sets how long the page cursors of QueryPage and ScanPage stay
// valid (DefaultCursorTTL). The expiry is inside the signed part of the
// cursor; an expired cursor gives ErrInvalidCursor without a Cipher call.
func WithCursorTTL(d time.Duration) Option { return func(c *config) { c.cursorTTL = d } }

// WithUpdateAttempts sets how many times Update tries its read-modify-write
// before it gives up with ErrConflict (DefaultUpdateAttempts).
func WithUpdateAttempts(n int) Option { return func(c *config) { c.updateAttempts = n } }

// A ReadOption changes a read: Get, BatchGet, TransactGet, and also Query
// and Scan, since every ReadOption is a QueryOption.
type ReadOption interface {
	QueryOption
	applyRead(*readConfig)
}

type readConfig struct {
	consistent  bool
	skipDecrypt bool
}

// readOption is a ReadOption: it sets the read part of a query too.
type readOption func(*readConfig)

func (o readOption) applyRead(c *readConfig)   { o(c) }
func (o readOption) applyQuery(c *queryConfig) { o(&c.readConfig) }

func readConfigOf(opts []ReadOption) readConfig {
	var rc readConfig
	for _, o := range opts {
		o.applyRead(&rc)
	}
	return rc
}

// ConsistentRead makes a read strongly consistent. Reads are eventually
// consistent by default, as in DynamoDB. (Global secondary indexes do not
// support consistent reads.)
func ConsistentRead() ReadOption { return readOption(func(c *readConfig) { c.consistent = true }) }

// SkipDecryption reads items without unwrapping their root keys: encrypted
// fields are left zero and no Cipher call is made, so a role without decrypt
// permission on the key can read the plaintext fields. Because the signature
// key comes from the root key, items are not verified either: treat their
// fields as unauthenticated.
func SkipDecryption() ReadOption { return readOption(func(c *readConfig) { c.skipDecrypt = true }) }

// A QueryOption changes a Query or a Scan. Every ReadOption is one too.
type QueryOption interface {
	applyQuery(*queryConfig)
}

type queryOption func(*queryConfig)

func (o queryOption) applyQuery(c *queryConfig) { o(c) }

// UsingIndex queries or scans a secondary index declared with WithIndex
// instead of the table. The key given to Query then holds the index's
// partition key. The index must project all attributes, since items are
// verified whole.
func UsingIndex(name string) QueryOption { return queryOption(func(c *queryConfig) { c.index = name }) }

// SortKeyEqual limits a Query to items whose sort key equals v.
func SortKeyEqual(v any) QueryOption { return sortKeyCondition("=", v) }

// SortKeyLessThan limits a Query to items whose sort key is less than v.
func SortKeyLessThan(v any) QueryOption { return sortKeyCondition("<", v) }

// SortKeyLessThanEqual limits a Query to items whose sort key is at most v.
func SortKeyLessThanEqual(v any) QueryOption { return sortKeyCondition("<=", v) }

// SortKeyGreaterThan limits a Query to items whose sort key is greater
// than v.
func SortKeyGreaterThan(v any) QueryOption { return sortKeyCondition(">", v) }

// SortKeyGreaterThanEqual limits a Query to items whose sort key is at
// least v.
func SortKeyGreaterThanEqual(v any) QueryOption { return sortKeyCondition(">=", v) }

// SortKeyBetween limits a Query to items whose sort key is between lo and
// hi, both included.
func SortKeyBetween(lo, hi any) QueryOption { return sortKeyCondition("between", lo, hi) }

// SortKeyBeginsWith limits a Query to items whose string or binary sort key
// starts with prefix.
func SortKeyBeginsWith(prefix any) QueryOption { return sortKeyCondition("begins_with", prefix) }

func sortKeyCondition(op string, values ...any) QueryOption {
	return queryOption(func(c *queryConfig) { c.sortOp, c.sortValues = op, values })
}

// Filter keeps only the items that match cond, evaluated by DynamoDB after
// reading. It may name plaintext attributes only: encrypted values are
// ciphertext in the table.
func Filter(cond expression.ConditionBuilder) QueryOption {
	return queryOption(func(c *queryConfig) { c.filter = &cond })
}

// Limit stops a Query or Scan after n items.
func Limit(n int) QueryOption { return queryOption(func(c *queryConfig) { c.limit = n }) }

// PageSize sets how many items DynamoDB evaluates per request (its Limit).
// By default DynamoDB reads up to 1 MB per request.
func PageSize(n int) QueryOption { return queryOption(func(c *queryConfig) { c.pageSize = n }) }

// Descending returns a Query's items in descending sort key order.
func Descending() QueryOption { return queryOption(func(c *queryConfig) { c.descending = true }) }

// Segment makes a Scan read only segment i of n (0 <= i < n), to split a
// whole-table job across processes.
func Segment(i, n int) QueryOption {
	return queryOption(func(c *queryConfig) { c.segment, c.totalSegments = i, n })
}

// Parallel makes a Scan read n segments concurrently, yielding items as
// they arrive, in no particular order.
func Parallel(n int) QueryOption { return queryOption(func(c *queryConfig) { c.parallel = n }) }

// A WriteOption changes one write.
type WriteOption func(*writeConfig)

type writeConfig struct {
	ifNotExists bool
	overwrite   bool
	// ifVersion: an Update with IfVersion, whose failed condition says
	// stale or gone (it does not retry).
	ifVersion bool
}

func writeConfigOf(opts []WriteOption) writeConfig {
	var wc writeConfig
	for _, o := range opts {
		o(&wc)
	}
	return wc
}

// IfNotExists makes Put fail with ErrExists (an ErrConflict) when an item
// with the same key exists. With a version attribute, Put of version 0
// already does this.
func IfNotExists() WriteOption { return func(c *writeConfig) { c.ifNotExists = true } }

// Overwrite makes a write unconditional on a Store with a version
// attribute: Put and BatchPut replace whatever item has the key, whatever
// its version, and store the item's version plus one. It is for first loads
// into an empty table and for migrations, where BatchPut can then use
// BatchWriteItem, 25 items a request, instead of one conditional PutItem per
// item; concurrent writers lose their changes to it.
func Overwrite() WriteOption { return func(c *writeConfig) { c.overwrite = true } }

// An UpdateOption changes an Update.
type UpdateOption func(*updateConfig)

type updateConfig struct {
	ifVersion *int64
}

// IfVersion makes Update apply its function only if the stored item is at
// version v, with no retry: otherwise it fails with ErrStale (the item is
// at another version) or ErrNotFound. It serves the HTTP If-Match pattern,
// where the client sends the version it edited. It needs WithVersion.
func IfVersion(v int64) UpdateOption { return func(c *updateConfig) { c.ifVersion = &v } }
