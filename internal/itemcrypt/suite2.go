package itemcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
)

// Suite 2 (FORMAT.md §2, "suite 2") encrypts a whole item in one AES-256-GCM
// call under a key derived once per root key: the plaintext is the
// canonical encodings of the encrypted attributes, the associated data is
// the signed part of the header and every signed attribute (encrypted ones
// by name and length), and the GCM tag is the item's authenticator. Suite 1
// derives a key per item and signs with HMAC-SHA-256; suite 2 does neither
// per item, which is what makes it cheaper.

const itemKeyLabel = "dynacrypt/v2 item key"

// EncryptedMark stands, in suite 2's associated data, where a plaintext
// attribute has its canonical encoding: an encrypted attribute is written
// as its name, this byte (no canonical type tag has it), and the length of
// its ciphertext. So an attribute a reader takes for plaintext that the
// writer encrypted (or the reverse) changes the associated data.
const EncryptedMark = 0xff

// ItemKey is suite 2's item key: AES-256-GCM under a key derived from a
// root key for one table. It is safe for concurrent use.
type ItemKey struct {
	aead  cipher.AEAD
	table string
}

// NewItemKey derives suite 2's item key of a root key:
// HKDF-SHA-256(secret = root, salt = none, info = label || 0x00 || u8(2) ||
// lp(table), 32 bytes).
func NewItemKey(root []byte, table string) (*ItemKey, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("root key is %d bytes, want %d", len(root), RootKeySize)
	}
	info := append([]byte(itemKeyLabel), 0, header.SuiteV2)
	info = canonical.AppendName(info, table)
	aead, err := DeriveAEAD(root, nil, info)
	if err != nil {
		return nil, err
	}
	return &ItemKey{aead: aead, table: table}, nil
}

// NewAEAD returns AES-256-GCM (12-byte nonces, 16-byte tags) under a
// 32-byte key.
func NewAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// DeriveAEAD returns AES-256-GCM under the 32-byte key HKDF-SHA-256 derives
// from secret, salt and info.
func DeriveAEAD(secret, salt, info []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, salt, string(info), 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return NewAEAD(key)
}

// Table returns the logical table name the key was derived for.
func (k *ItemKey) Table() string { return k.table }

// scratch holds an item's associated data while it is sealed or opened,
// and the ciphertexts open gathers. It never holds plaintext: Seal encodes
// the plaintext where its ciphertext goes and encrypts it there, and open
// decrypts into a buffer the decoded values then own. So it is safe to
// pool.
type scratch struct {
	aad  []byte
	lens []int
	cts  [][]byte // open: the item's ciphertexts, in the order of names
}

var scratchPool = sync.Pool{New: func() any { return &scratch{aad: make([]byte, 0, 1024)} }}

// maxPooledScratch bounds the associated data a scratch keeps in the pool,
// so that one item of large plaintext attributes does not keep its size of
// memory for good.
const maxPooledScratch = 64 << 10

func (s *scratch) release() {
	clear(s.cts) // references into an item, which may be large
	if cap(s.aad) > maxPooledScratch {
		return
	}
	s.aad, s.lens, s.cts = s.aad[:0], s.lens[:0], s.cts[:0]
	scratchPool.Put(s)
}

// appendEncrypted appends an encrypted attribute of n ciphertext bytes to
// the associated data.
func (s *scratch) appendEncrypted(name string, n int) {
	s.aad = canonical.AppendName(s.aad, name)
	s.aad = append(s.aad, EncryptedMark)
	s.aad = binary.AppendUvarint(s.aad, uint64(n))
	s.lens = append(s.lens, n)
}

// Seal encrypts item under suite 2. names are the item's signed attributes
// in ascending order; those in encrypted are encrypted, the others only
// authenticated. It appends to dst the ciphertext of each encrypted
// attribute, in the order of names, then the tag, and appends their lengths
// to lens. It encodes the plaintext into dst and encrypts it there, so with
// room in dst for the encodings and the tag it makes no copy and allocates
// nothing.
func (k *ItemKey) Seal(dst []byte, lens []int, nonce, headerSigned []byte, names []string, encrypted map[string]*Field, item map[string]types.AttributeValue) ([]byte, []int, error) {
	s := scratchPool.Get().(*scratch)
	defer s.release()
	start := len(dst)
	err := s.build(headerSigned, names, encrypted, item, func(name string, v types.AttributeValue) error {
		enc, err := canonical.Append(dst, v)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
		s.appendEncrypted(name, len(enc)-len(dst))
		dst = enc
		return nil
	})
	if err != nil {
		clear(dst[start:cap(dst)]) // the plaintext encoded so far
		return nil, nil, err
	}
	dst = slices.Grow(dst, Overhead) // room for the tag: GCM seals in place
	return k.aead.Seal(dst[:start], nonce, dst[start:], s.aad), append(lens, s.lens...), nil
}

