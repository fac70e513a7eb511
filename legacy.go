package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// WithLegacyKMS lets a Store read, and migrate, items of the legacy per-field
// KMS format: no header, each encrypted field stored as the raw KMS
// ciphertext blob of its value, made by KMS Encrypt under keyID with no
// encryption context. This is what Go services do without a library: call KMS
// Encrypt before PutItem and KMS Decrypt after GetItem, one call per field.
// Such items are decrypted with KMS Decrypt naming keyID (one request per
// field, as before) and returned as usual, with version 0.
//
// Legacy items carry no signature, so anyone who can write the table can
// forge one: strip the header of a current item, edit its plaintext
// attributes and paste in another item's ciphertext blob. The options bound
// that risk, and New refuses a legacy mode without them:
//
//   - LegacyUntil (required) ends legacy reading at a date: afterwards an
//     item without a header fails with ErrIntegrity again.
//   - LegacyManifest, or else LegacyUnverified, says what vouches for a
//     legacy item. With a manifest (a signed snapshot taken with
//     [Store.LegacySnapshot] before the migration started), only the legacy
//     items it lists, unchanged, are read; anything else fails with
//     ErrIntegrity before any KMS request, and only such items are written
//     back in the current format by [Store.Update] and [Store.Reencrypt].
//     LegacyUnverified reads any legacy item, as the legacy code did, but
//     never writes one back: Update of a legacy item fails, and Reencrypt
//     refuses to start.
//   - A legacy item may hold only the attributes the legacy writer wrote
//     (LegacyAttributes; by default every field of T except the version
//     attribute), so a current item is not read as legacy by merely
//     removing its header. (Without a manifest, removing the version too
//     suffices: LegacyUnverified trusts the table.)
//
// Legacy values are raw bytes, so encrypted fields must be strings or byte
// slices. keyID must be given: KMS Decrypt without it would decrypt blobs
// under any key the role may use.
func WithLegacyKMS(client KMSClient, keyID string, opts ...LegacyOption) Option {
	return func(c *config) {
		lo := &legacyOptions{client: client, keyID: keyID}
		for _, o := range opts {
			o(lo)
		}
		c.legacy = lo
	}
}

// A LegacyOption configures WithLegacyKMS.
type LegacyOption func(*legacyOptions)

type legacyOptions struct {
	client     KMSClient
	keyID      string
	until      time.Time
	attrs      []string
	manifest   []byte
	unverified bool
}

// LegacyUntil ends the legacy mode at t: from then on, items without a
// header fail with ErrIntegrity, as without WithLegacyKMS. Required: pick
// the date by which the migration will be finished.
func LegacyUntil(t time.Time) LegacyOption { return func(o *legacyOptions) { o.until = t } }

// LegacyAttributes names every attribute the legacy writer stored. An item
// without a header that has any other attribute is not a legacy item: it
// fails with ErrIntegrity. By default, every field of T except the version
// attribute. Key attributes are always allowed.
func LegacyAttributes(attrs ...string) LegacyOption {
	return func(o *legacyOptions) { o.attrs = append(o.attrs, attrs...) }
}

// LegacyManifest makes the Store read only the legacy items listed, unchanged,
// in manifest, a snapshot made by [Store.LegacySnapshot] of this table (same
// logical name, same Cipher). It is signed: its signature is checked, with
// one Cipher call, at the first legacy read.
func LegacyManifest(manifest []byte) LegacyOption {
	return func(o *legacyOptions) { o.manifest = manifest }
}

// LegacyUnverified makes the Store read every legacy item, with no manifest
// to vouch for it: a forged item reads as a real one, as it did with the
// legacy code. In exchange, no legacy item is ever written back in the
// current format (which would sign a forgery): [Store.Update] of one fails
// and [Store.Reencrypt] refuses to run. Use it for the rollout, while legacy
// writers still run, then take a snapshot and switch to LegacyManifest.
func LegacyUnverified() LegacyOption { return func(o *legacyOptions) { o.unverified = true } }

// legacyReader decrypts and checks items of the legacy format.
type legacyReader struct {
	client   KMSClient
	keyID    string
	until    time.Time
	now      func() time.Time
	allowed  map[string]bool // attributes a legacy item may have
	binary   map[string]bool // encrypted attribute -> its field is []byte
	manifest *manifest       // nil: LegacyUnverified
}

