package itemcrypt

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
)

// hmacSHA256 is HMAC-SHA-256 (RFC 2104) over two SHA-256 states that it
// keeps from key to key. crypto/hmac allocates new states for every key, and
// every item write uses three keys (HKDF's extract and expand, the
// signature) in each direction: this is where most of the encryption
// layer's allocations went. Keys must be at most one block (64 bytes); the
// ones used here are 16 or 32. TestHMACMatchesStandardLibrary checks it
// against crypto/hmac and crypto/hkdf on random inputs.
type hmacSHA256 struct {
	inner, outer hash.Hash
	key          [sha256.BlockSize]byte
	ipad, opad   [sha256.BlockSize]byte
	innerSum     [sha256.Size]byte
	prk          [sha256.Size]byte
	block        [sha256.Size]byte
	counter      [1]byte
}

func newHMAC() *hmacSHA256 {
	return &hmacSHA256{inner: sha256.New(), outer: sha256.New()}
}

// The bytes the key is XORed with, per RFC 2104.
var ipadBytes, opadBytes = bytes.Repeat([]byte{0x36}, sha256.BlockSize), bytes.Repeat([]byte{0x5c}, sha256.BlockSize)

// reset starts a MAC under key.
func (h *hmacSHA256) reset(key []byte) {
	if len(key) > sha256.BlockSize {
		panic("itemcrypt: HMAC key longer than a block")
	}
	n := copy(h.key[:], key)
	clear(h.key[n:])
	subtle.XORBytes(h.ipad[:], h.key[:], ipadBytes)
	subtle.XORBytes(h.opad[:], h.key[:], opadBytes)
	h.inner.Reset()
	h.inner.Write(h.ipad[:])
}

func (h *hmacSHA256) write(p []byte) { h.inner.Write(p) }

// sum appends the MAC of what was written since reset to dst.
func (h *hmacSHA256) sum(dst []byte) []byte {
	in := h.inner.Sum(h.innerSum[:0])
	h.outer.Reset()
	h.outer.Write(h.opad[:])
	h.outer.Write(in)
	return h.outer.Sum(dst)
}

// hkdf fills okm with HKDF-SHA-256 (RFC 5869) of secret, salt and info:
// PRK = HMAC(salt, secret), T(i) = HMAC(PRK, T(i-1) || info || i).
func (h *hmacSHA256) hkdf(okm []byte, secret, salt, info []byte) {
	h.reset(salt)
	h.write(secret)
	prk := h.sum(h.prk[:0])
	var prev []byte
	for i := 0; len(okm) > 0; i++ {
		h.reset(prk)
		h.write(prev)
		h.write(info)
		h.counter[0] = byte(i + 1)
		h.write(h.counter[:])
		t := h.sum(h.block[:0])
		n := copy(okm, t)
		prev, okm = okm[:n], okm[n:]
	}
	h.wipe()
}

// wipe clears the key material the states and pads hold.
func (h *hmacSHA256) wipe() {
	clear(h.key[:])
	clear(h.ipad[:])
	clear(h.opad[:])
	clear(h.innerSum[:])
	clear(h.prk[:])
	clear(h.block[:])
	h.inner.Reset()
	h.outer.Reset()
}
