package dynacrypt

import (
	"errors"
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// kmsError: temporary until the kms-identity branch lands.
func kmsError(call, keyID string, err error) error {
	var invalid *kmstypes.InvalidCiphertextException
	var incorrect *kmstypes.IncorrectKeyException
	if errors.As(err, &invalid) || errors.As(err, &incorrect) {
		return fmt.Errorf("%w: KMS %s under %s: %w", ErrIntegrity, call, keyID, err)
	}
	return fmt.Errorf("KMS %s under %s: %w", call, keyID, err)
}

// UnderCurrentKey reports whether ciphertext was made under the key c
// encrypts with (as opposed to one of its previous keys, or an unknown one).
func (c *KMSCipher) UnderCurrentKey(ciphertext []byte) bool {
	return c.keyFor(ciphertext) == &c.keys[0]
}
