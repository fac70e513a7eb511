package structure

import (
	"context"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// Keyring supplies a record's data key: it generates and wraps it on
// encrypt, and unwraps it on decrypt (mpl/framework/keyring-interface.md).
// Raw AES, AWS KMS and hierarchical keyrings implement it; the Encryptor
// plays DB-ESDK's default and required-encryption-context CMMs around it,
// and wipes the data key a keyring set once the record is done, so a
// keyring must not keep or share that slice.
type Keyring interface {
	// OnEncrypt generates m.DataKey if it is nil, wraps it and appends an
	// encrypted data key and its symmetric signing key to m (with
	// AddEDK). It must not change m's suite or context.
	OnEncrypt(ctx context.Context, m *EncryptionMaterials) error
	// OnDecrypt unwraps one of edks into m.DataKey and sets m.SigningKey
	// to that EDK's symmetric signing key. It returns an error when none
	// unwraps, and must not change m's suite or context.
	OnDecrypt(ctx context.Context, m *DecryptionMaterials, edks []EDK) error
}

// A LocalKeyring is a Keyring that can tell, before OnDecrypt, that
// unwrapping one of edks will make no key service request: its key is at
// hand (a raw AES key, a branch key in its cache), or it will refuse them
// all outright. Callers that bound key service requests (a Store's unwrap
// limit) do not count such unwraps. A Keyring that does not implement it
// is taken to make a request for every OnDecrypt.
type LocalKeyring interface {
	Keyring
	UnwrapsLocally(m *DecryptionMaterials, edks []EDK) bool
}

// EncryptionMaterials are a record's materials while its keyring works.
type EncryptionMaterials struct {
	// Suite is the record's algorithm suite.
	Suite suite.ID
	// Context is the record's full encryption context. Keyrings
	// authenticate it: see AAD.
	Context Context
	// AAD is Context serialized as the material providers specify, the
	// additional authenticated data of keyrings' wrapping.
	AAD []byte
	// DataKey is the plaintext data key: nil until a keyring generates it,
	// then suite.KeySize random bytes.
	DataKey []byte
	// EDKs are the encrypted data keys so far.
	EDKs []EDK
	// SigningKeys are the symmetric signing keys of EDKs, index for index:
	// each recipient's key for its recipient tag.
	SigningKeys [][]byte
}

// AddEDK appends an encrypted data key and its symmetric signing key.
func (m *EncryptionMaterials) AddEDK(edk EDK, signingKey []byte) {
	m.EDKs = append(m.EDKs, edk)
	m.SigningKeys = append(m.SigningKeys, signingKey)
}

// DecryptionMaterials are a record's materials while its keyring works.
type DecryptionMaterials struct {
	// Suite is the record's algorithm suite, from its header.
	Suite suite.ID
	// Context is the record's full encryption context: the header's and
	// the one reproduced from the item.
	Context Context
	// AAD is Context serialized as the material providers specify.
	AAD []byte
	// DataKey is the plaintext data key the keyring unwrapped.
	DataKey []byte
	// SigningKey is the symmetric signing key of the EDK that unwrapped.
	SigningKey []byte
}
