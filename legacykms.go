package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/internal/keyring"
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
		lo := &legacyOptions{mode: legacyKMSMode, values: legacyKMS{client: client, keyID: keyID}}
		for _, o := range opts {
			o(lo)
		}
		setLegacy(c, lo)
	}
}

const legacyKMSMode = "WithLegacyKMS"

// legacyKMS is the legacy per-field KMS format: each encrypted attribute
// the raw KMS ciphertext blob of its value.
type legacyKMS struct {
	client KMSClient
	keyID  string
}

func (f legacyKMS) values(_ *legacyOptions, t *legacySchema) (legacyValues, error) {
	switch {
	case f.client == nil || isNilPointer(f.client):
		return nil, errors.New("WithLegacyKMS: the KMS client is nil")
	case f.keyID == "":
		return nil, errors.New("WithLegacyKMS: a key ID is required (KMS Decrypt without one decrypts under any key the role may use)")
	}
	v := &kmsBlobs{legacyKMS: f, binary: map[string]bool{}}
	for _, e := range t.encrypted {
		switch typ := e.Type; {
		case typ.Kind() == reflect.String:
		case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8:
			v.binary[e.Attr] = true
		default:
			return nil, fmt.Errorf("%s: WithLegacyKMS needs encrypted fields of type string or []byte (legacy values are raw bytes), not %v", e.Path, typ)
		}
	}
	return v, nil
}

// kmsBlobs opens the encrypted attributes of legacy KMS items.
type kmsBlobs struct {
	legacyKMS
	binary map[string]bool // encrypted attribute -> its field is []byte
}

func (k *kmsBlobs) check(name string, v types.AttributeValue) error {
	if _, ok := v.(*types.AttributeValueMemberB); !ok {
		return integrity("legacy item: encrypted attribute %q is not binary", name)
	}
	return nil
}

// open decrypts each encrypted attribute with KMS Decrypt, one request per
// attribute.
func (k *kmsBlobs) open(ctx context.Context, c *codec, item map[string]types.AttributeValue) error {
	for name := range c.encrypted {
		v, ok := item[name]
		if !ok {
			continue
		}
		blob := v.(*types.AttributeValueMemberB).Value // binary: checked first
		// Under the Store's failure cache and limiter, as root keys are: a
		// forger's junk blobs cost a few KMS requests, not one each.
		plain, err := c.ring.Guard(ctx, keyring.Legacy, keyring.LegacyID(blob), func(ctx context.Context) ([]byte, error) {
			out, err := k.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: &k.keyID})
			if err != nil {
				return nil, kmsError("Decrypt", k.keyID, err)
			}
			return out.Plaintext, nil
		})
		if err != nil {
			return fmt.Errorf("legacy attribute %q: %w", name, err)
		}
		if k.binary[name] {
			item[name] = &types.AttributeValueMemberB{Value: plain}
		} else {
			item[name] = &types.AttributeValueMemberS{Value: string(plain)}
		}
	}
	return nil
}
