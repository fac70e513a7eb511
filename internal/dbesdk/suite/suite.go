package suite

import (
	"errors"
	"fmt"
)

// ID is an algorithm suite ID.
type ID uint16

// The suites DB-ESDK supports.
const (
	// SymSig is DB-ESDK's ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384:
	// records are authenticated by HMAC-SHA-384 recipient tags only, so
	// anyone who can decrypt a record can also forge one.
	SymSig ID = 0x6700
	// ECDSASymSig is DB-ESDK's default,
	// ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384:
	// the tags and an ECDSA P-384 signature by a key pair made for each
	// record, so readers cannot forge records.
	ECDSASymSig ID = 0x6701
)

// family is the first byte of every DB-ESDK suite ID; the header stores
// only the second, the flavor.
const family = 0x67

// Sizes of the suites' keys and fields, in bytes.
const (
	KeySize          = 32  // data keys, commit keys, field keys (AES-256)
	NonceSize        = 12  // AES-GCM nonces
	TagSize          = 16  // AES-GCM tags
	MessageIDSize    = 32  // a record's random message ID
	CommitmentSize   = 32  // the header commitment
	RecipientTagSize = 48  // an HMAC-SHA-384 recipient tag
	SignatureSize    = 103 // a DER-encoded ECDSA P-384 signature
)

// ErrUnsupported is returned (wrapped) for a suite or flavor DB-ESDK does
// not define.
var ErrUnsupported = errors.New("unsupported algorithm suite")

// FromFlavor returns the suite whose second byte is flavor, as the header
// stores it.
func FromFlavor(flavor byte) (ID, error) {
	return Parse(family<<8 | ID(flavor))
}

// Parse returns id if it is a suite DB-ESDK supports.
func Parse(id ID) (ID, error) {
	switch id {
	case SymSig, ECDSASymSig:
		return id, nil
	}
	return 0, fmt.Errorf("%w: %#04x", ErrUnsupported, uint16(id))
}

// Flavor returns the suite's second byte, which the header stores.
func (id ID) Flavor() byte { return byte(id) }

// Signed reports whether the suite signs records with ECDSA P-384.
func (id ID) Signed() bool { return id == ECDSASymSig }

// String returns the suite ID in hex, as DB-ESDK's configurations write it.
func (id ID) String() string { return fmt.Sprintf("%04x", uint16(id)) }
