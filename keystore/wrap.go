package keystore

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
)

// The wrapped root key (FORMAT.md §11):
//
//	wrapFormat || lp(branch key id) || lp(version) || salt (16) || AES-256-GCM ciphertext and tag (48)
//
// where lp(x) is a 2-byte big-endian length and x.
const (
	// wrapFormat is the first byte of a wrapped root key. It differs from
	// the first bytes of AESCipher (0x01) and KMSCipher (0x01, 0x02)
	// ciphertexts, so that a Cipher accepting several kinds can tell them
	// apart.
	wrapFormat = 0x10
	wrapSalt   = 16
	gcmTag     = 16
	// wrapInfoPrefix starts the HKDF info and the GCM associated data.
	wrapInfoPrefix = "dynacrypt keystore wrap v1"
)

// wrapped is a parsed wrapped root key. Its slices alias the input.
type wrapped struct {
	id, version string
	salt        []byte
	sealed      []byte // ciphertext and tag
}

// WrappedSize returns the length of a root key wrapped under a branch key
// of the given id: 101 bytes and the id.
func WrappedSize(id string) int {
	return 1 + 2 + len(id) + 2 + versionLen + wrapSalt + KeySize + gcmTag
}

// appendLP appends a 2-byte big-endian length and s.
func appendLP(dst []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(s))), s...)
}

// appendInfo appends the HKDF info (also the GCM associated data) of a
// wrap: the prefix, lp(id), lp(version), and the encryption context in
// canonical form: u16be(number of pairs), then lp(key) || lp(value) for each
// pair in ascending byte order of keys.
func appendInfo(dst []byte, id, version string, ec map[string]string) ([]byte, error) {
	if len(id) > 0xffff || len(version) > 0xffff || len(ec) > 0xffff {
		return nil, errors.New("branch key id, version or encryption context too long")
	}
	dst = append(dst, wrapInfoPrefix...)
	dst = appendLP(dst, id)
	dst = appendLP(dst, version)
	keys := make([]string, 0, len(ec))
	for k, v := range ec {
		if len(k) > 0xffff || len(v) > 0xffff {
			return nil, errors.New("encryption context key or value longer than 65535 bytes")
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(keys)))
	for _, k := range keys {
		dst = appendLP(dst, k)
		dst = appendLP(dst, ec[k])
	}
	return dst, nil
}

// wrapKey derives the one-use key K of a wrap and returns its AES-256-GCM.
func wrapKey(branchKey, salt, info []byte) (cipher.AEAD, error) {
	return itemcrypt.DeriveAEAD(branchKey, salt, info)
}

// zeroNonce is the GCM nonce of every wrap: each K, derived from a fresh
// random salt, seals exactly one root key.
var zeroNonce [12]byte

// wrap wraps a root key under a branch key version with the given salt:
// the deterministic part of Cipher.Encrypt, which FORMAT.md's vector
// checks.
func wrap(branchKey []byte, id, version string, salt, root []byte, ec map[string]string) ([]byte, error) {
	if len(root) != KeySize {
		return nil, fmt.Errorf("root key is %d bytes, want %d", len(root), KeySize)
	}
	info, err := appendInfo(nil, id, version, ec)
	if err != nil {
		return nil, err
	}
	aead, err := wrapKey(branchKey, salt, info)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, WrappedSize(id))
	out = append(out, wrapFormat)
	out = appendLP(out, id)
	out = appendLP(out, version)
	out = append(out, salt...)
	return aead.Seal(out, zeroNonce[:], root, info), nil
}

// parseWrapped parses a wrapped root key, refusing (with an error wrapping
// dynacrypt.ErrIntegrity) what no Cipher.Encrypt made: another format, a
// length that does not add up, an id that is not one, a version that is
// not 32 lowercase hex digits. It makes no request.
func parseWrapped(b []byte) (wrapped, error) {
	var w wrapped
	if len(b) == 0 || b[0] != wrapFormat {
		return w, integrity("not a root key wrapped under a branch key (format byte)")
	}
	rest := b[1:]
	lp := func() (string, bool) {
		if len(rest) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return "", false
		}
		s := string(rest[2 : 2+n])
		rest = rest[2+n:]
		return s, true
	}
	var ok1, ok2 bool
	w.id, ok1 = lp()
	w.version, ok2 = lp()
	switch {
	case !ok1 || !ok2 || len(rest) != wrapSalt+KeySize+gcmTag:
		return w, integrity("wrapped root key of %d bytes is malformed", len(b))
	case checkID(w.id) != nil:
		return w, integrity("wrapped root key names no valid branch key id")
	case !validVersion(w.version):
		return w, integrity("wrapped root key names no valid branch key version")
	}
	w.salt, w.sealed = rest[:wrapSalt], rest[wrapSalt:]
	return w, nil
}

// unwrap opens a parsed wrapped root key with the branch key version it
// names.
func unwrap(branchKey []byte, w wrapped, ec map[string]string) ([]byte, error) {
	info, err := appendInfo(nil, w.id, w.version, ec)
	if err != nil {
		return nil, integrity("%v", err)
	}
	aead, err := wrapKey(branchKey, w.salt, info)
	if err != nil {
		return nil, err
	}
	root, err := aead.Open(nil, zeroNonce[:], w.sealed, info)
	if err != nil {
		return nil, integrity("root key does not unwrap under branch key %q version %s (altered, or bound to another encryption context)", w.id, w.version)
	}
	return root, nil
}

// WrappedBy returns the branch key id and version that a root key wrapped
// by a [Cipher] names, without checking anything else: for operators who
// want to know which version protects an item. ok is false for bytes that
// are not a wrapped root key.
func WrappedBy(wrappedRoot []byte) (id, version string, ok bool) {
	w, err := parseWrapped(wrappedRoot)
	if err != nil {
		return "", "", false
	}
	return w.id, w.version, true
}
