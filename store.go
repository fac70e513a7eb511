package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// DB is the part of *dynamodb.Client that a Store calls. *dynamodb.Client
// satisfies it; so does any wrapper with the same method signatures, such as
// one that adds tracing. A wrapper should pass optFns on: with its writes
// the Store passes one that records whether each of the SDK's attempts got
// a definite answer, to tell ErrOutcomeUnknown from a conflict. Without it
// the Store still recognises a retry of its own write that landed, by the
// item's header, but may report a conflict where the outcome is unknown.
// [Store.CreateTable] and [Store.CheckTable] need [TableAdmin] besides.
type DB interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, params *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, params *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	TransactGetItems(ctx context.Context, params *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
}

// Store is a typed view of one DynamoDB table whose items are T values. It
// encrypts T's fields tagged encrypt:"kms", signs every item it writes and
// verifies every item it reads. A Store is safe for concurrent use; create
// one per table and share it, so that its root key cache is shared too.
type Store[T any] struct {
	db       DB
	table    string
	cfg      config
	keyAttrs []*schema.Field // partition key, then sort key if any
	indexes  map[string][]*schema.Field
	version  *schema.Field
	attrs    map[string]bool // T's attribute names
	sch      *schema.Schema
	// The conditions of a create and of a write at a version, built once.
	createCond, versionCond condition
	codec                   codec
	now                     func() time.Time // for cursor expiry; replaced in tests
}

// New returns a Store for table, after checking T and the options once: the
// key and version attributes must be fields of T of a suitable type, key
// attributes must not be encrypted, and a Cipher is required if T has
// encrypted fields. Errors name the offending field.
func New[T any](db DB, table string, opts ...Option) (*Store[T], error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	s, err := newStore[T](db, table, cfg)
	if err != nil {
		return nil, fmt.Errorf("dynacrypt: New[%v] for table %q: %w", reflect.TypeFor[T](), table, err)
	}
	return s, nil
}

