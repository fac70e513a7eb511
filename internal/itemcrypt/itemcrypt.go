// Package itemcrypt is the cryptographic core of dynacrypt's format
// (FORMAT.md at the repository root): suite 1 derives keys per item write
// and seals, opens and signs attribute values with them (Keys); suite 2
// seals and opens a whole item under a key derived once per root key
// (ItemKey). Cursors and manifests use suite 1's keys. It does no I/O and
// knows nothing of Go structs.
package itemcrypt

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
)

// RootKeySize is the length of a root key.
const RootKeySize = 32

// NonceSize is the AES-GCM nonce length.
const NonceSize = 12

// Overhead is what sealing adds to a canonical value: the GCM tag.
const Overhead = 16

const (
	infoLabel     = "dynacrypt/v1 item keys"
	cursorLabel   = "dynacrypt/v2 cursor keys" // v2: with an expiry
	probeLabel    = "dynacrypt/v1 lookup probe"
	manifestLabel = "dynacrypt/v1 legacy manifest keys"
	nonceLabel    = "dynacrypt/v1 nonce"
)

// ErrOpen is returned (wrapped) when a sealed value fails authentication or
// does not decode.
var ErrOpen = errors.New("encrypted value does not open")

// KeyAttr is a key attribute of the item: its name and value. Keys bind to
// them, so a value sealed for one item does not open in another.
type KeyAttr struct {
	Name  string
	Value types.AttributeValue
}

// Field is an encrypted attribute: its name, which is the associated data
// of its ciphertexts, and its nonce. Each item write has its own key (from
// its random salt) and names are unique within an item, so every (key,
// nonce) pair is used once.
type Field struct {
	Name  string
	Nonce [NonceSize]byte
	aad   []byte
}

// NewField returns the Field of an attribute name: the nonce is
// SHA-256(label || 0x00 || name)[0:12].
func NewField(name string) *Field {
	h := sha256.New()
	h.Write([]byte(nonceLabel))
	h.Write([]byte{0})
	h.Write([]byte(name))
	f := &Field{Name: name, aad: []byte(name)}
	copy(f.Nonce[:], h.Sum(nil))
	return f
}

// AppendInfo appends the HKDF info for an item to dst: label, suite, table
// and key attributes (name and canonical value), each length-prefixed.
func AppendInfo(dst []byte, table string, keys []KeyAttr) ([]byte, error) {
	info := append(dst, infoLabel...)
	info = append(info, 0, header.SuiteV1)
	info = canonical.AppendName(info, table)
	info = append(info, byte(len(keys)))
	var err error
	for _, k := range keys {
		info = canonical.AppendName(info, k.Name)
		if info, err = canonical.Append(info, k.Value); err != nil {
			return nil, fmt.Errorf("key attribute %q: %w", k.Name, err)
		}
	}
	return info, nil
}

// CursorInfo returns the HKDF info for the keys of a page cursor: label,
// suite, table, and the fingerprint of the request the cursor resumes.
func CursorInfo(table string, fingerprint []byte) []byte {
	return purposeInfo(cursorLabel, table, fingerprint)
}

// ProbeTag returns what binds a Lookup's cursor to the values its probe
// compares (probe, their canonical encoding): HMAC-SHA-256 of probe under
// HKDF-SHA-256(secret = root, salt = none, info = label || 0x00 || u8(1) ||
// lp(table), 32 bytes). It is keyed, so that it gives nothing to test
// guesses of the values against.
func ProbeTag(root []byte, table string, probe []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, root, nil, string(purposeInfo(probeLabel, table, nil)), sha256.Size)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	mac := hmac.New(sha256.New, key)
	mac.Write(probe)
	return mac.Sum(nil), nil
}

// ManifestInfo returns the HKDF info for the keys of a legacy manifest:
// label, suite and table.
func ManifestInfo(table string) []byte {
	return purposeInfo(manifestLabel, table, nil)
}

func purposeInfo(label, table string, extra []byte) []byte {
	info := make([]byte, 0, 64+len(table)+len(extra))
	info = append(info, label...)
	info = append(info, 0, header.SuiteV1)
	info = canonical.AppendName(info, table)
	return append(info, extra...)
}

// Keys are the keys of one item write. They are not safe for concurrent use:
// they keep a scratch buffer for encodings and plaintexts, and their HMAC
// state; Release zeroes both and returns the Keys to a pool, so that
// steady-state sealing and opening allocate only what they return.
type Keys struct {
	aead    cipher.AEAD
	mac     *hmacSHA256
	okm     [64]byte
	macKey  [32]byte
	scratch []byte
}

var keysPool = sync.Pool{New: func() any { return &Keys{mac: newHMAC(), scratch: make([]byte, 0, 1024)} }}

// Derive derives the item keys: 64 bytes of HKDF-SHA-256 (salt, root, info),
// the first 32 the AES-256-GCM key, the last 32 the HMAC-SHA-256 key.
func Derive(root, salt, info []byte) (*Keys, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("root key is %d bytes, want %d", len(root), RootKeySize)
	}
	k := keysPool.Get().(*Keys)
	if err := k.derive(root, salt, info); err != nil {
		k.Release()
		return nil, err
	}
	return k, nil
}

