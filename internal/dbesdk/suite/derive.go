package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math"
)

// fieldNonceLabel starts the AES-CTR counter block of every field key.
const fieldNonceLabel = "AwsDbeField"

// fieldKeySize is a field's key followed by its nonce.
const fieldKeySize = KeySize + NonceSize

// maxFields bounds the encrypted fields of a record: each takes three
// AES-CTR counter values, which must fit in 32 bits.
const maxFields = math.MaxUint32 / 3

// RecordKeys are the keys DB-ESDK derives from a record's data key and
// message ID. They are not safe for concurrent use.
type RecordKeys struct {
	// CommitKey authenticates the header (the header commitment).
	CommitKey [KeySize]byte
	root      cipher.Block // AES-256 under the field root key
	// The counter blocks and key stream of FieldKey, here rather than on
	// its stack, which the cipher.Block interface would move to the heap.
	ctr, stream [3 * aes.BlockSize]byte
}

// DeriveRecordKeys derives a record's commit key and field root key from its
// plaintext data key and message ID, with HKDF-SHA-512.
func DeriveRecordKeys(dataKey, messageID []byte) (*RecordKeys, error) {
	k := &RecordKeys{}
	if err := k.Derive(dataKey, messageID); err != nil {
		return nil, err
	}
	return k, nil
}

// Derive is DeriveRecordKeys into k, which a caller keeps from record to
// record (and wipes with Reset).
func (k *RecordKeys) Derive(dataKey, messageID []byte) error {
	if len(dataKey) != KeySize || len(messageID) != MessageIDSize {
		return fmt.Errorf("suite: data key of %d bytes or message ID of %d bytes", len(dataKey), len(messageID))
	}
	var root [KeySize]byte
	hkdfSHA512([][]byte{k.CommitKey[:], root[:]}, dataKey, "AWS_DBE_", []string{"COMMIT_KEY", "DERIVE_KEY"}, messageID)
	block, err := aes.NewCipher(root[:])
	clear(root[:])
	if err != nil {
		return err
	}
	k.root = block
	return nil
}

// Reset wipes k's keys.
func (k *RecordKeys) Reset() {
	clear(k.CommitKey[:])
	k.root = nil
	clear(k.ctr[:])
	k.Wipe()
}

// Commitment returns the header commitment of a partial header: the first
// 32 bytes of its HMAC-SHA-512 under the commit key.
func (k *RecordKeys) Commitment(partialHeader []byte) [CommitmentSize]byte {
	h := hmacSHA512.Get().(*hmacState)
	h.reset(k.CommitKey[:])
	h.write(partialHeader)
	var out [CommitmentSize]byte
	copy(out[:], h.sum())
	h.release(&hmacSHA512)
	return out
}

// FieldKey returns the AES-256-GCM key and nonce of the encrypted field at
// offset, the field's position among the record's encrypted fields in
// canonical path order: the first 44 bytes of AES-256-CTR under the field
// root key from the counter block "AwsDbeField" || 0x2c || uint32(3*offset).
func (k *RecordKeys) FieldKey(offset int) (key [KeySize]byte, nonce [NonceSize]byte, err error) {
	stream, err := k.FieldStream(offset)
	if err != nil {
		return key, nonce, err
	}
	copy(key[:], stream[:KeySize])
	copy(nonce[:], stream[KeySize:])
	k.Wipe()
	return key, nonce, nil
}

// FieldStream is FieldKey without copies: the key followed by the nonce,
// in k's own buffer, valid until the next call; the caller wipes it with
// Wipe once done.
func (k *RecordKeys) FieldStream(offset int) ([]byte, error) {
	if offset < 0 || offset >= maxFields {
		return nil, fmt.Errorf("suite: too many encrypted fields")
	}
	for i := range 3 {
		block := k.ctr[i*aes.BlockSize : (i+1)*aes.BlockSize]
		copy(block, fieldNonceLabel)
		block[len(fieldNonceLabel)] = fieldKeySize
		binary.BigEndian.PutUint32(block[12:], uint32(3*offset+i))
		k.root.Encrypt(k.stream[i*aes.BlockSize:], block)
	}
	return k.stream[:fieldKeySize:fieldKeySize], nil
}

// Wipe clears the field key FieldStream left in k.
func (k *RecordKeys) Wipe() { clear(k.stream[:]) }