func newStore[T any](db DB, table string, cfg config) (*Store[T], error) {
	if db == nil || isNilPointer(db) {
		return nil, errors.New("nil DB")
	}
	if table == "" {
		return nil, errors.New("empty table name")
	}
	sch, err := schema.Parse(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	s := &Store[T]{db: db, table: table, cfg: cfg, attrs: map[string]bool{}, sch: sch, now: time.Now}
	for _, f := range sch.Fields {
		s.attrs[f.Attr] = true
	}
	if cfg.partitionKey == "" {
		return nil, errors.New("no partition key: use WithPartitionKey")
	}
	if cfg.encryptedAttrs != nil {
		return nil, fmt.Errorf("WithEncryptedAttributes is for NewItems: tag the fields of %v %s:%q", sch.Type, schema.EncryptTag, schema.EncryptKMS)
	}
	if s.keyAttrs, err = keyFields(sch, nil, cfg.partitionKey, cfg.sortKey); err != nil {
		return nil, err
	}
	logical := cfg.logicalName
	if logical == "" {
		logical = table
	}
	beacons, err := newBeacons(sch, &cfg, logical)
	if err != nil {
		return nil, err
	}
	// Indexes may be keyed by beacons: S attributes of the item, not
	// fields of T (Index nil), which Lookup queries.
	beaconFields := map[string]*schema.Field{}
	for _, name := range beacons.names() {
		beaconFields[name] = &schema.Field{Attr: name, Path: "beacon " + name, Type: reflect.TypeFor[string]()}
	}
	s.indexes = map[string][]*schema.Field{}
	for _, ix := range cfg.indexes {
		if ix.local {
			ix.partitionKey = cfg.partitionKey
		}
		if ix.name == "" || ix.partitionKey == "" || s.indexes[ix.name] != nil || (ix.local && ix.sortKey == "") {
			return nil, fmt.Errorf("index %q: a unique name and a partition key (and for a local index, a sort key) are required", ix.name)
		}
		if s.indexes[ix.name], err = keyFields(sch, beaconFields, ix.partitionKey, ix.sortKey); err != nil {
			return nil, fmt.Errorf("index %q: %w", ix.name, err)
		}
	}
	if cfg.version != "" {
		f, ok := sch.Field(cfg.version)
		switch {
		case !ok:
			return nil, fmt.Errorf("version attribute %q is not a field of %v", cfg.version, sch.Type)
		case !f.IsInteger():
			return nil, fmt.Errorf("%s: version attribute %q has type %v; it must be an integer", f.Path, f.Attr, f.Type)
		case f.Encrypted:
			return nil, fmt.Errorf("%s: version attribute %q cannot be encrypted: conditions compare it in the table", f.Path, f.Attr)
		case s.isKey(f.Attr):
			return nil, fmt.Errorf("%s: attribute %q cannot be both key and version", f.Path, f.Attr)
		}
		s.version = f
	}
	if _, clash := sch.Field(cfg.headerAttr); clash || cfg.headerAttr == "" {
		return nil, fmt.Errorf("header attribute name %q is empty or used by a field; choose another with WithHeaderAttribute", cfg.headerAttr)
	}
	writeHeader, err := checkFormat(&cfg)
	if err != nil {
		return nil, err
	}
	s.createCond = single("attribute_not_exists(#c0)", map[string]string{"#c0": s.keyAttrs[0].Attr}, exists, writeHeader)
	if s.version != nil {
		s.versionCond = single("#c0 = :c0", map[string]string{"#c0": s.version.Attr}, staleOrGone, writeHeader)
	}
	if cfg.updateAttempts <= 0 || cfg.cursorTTL <= 0 {
		return nil, errors.New("update attempts and cursor TTL must be positive")
	}
	if err := s.checkUnsigned(sch); err != nil {
		return nil, err
	}
	if err := checkTenant(sch, &cfg); err != nil {
		return nil, err
	}
	var guard *keyring.Guard
	if cfg.cipher != nil || cfg.format != nil {
		if guard, err = newGuard(&cfg); err != nil {
			return nil, err
		}
	}
	var ring *keyring.Ring
	switch encrypted := sch.Encrypted(); {
	case cfg.cipher != nil:
		if err := checkCipher(cfg.cipher); err != nil {
			return nil, fmt.Errorf("WithCipher: %w", err)
		}
		if ring, err = newRing(cfg.cipher, logical, &cfg, guard); err != nil {
			return nil, err
		}
	case cfg.format != nil && !cfg.format.Writes():
		return nil, errors.New("the item format given reads only, and the Store writes dynacrypt's format, which needs a Cipher: use WithCipher")
	case len(encrypted) > 0 && cfg.format == nil:
		return nil, fmt.Errorf("%s is tagged %s:%q but no Cipher is set: use WithCipher", encrypted[0].Path, schema.EncryptTag, schema.EncryptKMS)
	}
	var keys, encrypted, fields []string
	for _, f := range s.keyAttrs {
		keys = append(keys, f.Attr)
	}
	for _, f := range sch.Encrypted() {
		encrypted = append(encrypted, f.Attr)
	}
	for _, f := range sch.Fields {
		fields = append(fields, f.Attr)
	}
	fields = append(fields, beacons.names()...)
	s.codec = newCodec(keys, encrypted, fields, logical, cfg.headerAttr, cfg.unsigned, ring)
	s.codec.beacons = beacons
	s.codec.tenantAttr = cfg.tenantAttr
	s.codec.suite = byte(cfg.suite)
	if cfg.format != nil {
		t := FormatTable{LogicalName: logical, PartitionKey: cfg.partitionKey, SortKey: cfg.sortKey, Attributes: fields,
			Encrypted: encrypted, Unsigned: cfg.unsigned, Tenant: cfg.tenantAttr, Version: cfg.version}
		if err := s.codec.setFormat(cfg.format, t, guard); err != nil {
			return nil, err
		}
	}
	if cfg.legacy != nil {
		switch {
		case ring == nil && cfg.format != nil:
			// The manifest is signed with root keys of the Cipher, whatever format the items take.
			return nil, fmt.Errorf("%s needs a Cipher to sign and check its manifest, with an item format too: use WithCipher", cfg.legacy.mode)
		case ring == nil:
			return nil, fmt.Errorf("%s needs a Cipher for the current format: use WithCipher", cfg.legacy.mode)
		}
		if s.codec.legacy, err = newLegacyReader(cfg.legacy, schemaOf(sch, s.keyAttrs, s.version, cfg.headerAttr, cfg.unsigned)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// underCurrentKey returns c's UnderCurrentKey if it is a
// CurrentKeyChecker, else nil.
func underCurrentKey(c Cipher) func(wrapped []byte) bool {
	if checker, ok := c.(CurrentKeyChecker); ok {
		return checker.UnderCurrentKey
	}
	return nil
}

// newGuard returns the Guard of a Store's unwraps, its Cipher's and its
// item format's: WithUnwrapLimit, and the memory of what failed.
func newGuard(cfg *config) (*keyring.Guard, error) {
	return keyring.NewGuard(keyring.GuardConfig{
		Invalid:    func(err error) bool { return errors.Is(err, ErrIntegrity) },
		Free:       refusedLocally,
		FailureTTL: failedKeyTTL,
		Size:       cfg.cacheSize,
		Limit:      cfg.unwrapLimit,
	})
}

// newRing returns the keyring of a Store with Cipher c, under guard (a
// new one if nil).
func newRing(c Cipher, logical string, cfg *config, guard *keyring.Guard) (*keyring.Ring, error) {
	if guard == nil {
		var err error
		if guard, err = newGuard(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.suite != Suite1 && cfg.suite != Suite2 {
		return nil, fmt.Errorf("WithWriteSuite: unknown suite %d", cfg.suite)
	}
	if int64(cfg.rootMaxItems) > MaxRootKeyItems {
		return nil, fmt.Errorf("WithRootKeyMaxItems: %d is more than %d writes per root key", cfg.rootMaxItems, MaxRootKeyItems)
	}
	var local func([]byte) bool
	if l, ok := c.(LocalUnwrapper); ok {
		local = l.UnwrapsLocally
	}
	var tenantKey string
	if cfg.tenantAttr != "" {
		tenantKey = TenantContextKey
	}
	return keyring.New(keyring.Config{
		Cipher:    c,
		TenantKey: tenantKey,
		Context:   map[string]string{TableContextKey: logical},
		MaxAge:    cfg.rootMaxAge,
		MaxItems:  cfg.rootMaxItems,
		CacheSize: cfg.cacheSize,
		NoCache:   cfg.noCache,
		Current:   underCurrentKey(c),
		Local:     local,
		Guard:     guard,
	})
}

// checkUnsigned refuses unsigned attributes that must be signed (keys, the
// version, encrypted ones) and any that equals a field of T apart from case:
// attributevalue matches names to fields case-insensitively, so an unsigned
// "Username" could override a signed field "username" on every read.
func (s *Store[T]) checkUnsigned(sch *schema.Schema) error {
	if err := checkAttributeCount("WithUnsignedAttributes", len(s.cfg.unsigned)); err != nil {
		return err
	}
	for _, attr := range s.cfg.unsigned {
		f, inT := sch.FieldFold(attr)
		switch {
		case inT && f.Attr != attr:
			return fmt.Errorf("unsigned attribute %q differs only in case from %s (attribute %q): attributevalue matches names case-insensitively, so it would override that field", attr, f.Path, f.Attr)
		case (inT && f.Encrypted) || s.isKey(attr) || attr == s.cfg.version || attr == s.cfg.headerAttr:
			return fmt.Errorf("attribute %q cannot be unsigned: key, version, header and encrypted attributes are always signed", attr)
		}
	}
	return nil
}

func (s *Store[T]) isKey(attr string) bool {
	for _, f := range s.keyAttrs {
		if f.Attr == attr {
			return true
		}
	}
	return false
}

// Table returns the table name.
func (s *Store[T]) Table() string { return s.table }

// EncryptedAttributes returns the names of the attributes the Store
// encrypts, sorted. A test can assert it, to catch a field that was meant
// to be secret and is not tagged.
func (s *Store[T]) EncryptedAttributes() []string {
	names := make([]string, 0, len(s.codec.encrypted))
	for name := range s.codec.encrypted {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// KeyAttributes returns the names of the table's key attributes: the
// partition key, then the sort key if the table has one. A consumer of
// items that arrive with their keys apart, such as stream records, checks
// them against these.
func (s *Store[T]) KeyAttributes() []string {
	names := make([]string, len(s.keyAttrs))
	for i, f := range s.keyAttrs {
		names[i] = f.Attr
	}
	return names
}

// fail wraps err in an OpError naming op and the table.
func (s *Store[T]) fail(op string, err error) error { return newOpError(op, s.table, err) }

// Get reads the item with key's key attributes, verifies its signature and
// decrypts its encrypted fields. It returns an error wrapping ErrNotFound if
// there is no such item and ErrIntegrity if it fails verification.
func (s *Store[T]) Get(ctx context.Context, key T, opts ...ReadOption) (*T, error) {
	item, _, err := s.get(ctx, &key, readConfigOf(opts), false)
	if err != nil {
		return nil, s.fail("Get", err)
	}
	return item, nil
}

// readState is what a write needs to know of the item read before it: its
// header, or for an item of the legacy format, the whole stored item.
type readState struct {
	// headerAttr names the item's header attribute, of its format.
	headerAttr string
	header     types.AttributeValue
	legacy     map[string]types.AttributeValue
	// unsigned holds the unsigned attributes as read, which the header
	// does not cover.
	unsigned map[string]types.AttributeValue
	// absent are the attributes the item may hold but did not: unsigned
	// ones, or for a legacy item those of the legacy writer.
	absent []string
}

// readStateOf returns what a conditional write of the stored item raw
// needs to find it unchanged.
func (c *codec) readStateOf(raw map[string]types.AttributeValue) readState {
	r := readState{headerAttr: c.headerOf(raw)}
	r.header = raw[r.headerAttr]
	mayHold := c.unsigned
	if c.isLegacy(raw) {
		r.legacy, mayHold = maps.Clone(raw), c.legacy.allowed
		if c.format != nil {
			r.absent = append(r.absent, c.formatHeader) // nor the format's header
		}
	} else {
		for name := range c.unsigned {
			if v, ok := raw[name]; ok {
				if r.unsigned == nil {
					r.unsigned = map[string]types.AttributeValue{}
				}
				r.unsigned[name] = v
			}
		}
	}
	for name := range mayHold {
		if _, ok := raw[name]; !ok {
			r.absent = append(r.absent, name)
		}
	}
	slices.Sort(r.absent)
	return r
}

// condition adds the condition that the item is still as read: the same
// header (it changes on every write) and unsigned attributes, or for a
// legacy item, still no header and every attribute as it was; and no
// attribute added that it did not hold.
func (r *readState) condition(cond *condition) {
	if r.legacy != nil {
		cond.notExists(r.headerAttr)
		for _, name := range canonical.SortedKeys(r.legacy) {
			cond.equals(name, r.legacy[name])
		}
		for _, name := range r.absent {
			cond.notExists(name)
		}
		return
	}
	cond.equals(r.headerAttr, r.header)
	r.unsignedCondition(cond)
}

// unsignedCondition adds the condition that the unsigned attributes of an
// item in the current format are as read: what neither the header nor the
// version covers.
func (r *readState) unsignedCondition(cond *condition) {
	for _, name := range canonical.SortedKeys(r.unsigned) {
		cond.equals(name, r.unsigned[name])
	}
	for _, name := range r.absent {
		cond.notExists(name)
	}
}

// get reads and opens an item, returning also, if forWrite (Update), what
// a conditional write of it needs.
func (s *Store[T]) get(ctx context.Context, key *T, rc readConfig, forWrite bool) (*T, readState, error) {
	var read readState
	km, err := s.keyOf(key)
	if err != nil {
		return nil, read, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            km,
		ConsistentRead: boolPtr(rc.consistent),
	})
	if err != nil {
		return nil, read, err
	}
	if out.Item == nil {
		return nil, read, ErrNotFound
	}
	if forWrite {
		read = s.codec.readStateOf(out.Item) // before decode, which changes out.Item
	}
	item, err := s.decode(ctx, out.Item, rc.skipDecrypt)
	return item, read, err
}

// decodeMatch decodes an item of a request's answer: nil, with no error,
// for one the request's match refuses.
func (s *Store[T]) decodeMatch(ctx context.Context, av map[string]types.AttributeValue, r *request) (*T, error) {
	if r.match == nil {
		return s.decode(ctx, av, r.qc.skipDecrypt)
	}
	if r.tenant != "" {
		if tenant, _ := s.codec.tenantOf(av); tenant != r.tenant {
			return nil, nil
		}
	}
	if err := s.codec.open(ctx, av, r.qc.skipDecrypt); err != nil {
		return nil, err
	}
	if !r.match(av) {
		return nil, nil
	}
	return s.unmarshalOpened(av)
}

// decode opens a stored item and unmarshals it into a T.
func (s *Store[T]) decode(ctx context.Context, av map[string]types.AttributeValue, skipDecrypt bool) (*T, error) {
	if err := s.codec.open(ctx, av, skipDecrypt); err != nil {
		return nil, err
	}
	return s.unmarshalOpened(av)
}

// unmarshalOpened unmarshals an opened item into a T. Attributes that are
// not fields of T are dropped first: attributevalue matches names
// case-insensitively, so an unsigned "Token" could otherwise fill a field
// "token".
func (s *Store[T]) unmarshalOpened(av map[string]types.AttributeValue) (*T, error) {
	for name := range av {
		if !s.attrs[name] {
			delete(av, name)
		}
	}
	item := new(T)
	if err := unmarshal(av, item); err != nil {
		if len(s.codec.encrypted) > 0 {
			err = redact(err, "unmarshalling into %v", reflect.TypeFor[T]())
		}
		return nil, &unmarshalError{err}
	}
	return item, nil
}

// unmarshal is attributevalue.UnmarshalMap, with its panics (a binary value
// of the wrong length for a [N]byte field, say, which an unsigned attribute
// or an unverified read can carry) turned into errors.
func unmarshal[T any](av map[string]types.AttributeValue, item *T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("attributevalue panicked: %w", panicError(p))
		}
	}()
	return attributevalue.UnmarshalMap(av, item)
}

// Put writes item, encrypting and signing it.
//
// With a version attribute, Put of version 0 creates the item and fails with
// ErrConflict if it exists; Put of version v > 0 succeeds only if the stored
// item has version v, and fails with ErrConflict otherwise. On success the
// item's version field holds the stored version (v+1); on failure item is
// unchanged. Without a version attribute, Put replaces any existing item
// unless IfNotExists is given.
//
// When an attempt gets no definite answer (the connection fails after the
// request was sent, or a 5xx comes back) and the SDK retries, the retry may
// find the item that attempt wrote. Put recognises its own write by the
// item's header, which is unique to the write, and succeeds; when what it
// finds does not tell (another writer came in between), it returns
// ErrOutcomeUnknown, never ErrExists or ErrStale.
func (s *Store[T]) Put(ctx context.Context, item *T, opts ...WriteOption) error {
	wc := writeConfigOf(opts)
	if item == nil {
		return s.fail("Put", errors.New("nil item"))
	}
	if err := s.put(ctx, item, wc, nil); err != nil {
		return s.fail("Put", err)
	}
	return nil
}

// put writes item. If read is set (Update), the write is conditional on the
// stored item being as read.
func (s *Store[T]) put(ctx context.Context, item *T, wc writeConfig, read *readState) error {
	p, err := s.preparePut(ctx, item, wc, read)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: p.item}
	p.cond.apply(&in.ConditionExpression, &in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	if p.cond.means == staleOrGone {
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	rec := newAttempts()
	if _, err := s.db.PutItem(ctx, in, rec.options()...); err != nil {
		if !rec.landedMaybe() {
			return s.conflict(ctx, err, p.cond.means, s.codec.keyOf(p.item))
		}
		if err := s.ownWriteStored(ctx, err, p.item); err != nil {
			return err
		}
	}
	p.done()
	return nil
}

// preparedPut is an item ready to be written: sealed, with the condition
// its write needs.
type preparedPut struct {
	item map[string]types.AttributeValue
	cond condition
	done func() // sets the caller's version once the write succeeded
}

// preparePut marshals, versions and seals item. The condition is that the
// item is as read (Update of a legacy item, or of an unversioned one), or the
// version's (create if 0, else unchanged since version v), or IfNotExists.
func (s *Store[T]) preparePut(ctx context.Context, item *T, wc writeConfig, read *readState) (*preparedPut, error) {
	if wc.ifNotExists && wc.overwrite {
		return nil, errors.New("IfNotExists and Overwrite contradict each other")
	}
	if err := s.sch.CheckValue(reflect.ValueOf(item).Elem()); err != nil {
		return nil, err
	}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return nil, err
	}
	if err := s.checkMarshalled(av); err != nil {
		return nil, err
	}

	if read != nil && read.legacy != nil && s.codec.legacy.manifest == nil && !s.codec.legacy.writesPlaintext {
		return nil, errUnverifiedLegacy
	}
	p := &preparedPut{item: av, done: func() {}}
	if read != nil && (read.legacy != nil || s.version == nil) {
		read.condition(&p.cond)
	}
	switch {
	case s.version != nil:
		v, err := s.versionOf(item)
		if err != nil {
			return nil, err
		}
		if v > 0 && wc.ifNotExists {
			return nil, fmt.Errorf("IfNotExists with version %d: a version above 0 means the item exists", v)
		}
		switch {
		case wc.overwrite:
		case read != nil && read.legacy != nil: // unversioned until now
		case v == 0:
			p.cond = s.createCond
		default:
			if read != nil && (len(read.unsigned) > 0 || len(read.absent) > 0) {
				// Update: another writer may have changed an unsigned
				// attribute without a new version.
				p.cond = condition{means: staleOrGone}
				p.cond.equals(s.version.Attr, versionValue(v))
				read.unsignedCondition(&p.cond)
			} else {
				p.cond = s.versionCondition(v)
			}
		}
		av[s.version.Attr] = versionValue(v + 1)
		p.done = func() { s.setVersion(item, v+1) }
	case read != nil, wc.overwrite:
	case wc.ifNotExists:
		p.cond = s.createCond
	}
	if read != nil && !(wc.ifVersion && read.legacy == nil) {
		p.cond.means = changed // Update retries, whatever the cause
	}
	if s.codec.legacy != nil && s.codec.legacy.writesPlaintext {
		s.plaintext(p, item)
		return p, nil
	}
	if err := s.codec.seal(ctx, av); err != nil {
		return nil, err
	}
	// Not with unsigned attributes: another writer may have changed one
	// under the header since the first attempt, and a retry accepted by
	// the header would undo that. Such a retry fails its condition, and
	// put finds the header instead.
	if hdr, sealed := av[s.codec.writeHeader]; sealed && len(s.codec.unsigned) == 0 {
		p.cond.orOwnHeader(s.codec.writeHeader, hdr)
	}
	return p, nil
}

// checkMarshalled fails closed on a marshalled item that is not what New
// read T to be: an attribute that is not a field of T could be a secret
// under a spelling the codec does not encrypt. It also checks the keys and,
// for a Store without a Cipher (whose codec does not encode values), that
// every value can be stored as given.
func (s *Store[T]) checkMarshalled(av map[string]types.AttributeValue) error {
	for name := range av {
		if !s.attrs[name] {
			return fmt.Errorf("the marshalled item has attribute %q, which is not a field of %v as New read it", name, reflect.TypeFor[T]())
		}
	}
	if err := checkKey(av, s.keyAttrs); err != nil {
		return err
	}
	if !s.codec.seals() {
		var buf []byte
		for name, v := range av {
			var err error
			if buf, err = canonical.Append(buf[:0], v); err != nil {
				return fmt.Errorf("attribute %q: %w", name, err)
			}
		}
	}
	return nil
}

// versionCondition is the condition that the stored version is v.
func (s *Store[T]) versionCondition(v uint64) condition {
	c := s.versionCond
	c.values = map[string]types.AttributeValue{":c0": versionValue(v)}
	return c
}

// boolPtr points to a shared true or false: requests only read it, and a
// pointer into a caller's config would move the config to the heap.
func boolPtr(b bool) *bool {
	if b {
		return &trueValue
	}
	return &falseValue
}

var trueValue, falseValue = true, false

func versionValue(v uint64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(v, 10)}
}

// conflict turns a failed write condition into the error that says what
// happened: ErrExists for a create, ErrStale or (item gone) ErrNotFound for
// a write at a version, all wrapping ErrConflict. To tell stale from gone it
// looks at the item DynamoDB returned with the failure
// (ReturnValuesOnConditionCheckFailure), or, from servers that return none,
// reads it (storedHeader). Other errors come back as they are.
func (s *Store[T]) conflict(ctx context.Context, err error, means failure, key map[string]types.AttributeValue) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return err
	}
	switch means {
	case exists:
		return fmt.Errorf("%w: %w", ErrExists, err)
	case staleOrGone:
		_, present, rerr := s.storedHeader(ctx, err, key)
		if rerr != nil {
			return fmt.Errorf("%w: %w", ErrConflict, err) // stale or gone: the read to tell failed
		}
		if !present {
			return fmt.Errorf("%w: %w", errGone, err)
		}
		return fmt.Errorf("%w: %w", ErrStale, err)
	}
	return conditionFailed(err)
}

// conditionFailed wraps a write's error in ErrConflict if its condition
// failed: the item is not as it was read.
func conditionFailed(err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// keyProjection returns a projection of the key attributes, their names in
// names.
func keyProjection(key map[string]types.AttributeValue, names *map[string]string) string {
	*names = make(map[string]string, len(key))
	var parts []string
	for attr := range key {
		ph := "#k" + strconv.Itoa(len(parts))
		(*names)[ph] = attr
		parts = append(parts, ph)
	}
	return strings.Join(parts, ", ")
}

func (s *Store[T]) versionOf(item *T) (uint64, error) {
	v := reflect.ValueOf(item).Elem().FieldByIndex(s.version.Index)
	var n uint64
	if v.CanInt() {
		if v.Int() < 0 {
			return 0, fmt.Errorf("version %s is negative", s.version.Path)
		}
		n = uint64(v.Int())
	} else {
		n = v.Uint()
	}
	if n == math.MaxUint64 || (v.CanInt() && n == math.MaxInt64) {
		return 0, fmt.Errorf("version %s is at its maximum", s.version.Path)
	}
	return n, nil
}

func (s *Store[T]) setVersion(item *T, n uint64) {
	v := reflect.ValueOf(item).Elem().FieldByIndex(s.version.Index)
	if v.CanInt() {
		v.SetInt(int64(n))
	} else {
		v.SetUint(n)
	}
}

// Delete removes the item with key's key attributes. With a version
// attribute and a non-zero version in key, the delete happens only if the
// stored version matches, and fails with ErrConflict otherwise. Deleting an
// item that does not exist is not an error, unless a version was given.
//
// A delete leaves nothing to recognise it by: when an attempt got no
// definite answer and the call then fails (a retry finding the item gone,
// say), Delete returns ErrOutcomeUnknown, which also wraps ErrNotFound if
// the item is gone, whoever deleted it.
func (s *Store[T]) Delete(ctx context.Context, key T, opts ...WriteOption) error {
	if err := s.delete(ctx, &key, writeConfigOf(opts)); err != nil {
		return s.fail("Delete", err)
	}
	return nil
}

func (s *Store[T]) delete(ctx context.Context, key *T, wc writeConfig) error {
	if wc.ifNotExists || wc.overwrite {
		return errors.New("IfNotExists and Overwrite do not apply to Delete")
	}
	km, cond, err := s.prepareDelete(key)
	if err != nil {
		return err
	}
	in := &dynamodb.DeleteItemInput{TableName: &s.table, Key: km}
	cond.apply(&in.ConditionExpression, &in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	if cond.means == staleOrGone {
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	rec := newAttempts()
	if _, err := s.db.DeleteItem(ctx, in, rec.options()...); err != nil {
		if !rec.landedMaybe() {
			return s.conflict(ctx, err, cond.means, km)
		}
		return s.deleteOutcome(ctx, err, km)
	}
	return nil
}

// prepareDelete returns the key of a delete and its condition: the version,
// if there is a version attribute and key has a non-zero one.
func (s *Store[T]) prepareDelete(key *T) (map[string]types.AttributeValue, condition, error) {
	var cond condition
	km, err := s.keyOf(key)
	if err != nil {
		return nil, cond, err
	}
	if s.version != nil {
		v, err := s.versionOf(key)
		if err != nil {
			return nil, cond, err
		}
		if v > 0 {
			cond = s.versionCondition(v)
		}
	}
	return km, cond, nil
}