// DeriveItem is Derive with the info of an item (AppendInfo), built in the
// Keys' own scratch buffer.
func DeriveItem(root, salt []byte, table string, keys []KeyAttr) (*Keys, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("root key is %d bytes, want %d", len(root), RootKeySize)
	}
	k := keysPool.Get().(*Keys)
	info, err := AppendInfo(k.scratch[:0], table, keys)
	if err == nil {
		k.scratch = info
		err = k.derive(root, salt, info)
	}
	if err != nil {
		k.Release()
		return nil, err
	}
	return k, nil
}

func (k *Keys) derive(root, salt, info []byte) error {
	k.mac.hkdf(k.okm[:], root, salt, info)
	var err error
	k.aead, err = NewAEAD(k.okm[:32])
	copy(k.macKey[:], k.okm[32:])
	clear(k.okm[:]) // the cipher keeps its own schedule
	return err
}

// Release zeroes the signing key, the HMAC state and the scratch buffer and
// returns the Keys to their pool. The Keys must not be used afterwards.
// (The AES key schedule inside the AEAD is not reachable to zero.)
func (k *Keys) Release() {
	clear(k.macKey[:])
	k.mac.wipe()
	clear(k.scratch[:cap(k.scratch)])
	k.scratch = k.scratch[:0]
	k.aead = nil
	keysPool.Put(k)
}

// Seal appends to dst the encryption of the canonical encoding of v under
// the field's nonce, with the field's name as associated data. It encodes v
// into dst and encrypts it there, so with room in dst for the encoding and
// Overhead it makes no copy and allocates nothing.
func (k *Keys) Seal(dst []byte, f *Field, v types.AttributeValue) ([]byte, error) {
	start := len(dst)
	enc, err := canonical.Append(dst, v)
	if err != nil {
		clear(dst[start:cap(dst)]) // what was encoded before the error
		return nil, err
	}
	enc = slices.Grow(enc, Overhead) // room for the tag: GCM seals in place
	return k.aead.Seal(enc[:start], f.Nonce[:], enc[start:], f.aad), nil
}

// Open authenticates and decrypts a sealed value of the field and decodes
// it. The value owns the buffer it is decrypted into: its strings and byte
// slices are not copied again.
func (k *Keys) Open(f *Field, sealed []byte) (types.AttributeValue, error) {
	plain, err := k.aead.Open(nil, f.Nonce[:], sealed, f.aad)
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %w: authentication failed", f.Name, ErrOpen)
	}
	v, err := canonical.DecodeOwned(plain)
	if err != nil {
		clear(plain) // no one owns this plaintext
		return nil, fmt.Errorf("attribute %q: %w: %v", f.Name, ErrOpen, err)
	}
	return v, nil
}

// Authentic reports whether sealed is a value of the field sealed under
// these keys: Open's authentication alone, with no decoding and no error to
// build when it fails.
func (k *Keys) Authentic(f *Field, sealed []byte) bool {
	plain, err := k.aead.Open(k.scratch[:0], f.Nonce[:], sealed, f.aad)
	if err != nil {
		return false
	}
	k.scratch = plain
	clear(plain)
	return true
}

// MAC returns HMAC-SHA-256 with the signing key over data.
func (k *Keys) MAC(data []byte) []byte {
	k.mac.reset(k.macKey[:])
	k.mac.write(data)
	return k.mac.sum(nil)
}

// Verify reports, in constant time, whether mac is the item signature (see
// Sign).
func (k *Keys) Verify(mac, headerSigned []byte, names []string, item map[string]types.AttributeValue) (bool, error) {
	want, err := k.Sign(k.okm[:0], headerSigned, names, item) // okm is free once derived
	if err != nil {
		return false, err
	}
	ok := hmac.Equal(want, mac)
	clear(want)
	return ok, nil
}

// Sign appends to dst the item signature: HMAC-SHA-256 over the signed part
// of the header, then for each name in names (which must be in ascending
// order) the length-prefixed name and the canonical encoding of item[name].
func (k *Keys) Sign(dst, headerSigned []byte, names []string, item map[string]types.AttributeValue) ([]byte, error) {
	k.mac.reset(k.macKey[:])
	k.mac.write(headerSigned)
	buf := k.scratch[:0]
	for _, name := range names {
		buf = canonical.AppendName(buf[:0], name)
		if b, ok := item[name].(*types.AttributeValueMemberB); ok {
			// Ciphertexts, the bulk of an item: hashed where they are.
			k.mac.write(canonical.AppendBinaryPrefix(buf, len(b.Value)))
			k.mac.write(b.Value)
			continue
		}
		var err error
		if buf, err = canonical.Append(buf, item[name]); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		k.mac.write(buf)
	}
	k.scratch = buf
	return k.mac.sum(dst), nil
}
