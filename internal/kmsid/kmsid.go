// Package kmsid is what the project's two KMS clients (dynacrypt.KMSCipher
// and the key store) know of KMS keys and answers in common: how KMS spells
// a key ID, what a configured key names without asking KMS, and which of
// KMS's errors are its verdict on a ciphertext.
package kmsid

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// MaxBlob is the longest ciphertext blob KMS Decrypt accepts.
const MaxBlob = 6144

// IsKeyID reports whether s is a KMS key ID as KMS writes it: a lowercase
// UUID, or "mrk-" and 32 lowercase hex digits for a multi-region key. A
// spelling it does not recognise is left for KMS to resolve, never guessed.
func IsKeyID(s string) bool {
	if hex, ok := strings.CutPrefix(s, "mrk-"); ok {
		return len(hex) == 32 && strings.Trim(hex, "0123456789abcdef") == ""
	}
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
	}
	return true
}

// OfARN returns the key ID of a KMS key ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID).
func OfARN(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, ":") // partition, service, region, account, resource
	if len(parts) != 5 || parts[1] != "kms" {
		return "", false
	}
	id, ok := strings.CutPrefix(parts[4], "key/")
	return id, ok && IsKeyID(id)
}

// Configured returns the key ID that a configured identifier names without
// asking KMS: a key ARN or a key ID. Anything else, an alias above all,
// only KMS can resolve.
func Configured(id string) (string, bool) {
	if strings.HasPrefix(id, "arn:") {
		return OfARN(id)
	}
	return id, IsKeyID(id)
}

// Rejected reports whether err carries KMS's verdict that a ciphertext is
// not valid under the key and context a Decrypt named
// (InvalidCiphertextException, IncorrectKeyException).
func Rejected(err error) bool {
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	return errors.As(err, &invalid) || errors.As(err, &incorrect)
}

// Error describes a failed KMS call naming keyID ("" when KMS took the key
// from the blob). KMS's verdict on a ciphertext (Rejected) wraps integrity
// (the caller's ErrIntegrity) and the exception; anything else (throttling,
// access denied, a disabled key, the network) says nothing about the
// ciphertext and wraps only the cause, so that a throttled call never
// reads as tampering.
func Error(call, keyID string, err, integrity error) error {
	what := "KMS " + call
	if keyID != "" {
		what += " under " + keyID
	}
	if Rejected(err) {
		return fmt.Errorf("%w: %s: %w", integrity, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
