package keywrap

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// HierarchyProviderID is the provider ID of the hierarchical keyring's EDKs.
const HierarchyProviderID = "aws-kms-hierarchy"

// The hierarchical keyring's wrapped intermediate key: salt, IV, branch
// key version, ciphertext, tag.
const (
	hierarchySaltSize    = 16
	hierarchyVersionSize = 16
	hierarchyWrappedSize = hierarchySaltSize + suite.NonceSize + hierarchyVersionSize + suite.KeySize + suite.TagSize
)

// BranchKey is one version of a branch key, as a DB-ESDK key store holds
// it once KMS has decrypted it.
type BranchKey struct {
	// ID is the branch key ID.
	ID string
	// Version is the version's UUID, e.g.
	// "e9ce18a3-edb5-4272-9f86-1cacb7997ff6".
	Version string
	// Key is the 32-byte branch key.
	Key []byte
}

// HierarchyEDK is what an EDK of the hierarchical keyring says of the
// branch key that wrapped it, which a keyring looks up before unwrapping.
type HierarchyEDK struct {
	BranchKeyID string
	Version     string // the version's UUID
}

// ParseHierarchyEDK returns the branch key ID and version an EDK of the
// hierarchical keyring names, and an error for any other EDK.
func ParseHierarchyEDK(edk structure.EDK) (HierarchyEDK, error) {
	if edk.ProviderID != HierarchyProviderID {
		return HierarchyEDK{}, fmt.Errorf("%w: provider ID is not %q", ErrUnwrap, HierarchyProviderID)
	}
	wrapped, err := SplitIntermediate(edk.Ciphertext)
	if err != nil {
		return HierarchyEDK{}, err
	}
	if len(wrapped) != hierarchyWrappedSize {
		return HierarchyEDK{}, fmt.Errorf("%w: hierarchical ciphertext of %d bytes, want %d", ErrUnwrap, len(wrapped), hierarchyWrappedSize)
	}
	v := wrapped[hierarchySaltSize+suite.NonceSize:][:hierarchyVersionSize]
	return HierarchyEDK{BranchKeyID: string(edk.ProviderInfo), Version: formatUUID(v)}, nil
}

// WrapHierarchy generates m's data key if it has none and adds an EDK that
// wraps it under a branch key, as the hierarchical keyring does on encrypt.
func WrapHierarchy(m *structure.EncryptionMaterials, bk *BranchKey) error {
	version, err := parseUUID(bk.Version)
	if err != nil {
		return err
	}
	if err := EnsureDataKey(m); err != nil {
		return err
	}
	ikm, err := newKey(suite.KeySize)
	if err != nil {
		return err
	}
	saltIV, err := newKey(hierarchySaltSize + suite.NonceSize)
	if err != nil {
		return err
	}
	salt, iv := saltIV[:hierarchySaltSize], saltIV[hierarchySaltSize:]
	aead, err := branchWrappingKey(bk.Key, salt)
	if err != nil {
		return err
	}
	wrapped := make([]byte, 0, hierarchyWrappedSize)
	wrapped = append(append(append(wrapped, salt...), iv...), version[:]...)
	wrapped = aead.Seal(wrapped, iv, ikm, hierarchyAAD(bk.ID, version, m.AAD))
	ciphertext, signingKey, err := SealIntermediate(m.DataKey, ikm, wrapped, m.AAD)
	if err != nil {
		return err
	}
	m.AddEDK(structure.EDK{ProviderID: HierarchyProviderID, ProviderInfo: []byte(bk.ID), Ciphertext: ciphertext}, signingKey)
	return nil
}

