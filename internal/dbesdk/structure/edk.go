package structure

// EDK is an encrypted data key as the header stores it.
type EDK struct {
	// ProviderID names the keyring type: the raw AES keyring's key
	// namespace, "aws-kms", "aws-kms-hierarchy".
	ProviderID string
	// ProviderInfo is keyring-specific: a key name, a KMS key ARN, a
	// branch key ID.
	ProviderInfo []byte
	// Ciphertext is the wrapped data key.
	Ciphertext []byte
}
