package keywrap

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
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
	// kdf is the wrapping keys' KDF under Key, once Prepare made it.
	kdf *suite.KeyedHMAC
}

// Prepare readies bk for many wraps and unwraps: the HMAC states of the
// KDF under its key are computed once rather than per item. Call it before
// sharing bk; without it each wrap and unwrap computes them. Wipe clears
// them with the key.
func (bk *BranchKey) Prepare() error {
	if len(bk.Key) != suite.KeySize {
		return fmt.Errorf("keywrap: branch key of %d bytes, want %d", len(bk.Key), suite.KeySize)
	}
	bk.kdf = suite.NewKeyedHMAC(bk.Key)
	return nil
}

// Wipe clears bk's key and the states Prepare computed (in bk and in any
// copy of it): bk must not be used after.
func (bk *BranchKey) Wipe() {
	clear(bk.Key)
	if bk.kdf != nil {
		bk.kdf.Clear()
	}
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
	// One random read gives the intermediate key, then the salt and IV.
	random, err := newKey(suite.KeySize + hierarchySaltSize + suite.NonceSize)
	if err != nil {
		return err
	}
	defer clear(random[:suite.KeySize])
	ikm, salt, iv := random[:suite.KeySize], random[suite.KeySize:][:hierarchySaltSize], random[suite.KeySize+hierarchySaltSize:]
	aead, err := branchWrappingKey(bk, salt)
	if err != nil {
		return err
	}
	// One allocation holds the EDK's ciphertext: the data key sealed under
	// the intermediate key, then the salt, IV, version and the
	// intermediate key sealed under the branch key.
	ciphertext, signingKey, err := appendSealedDataKey(make([]byte, 0, sealedDataKeySize+hierarchyWrappedSize), m.DataKey, ikm, m.AAD)
	if err != nil {
		return err
	}
	ciphertext = append(append(append(ciphertext, salt...), iv...), version[:]...)
	ciphertext = aead.Seal(ciphertext, iv, ikm, hierarchyAAD(bk.ID, version, m.AAD))
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
	aead, err := branchWrappingKey(bk, salt)
	if err != nil {
		return err
	}
	ikm, err := aead.Open(nil, iv, wrapped[hierarchySaltSize+suite.NonceSize+hierarchyVersionSize:], hierarchyAAD(bk.ID, version, m.AAD))
	if err != nil {
		return fmt.Errorf("%w: the intermediate key does not open under the branch key", ErrUnwrap)
	}
	m.DataKey, m.SigningKey, err = OpenIntermediate(edk.Ciphertext, ikm, m.AAD)
	clear(ikm)
	return err
}

// branchWrappingKey returns AES-256-GCM under the key derived from a branch
// key and a salt: NIST SP 800-108 counter mode with HMAC-SHA-256, label
// "aws-kms-hierarchy", context the salt, 256 bits.
func branchWrappingKey(bk *BranchKey, salt []byte) (cipher.AEAD, error) {
	kdf := bk.kdf
	if kdf == nil {
		if len(bk.Key) != suite.KeySize {
			return nil, fmt.Errorf("keywrap: branch key of %d bytes, want %d", len(bk.Key), suite.KeySize)
		}
		kdf = suite.NewKeyedHMAC(bk.Key)
		defer kdf.Clear()
	}
	var msg [4 + len(HierarchyProviderID) + 1 + hierarchySaltSize + 4]byte
	binary.BigEndian.PutUint32(msg[:], 1) // the counter
	n := 4 + copy(msg[4:], HierarchyProviderID)
	msg[n] = 0
	n += 1 + copy(msg[n+1:], salt)
	binary.BigEndian.PutUint32(msg[n:], 256) // bits
	key := kdf.Sum(msg[:])
	block, err := aes.NewCipher(key[:])
	clear(key[:])
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
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '-' {
			i++
			continue
		}
		hi, okHi := fromHex(s[i])
		lo, okLo := fromHex(s[i+1])
		if !okHi || !okLo {
			return u, errors.New("keywrap: branch key version is not a UUID")
		}
		u[n] = hi<<4 | lo
		n, i = n+1, i+2
	}
	return u, nil
}

// fromHex returns the value of a hexadecimal digit.
func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
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