// UnwrapHierarchy unwraps an EDK of the hierarchical keyring with the
// branch key version it names (see ParseHierarchyEDK) into m.
func UnwrapHierarchy(m *structure.DecryptionMaterials, edk structure.EDK, bk *BranchKey) error {
	named, err := ParseHierarchyEDK(edk)
	if err != nil {
		return err
	}
	if named.BranchKeyID != bk.ID || !strings.EqualFold(named.Version, bk.Version) {
		return fmt.Errorf("%w: the EDK is for another branch key or version", ErrUnwrap)
	}
	wrapped, _ := SplitIntermediate(edk.Ciphertext)
	salt := wrapped[:hierarchySaltSize]
	iv := wrapped[hierarchySaltSize:][:suite.NonceSize]
	var version [hierarchyVersionSize]byte
	copy(version[:], wrapped[hierarchySaltSize+suite.NonceSize:])
	aead, err := branchWrappingKey(bk.Key, salt)
	if err != nil {
		return err
	}
	ikm, err := aead.Open(nil, iv, wrapped[hierarchySaltSize+suite.NonceSize+hierarchyVersionSize:], hierarchyAAD(bk.ID, version, m.AAD))
	if err != nil {
		return fmt.Errorf("%w: the intermediate key does not open under the branch key", ErrUnwrap)
	}
	m.DataKey, m.SigningKey, err = OpenIntermediate(edk.Ciphertext, ikm, m.AAD)
	return err
}

// branchWrappingKey returns AES-256-GCM under the key derived from a branch
// key and a salt: NIST SP 800-108 counter mode with HMAC-SHA-256, label
// "aws-kms-hierarchy", context the salt, 256 bits.
func branchWrappingKey(branchKey, salt []byte) (cipher.AEAD, error) {
	if len(branchKey) != suite.KeySize {
		return nil, fmt.Errorf("keywrap: branch key of %d bytes, want %d", len(branchKey), suite.KeySize)
	}
	mac := hmac.New(sha256.New, branchKey)
	mac.Write([]byte{0, 0, 0, 1})
	mac.Write([]byte(HierarchyProviderID))
	mac.Write([]byte{0})
	mac.Write(salt)
	mac.Write([]byte{0, 0, 1, 0}) // 256 bits
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// hierarchyAAD is the associated data of the wrapped intermediate key.
func hierarchyAAD(branchKeyID string, version [hierarchyVersionSize]byte, ecAAD []byte) []byte {
	aad := make([]byte, 0, len(HierarchyProviderID)+len(branchKeyID)+hierarchyVersionSize+len(ecAAD))
	aad = append(append(aad, HierarchyProviderID...), branchKeyID...)
	return append(append(aad, version[:]...), ecAAD...)
}

// parseUUID returns the 16 bytes of a UUID string (8-4-4-4-12 hex digits).
func parseUUID(s string) ([hierarchyVersionSize]byte, error) {
	var u [hierarchyVersionSize]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, errors.New("keywrap: branch key version is not a UUID")
	}
	digits := s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(digits)); err != nil {
		return u, errors.New("keywrap: branch key version is not a UUID")
	}
	return u, nil
}

// formatUUID returns the lowercase string form of a UUID's 16 bytes.
func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// StaticBranchKey is a hierarchical keyring over one fixed branch key
// version: it wraps with it and unwraps the EDKs that name it. A keyring
// over a key store looks versions up instead; the EDKs are the same.
type StaticBranchKey struct {
	Key BranchKey
}

// OnEncrypt wraps m's data key under the branch key.
func (k *StaticBranchKey) OnEncrypt(_ context.Context, m *structure.EncryptionMaterials) error {
	return WrapHierarchy(m, &k.Key)
}

// UnwrapsLocally reports true: the branch key is at hand.
func (k *StaticBranchKey) UnwrapsLocally(*structure.DecryptionMaterials, []structure.EDK) bool {
	return true
}

// OnDecrypt unwraps the first EDK that names the branch key and opens.
func (k *StaticBranchKey) OnDecrypt(_ context.Context, m *structure.DecryptionMaterials, edks []structure.EDK) error {
	var errs []error
	for _, edk := range edks {
		if edk.ProviderID != HierarchyProviderID || string(edk.ProviderInfo) != k.Key.ID {
			continue
		}
		err := UnwrapHierarchy(m, edk, &k.Key)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: no encrypted data key is for branch key %q", ErrUnwrap, k.Key.ID)
	}
	return errors.Join(errs...)
}