// newLegacyReader checks the legacy options against the schema.
func newLegacyReader(o *legacyOptions, sch *schema.Schema, keys []*schema.Field, version *schema.Field, headerAttr string, unsigned []string) (*legacyReader, error) {
	switch {
	case o.client == nil || isNilPointer(o.client):
		return nil, errors.New("WithLegacyKMS: the KMS client is nil")
	case o.keyID == "":
		return nil, errors.New("WithLegacyKMS: a key ID is required (KMS Decrypt without one decrypts under any key the role may use)")
	case o.until.IsZero():
		return nil, errors.New("WithLegacyKMS: LegacyUntil is required: legacy items are unsigned, so reading them must end at a date")
	case (o.manifest == nil) == !o.unverified:
		return nil, errors.New("WithLegacyKMS: give LegacyManifest (a snapshot from Store.LegacySnapshot: only the legacy items it lists are read and migrated) or LegacyUnverified (any legacy item is read, none is migrated)")
	}
	l := &legacyReader{client: o.client, keyID: o.keyID, until: o.until, now: time.Now,
		allowed: map[string]bool{}, binary: map[string]bool{}}
	for _, f := range sch.Encrypted() {
		switch t := f.Type; {
		case t.Kind() == reflect.String:
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			l.binary[f.Attr] = true
		default:
			return nil, fmt.Errorf("%s: WithLegacyKMS needs encrypted fields of type string or []byte (legacy values are raw bytes), not %v", f.Path, t)
		}
	}
	attrs := o.attrs
	if attrs == nil {
		for _, f := range sch.Fields {
			if version == nil || f.Attr != version.Attr {
				attrs = append(attrs, f.Attr)
			}
		}
	}
	for _, a := range attrs {
		if _, ok := sch.Field(a); !ok && !slices.Contains(unsigned, a) {
			return nil, fmt.Errorf("LegacyAttributes: %q is not a field of %v nor an unsigned attribute", a, sch.Type)
		}
		if version != nil && a == version.Attr {
			return nil, fmt.Errorf("LegacyAttributes: %q is the version attribute, which only the current format writes", a)
		}
		l.allowed[a] = true
	}
	for _, f := range keys {
		l.allowed[f.Attr] = true
	}
	for _, a := range unsigned {
		l.allowed[a] = true
	}
	if err := checkAttributeCount("LegacyAttributes (with the keys and unsigned attributes)", len(l.allowed)); err != nil {
		return nil, err
	}
	if o.manifest != nil {
		var err error
		if l.manifest, err = parseManifest(o.manifest); err != nil {
			return nil, fmt.Errorf("LegacyManifest: %w", err)
		}
	}
	delete(l.allowed, headerAttr)
	return l, nil
}

// open checks a legacy item, then decrypts its encrypted attributes in
// place. Every check comes before the first KMS request.
func (l *legacyReader) open(ctx context.Context, item map[string]types.AttributeValue, c *codec, skipDecrypt bool) error {
	if !l.now().Before(l.until) {
		return integrity("item has no %s header, and legacy reading ended at %s (LegacyUntil)", c.headerAttr, l.until.Format(time.RFC3339))
	}
	for name := range item {
		if !l.allowed[name] {
			return integrity("item has no %s header but has attribute %q, which legacy items do not have: a current item whose header was removed?", c.headerAttr, name)
		}
	}
	for name := range c.encrypted {
		if v, ok := item[name]; ok {
			if _, ok := v.(*types.AttributeValueMemberB); !ok {
				return integrity("legacy item: encrypted attribute %q is not binary", name)
			}
		}
	}
	if skipDecrypt {
		// Unverified, as SkipDecryption reads of current items are.
		for name := range c.encrypted {
			delete(item, name)
		}
		return nil
	}
	if l.manifest != nil {
		if err := l.manifest.vouch(ctx, c, item); err != nil {
			return err
		}
	}
	for name := range c.encrypted {
		v, ok := item[name]
		if !ok {
			continue
		}
		blob := v.(*types.AttributeValueMemberB).Value
		// Under the Store's failure cache and limiter, as root keys are: a
		// forger's junk blobs cost a few KMS requests, not one each.
		plain, err := c.ring.Guard(ctx, keyring.Legacy, keyring.LegacyID(blob), func(ctx context.Context) ([]byte, error) {
			out, err := l.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: &l.keyID})
			if err != nil {
				return nil, kmsError("Decrypt", l.keyID, err)
			}
			return out.Plaintext, nil
		})
		if err != nil {
			return fmt.Errorf("legacy attribute %q: %w", name, err)
		}
		if l.binary[name] {
			item[name] = &types.AttributeValueMemberB{Value: plain}
		} else {
			item[name] = &types.AttributeValueMemberS{Value: string(plain)}
		}
	}
	return nil
}

// errUnverifiedLegacy is why a Store with LegacyUnverified does not write a
// legacy item back in the current format.
var errUnverifiedLegacy = errors.New("a legacy item is written back in the current format only if a manifest vouches for it: with LegacyUnverified, a forged legacy item would be signed; take a snapshot (Store.LegacySnapshot) and use LegacyManifest")
