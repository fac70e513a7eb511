package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"math"
)

// HKDF info labels, each followed by the message ID.
const (
	commitLabel = "AWS_DBE_COMMIT_KEY"
	deriveLabel = "AWS_DBE_DERIVE_KEY"
)

// fieldNonceLabel starts the AES-CTR counter block of every field key.
const fieldNonceLabel = "AwsDbeField"

// fieldKeySize is a field's key followed by its nonce.
const fieldKeySize = KeySize + NonceSize

// maxFields bounds the encrypted fields of a record: each takes three
// AES-CTR counter values, which must fit in 32 bits.
const maxFields = math.MaxUint32 / 3

// RecordKeys are the keys DB-ESDK derives from a record's data key and
// message ID.
type RecordKeys struct {
	// CommitKey authenticates the header (the header commitment).
	CommitKey [KeySize]byte
	root      cipher.Block // AES-256 under the field root key
}

// DeriveRecordKeys derives a record's commit key and field root key from its
// plaintext data key and message ID, with HKDF-SHA-512.
func DeriveRecordKeys(dataKey, messageID []byte) (*RecordKeys, error) {
	if len(dataKey) != KeySize || len(messageID) != MessageIDSize {
		return nil, fmt.Errorf("suite: data key of %d bytes or message ID of %d bytes", len(dataKey), len(messageID))
	}
	prk, err := hkdf.Extract(sha512.New, dataKey, nil)
	if err != nil {
		return nil, err
	}
	info := make([]byte, len(commitLabel)+MessageIDSize)
	copy(info[len(commitLabel):], messageID)
	copy(info, commitLabel)
	commit, err := hkdf.Expand(sha512.New, prk, string(info), KeySize)
	if err != nil {
		return nil, err
	}
	copy(info, deriveLabel)
	root, err := hkdf.Expand(sha512.New, prk, string(info), KeySize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(root)
	if err != nil {
		return nil, err
	}
	k := &RecordKeys{root: block}
	copy(k.CommitKey[:], commit)
	return k, nil
}

// Commitment returns the header commitment of a partial header: the first
// 32 bytes of its HMAC-SHA-512 under the commit key.
func (k *RecordKeys) Commitment(partialHeader []byte) [CommitmentSize]byte {
	mac := hmac.New(sha512.New, k.CommitKey[:])
	mac.Write(partialHeader)
	var sum [sha512.Size]byte
	var out [CommitmentSize]byte
	copy(out[:], mac.Sum(sum[:0]))
	return out
}

// FieldKey returns the AES-256-GCM key and nonce of the encrypted field at
// offset, the field's position among the record's encrypted fields in
// canonical path order: the first 44 bytes of AES-256-CTR under the field
// root key from the counter block "AwsDbeField" || 0x2c || uint32(3*offset).
func (k *RecordKeys) FieldKey(offset int) (key [KeySize]byte, nonce [NonceSize]byte, err error) {
	if offset < 0 || offset >= maxFields {
		return key, nonce, fmt.Errorf("suite: too many encrypted fields")
	}
	var ctr, stream [3 * aes.BlockSize]byte
	for i := range 3 {
		block := ctr[i*aes.BlockSize : (i+1)*aes.BlockSize]
		copy(block, fieldNonceLabel)
		block[len(fieldNonceLabel)] = fieldKeySize
		binary.BigEndian.PutUint32(block[12:], uint32(3*offset+i))
		k.root.Encrypt(stream[i*aes.BlockSize:], block)
	}
	copy(key[:], stream[:KeySize])
	copy(nonce[:], stream[KeySize:fieldKeySize])
	return key, nonce, nil
}