// build starts the associated data with the header's signed part and adds
// the attributes of names in order: the plaintext ones itself, the
// encrypted ones through encrypt.
func (s *scratch) build(headerSigned []byte, names []string, encrypted map[string]*Field, item map[string]types.AttributeValue,
	encrypt func(name string, v types.AttributeValue) error) error {
	s.aad = append(s.aad, headerSigned...)
	for _, name := range names {
		v := item[name]
		if _, ok := encrypted[name]; ok {
			if err := encrypt(name, v); err != nil {
				return err
			}
			continue
		}
		s.aad = canonical.AppendName(s.aad, name)
		var err error
		if s.aad, err = canonical.Append(s.aad, v); err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
	}
	return nil
}

// Open authenticates item under suite 2 (the tag given, names and
// encrypted as for Seal, each encrypted attribute holding its ciphertext as
// a binary) and, only if the tag matches, replaces each encrypted attribute
// with its decoded plaintext. It reports false, changing nothing, when the
// tag does not match; an error is for an item that cannot be what Seal
// wrote (an encrypted attribute that is not binary, a plaintext that does
// not decode).
func (k *ItemKey) Open(tag, nonce, headerSigned []byte, names []string, encrypted map[string]*Field, item map[string]types.AttributeValue) (bool, error) {
	return k.open(tag, nonce, headerSigned, names, encrypted, item, true)
}

// Authentic reports whether the tag matches as Open would, changing
// nothing.
func (k *ItemKey) Authentic(tag, nonce, headerSigned []byte, names []string, encrypted map[string]*Field, item map[string]types.AttributeValue) bool {
	ok, err := k.open(tag, nonce, headerSigned, names, encrypted, item, false)
	return ok && err == nil
}

func (k *ItemKey) open(tag, nonce, headerSigned []byte, names []string, encrypted map[string]*Field, item map[string]types.AttributeValue, apply bool) (bool, error) {
	if len(tag) != header.TagSize || len(nonce) != header.NonceSize {
		return false, nil
	}
	s := scratchPool.Get().(*scratch)
	defer s.release()
	err := s.build(headerSigned, names, encrypted, item, func(name string, v types.AttributeValue) error {
		b, ok := v.(*types.AttributeValueMemberB)
		if !ok {
			return fmt.Errorf("attribute %q: %w: encrypted attribute is not binary", name, ErrOpen)
		}
		s.cts = append(s.cts, b.Value)
		s.appendEncrypted(name, len(b.Value))
		return nil
	})
	if err != nil {
		return false, err
	}
	// GCM takes the ciphertexts and the tag in one piece: gathered into a
	// buffer of their own (bytes.Join does not zero it first), decrypted
	// there, so that the item's stay as they are.
	s.cts = append(s.cts, tag)
	sealed := bytes.Join(s.cts, nil)
	plain, err := k.aead.Open(sealed[:0], nonce, sealed, s.aad)
	if err != nil {
		return false, nil
	}
	if !apply {
		clear(plain)
		return true, nil
	}
	// Decode everything before changing the item, so that a failure leaves
	// it as it was. The values own plain from here on.
	var stack [16]types.AttributeValue
	values := stack[:0]
	for _, n := range s.lens {
		v, err := canonical.DecodeOwned(plain[:n])
		if err != nil {
			clear(sealed) // no one owns this plaintext
			return false, fmt.Errorf("%w: %v", ErrOpen, err)
		}
		values = append(values, v)
		plain = plain[n:]
	}
	i := 0
	for _, name := range names {
		if _, ok := encrypted[name]; ok {
			item[name] = values[i]
			i++
		}
	}
	return true, nil
}
