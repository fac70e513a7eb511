package dynacrypt

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// WithLegacyKMS lets a Store read items written the way of the original
// article: no header, and each encrypted field stored as the raw KMS
// ciphertext blob of its value, made by KMS Encrypt under keyID with no
// encryption context. Such items are decrypted with KMS Decrypt (one request
// per field, as before) and returned as usual; Update, and the
// re-encryption walk (Store.Reencrypt), write them back in dynacrypt's format,
// on condition that nobody changed them meanwhile. keyID names the key on
// Decrypt, as AWS advises; "" lets KMS take it from the blob.
//
// Legacy values are raw bytes, so encrypted fields must be strings or byte
// slices. Legacy items have no signature: nothing detects their tampering,
// which is why they should be re-encrypted. Without this option an item with
// no header fails with ErrIntegrity.
func WithLegacyKMS(client KMSClient, keyID string) Option {
	return func(c *config) { c.legacy = &legacyReader{client: client, keyID: keyID} }
}

// legacyReader decrypts the article's per-field KMS blobs.
type legacyReader struct {
	client KMSClient
	keyID  string
	binary map[string]bool // encrypted attribute -> the field is []byte
}

// prepare records how each encrypted field takes its plaintext bytes.
func (l *legacyReader) prepare(encrypted []*schema.Field) (*legacyReader, error) {
	out := &legacyReader{client: l.client, keyID: l.keyID, binary: map[string]bool{}}
	for _, f := range encrypted {
		switch t := f.Type; {
		case t.Kind() == reflect.String:
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
			out.binary[f.Attr] = true
		default:
			return nil, fmt.Errorf("%s: WithLegacyKMS needs encrypted fields of type string or []byte (legacy values are raw bytes), not %v", f.Path, t)
		}
	}
	return out, nil
}

// open decrypts a legacy item's encrypted attributes in place.
func (l *legacyReader) open(ctx context.Context, item map[string]types.AttributeValue, encrypted map[string]*[itemcrypt.NonceSize]byte, skipDecrypt bool) error {
	for name := range encrypted {
		v, ok := item[name]
		if !ok {
			continue
		}
		if skipDecrypt {
			delete(item, name)
			continue
		}
		b, ok := v.(*types.AttributeValueMemberB)
		if !ok {
			return integrity("legacy item: encrypted attribute %q is not binary", name)
		}
		in := &kms.DecryptInput{CiphertextBlob: b.Value}
		if l.keyID != "" {
			in.KeyId = &l.keyID
		}
		out, err := l.client.Decrypt(ctx, in)
		if err != nil {
			var invalid *kmstypes.InvalidCiphertextException
			var incorrect *kmstypes.IncorrectKeyException
			if errors.As(err, &invalid) || errors.As(err, &incorrect) {
				return fmt.Errorf("%w: legacy attribute %q: KMS Decrypt: %w", ErrIntegrity, name, err)
			}
			return fmt.Errorf("legacy attribute %q: KMS Decrypt: %w", name, err)
		}
		if l.binary[name] {
			item[name] = &types.AttributeValueMemberB{Value: out.Plaintext}
		} else {
			item[name] = &types.AttributeValueMemberS{Value: string(out.Plaintext)}
		}
	}
	return nil
}
