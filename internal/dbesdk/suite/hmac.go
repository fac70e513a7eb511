package suite

import (
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"hash"
	"sync"
)

// hmacState is HMAC (RFC 2104) over SHA-512 or SHA-384 with two hash states
// kept from key to key, pooled. crypto/hmac allocates new states for every
// key, and a record round trip uses over a dozen keys (HKDF extracts and
// expands, the commitment, the recipient tags): that was most of the
// format's allocations and a third of its time. A key used for more than
// one MAC (HKDF's pseudorandom key, for two expansions) has its states
// after the key pads saved, so that it costs no more pad blocks; a key
// used once (the commitment's, a recipient's signing key) saves nothing,
// and each state is restored only once it has moved on from the pad.
// Keys are at most one block (128 bytes); the suites' are 32. Short
// inputs and the outputs pass through the state's own buffers, so that
// nothing on the caller's stack escapes through the hash interface.
// TestHMACMatchesStandardLibrary checks it against crypto/hmac and
// crypto/hkdf.
type hmacState struct {
	inner, outer hash.Hash
	// innerKeyed and outerKeyed are the marshaled states after the inner
	// and outer pads of the current key, once save has run.
	innerKeyed, outerKeyed []byte
	// innerPadded and outerPadded say inner and outer hold just the
	// current key's pad, as after reset.
	innerPadded, outerPadded bool
	pad                      [sha512.BlockSize]byte
	innerSum                 [sha512.Size]byte
	out                      [sha512.Size]byte
	prk                      [sha512.Size]byte
	buf                      [sha512.BlockSize]byte // short messages
}

func newHMACState(h func() hash.Hash) *hmacState {
	return &hmacState{inner: h(), outer: h()}
}

var (
	hmacSHA512 = sync.Pool{New: func() any { return newHMACState(sha512.New) }}
	hmacSHA384 = sync.Pool{New: func() any { return newHMACState(sha512.New384) }}
	// zeroKeyed is HMAC-SHA-512 under the empty key (HKDF's default salt)
	// once its pads are hashed, which every extract starts from.
	zeroKeyed = func() *hmacState {
		h := newHMACState(sha512.New)
		h.reset(nil)
		h.save()
		return h
	}()
)

// The bytes the key is XORed with, per RFC 2104.
var ipadBytes, opadBytes = repeat(0x36), repeat(0x5c)

func repeat(b byte) (out [sha512.BlockSize]byte) {
	for i := range out {
		out[i] = b
	}
	return out
}

// reset starts a MAC under key.
func (h *hmacState) reset(key []byte) {
	if len(key) > sha512.BlockSize {
		panic("suite: HMAC key longer than a block")
	}
	n := copy(h.pad[:], key)
	clear(h.pad[n:])
	subtle.XORBytes(h.pad[:], h.pad[:], opadBytes[:])
	h.outer.Reset()
	h.outer.Write(h.pad[:])
	subtle.XORBytes(h.pad[:], h.pad[:], opadBytes[:]) // the key again
	subtle.XORBytes(h.pad[:], h.pad[:], ipadBytes[:])
	h.inner.Reset()
	h.inner.Write(h.pad[:])
	clear(h.pad[:])
	h.innerKeyed, h.outerKeyed = h.innerKeyed[:0], h.outerKeyed[:0]
	h.innerPadded, h.outerPadded = true, true
}

// save keeps the current key's padded states, for restart: call it after
// reset and before write.
func (h *hmacState) save() {
	h.innerKeyed = appendState(h.innerKeyed[:0], h.inner)
	h.outerKeyed = appendState(h.outerKeyed[:0], h.outer)
}

// resetLike starts a MAC under the key src was last reset (and saved)
// with.
func (h *hmacState) resetLike(src *hmacState) {
	restoreState(h.inner, src.innerKeyed)
	restoreState(h.outer, src.outerKeyed)
	h.innerKeyed, h.outerKeyed = h.innerKeyed[:0], h.outerKeyed[:0]
	h.innerPadded, h.outerPadded = true, true
}

// restart starts another MAC under the current key, which was saved.
func (h *hmacState) restart() {
	if !h.innerPadded {
		restoreState(h.inner, h.innerKeyed)
		h.innerPadded = true
	}
}

func (h *hmacState) write(p []byte) {
	h.innerPadded = false
	h.inner.Write(p)
}

// sum returns the MAC of what was written since the start, in h.out.
func (h *hmacState) sum() []byte {
	in := h.inner.Sum(h.innerSum[:0])
	if !h.outerPadded {
		restoreState(h.outer, h.outerKeyed)
	}
	h.outer.Write(in)
	h.outerPadded = false
	return h.outer.Sum(h.out[:0])
}

// release wipes the key material and returns h to its pool.
func (h *hmacState) release(pool *sync.Pool) {
	clear(h.innerKeyed)
	clear(h.outerKeyed)
	clear(h.innerSum[:])
	clear(h.out[:])
	clear(h.prk[:])
	clear(h.buf[:])
	h.inner.Reset()
	h.outer.Reset()
	h.innerKeyed, h.outerKeyed = h.innerKeyed[:0], h.outerKeyed[:0]
	h.innerPadded, h.outerPadded = false, false
	pool.Put(h)
}

// appendState appends h's marshaled state: crypto/sha512's hashes marshal.
func appendState(dst []byte, h hash.Hash) []byte {
	out, err := h.(encoding.BinaryAppender).AppendBinary(dst)
	if err != nil {
		panic("suite: " + err.Error())
	}
	return out
}

func restoreState(h hash.Hash, state []byte) {
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic("suite: " + err.Error())
	}
}

// hkdfSHA512 fills each of outs, at most 64 bytes long, with HKDF-SHA-512
// (RFC 5869) of secret without salt and info prefix || infos[i] || suffix,
// which must fit in a block: one extract, then one expand block per output.
func hkdfSHA512(outs [][]byte, secret []byte, prefix string, infos []string, suffix []byte) {
	h := hmacSHA512.Get().(*hmacState)
	h.resetLike(zeroKeyed) // no salt: HashLen zero bytes, the same key as none
	h.write(secret)
	copy(h.prk[:], h.sum())
	h.reset(h.prk[:])
	if len(outs) > 1 {
		h.save()
	}
	for i, out := range outs {
		n := copy(h.buf[:], prefix)
		n += copy(h.buf[n:], infos[i])
		n += copy(h.buf[n:], suffix)
		h.buf[n] = 1 // the block counter
		h.restart()
		h.write(h.buf[:n+1])
		copy(out, h.sum())
	}
	h.release(&hmacSHA512)
}

// IntermediateKeys derives, from a recipient's intermediate key, the key
// that seals the data key and the recipient's symmetric signing key
// (algorithm-suites.md, "Intermediate Key Wrapping"): HKDF-SHA-512 without
// salt, infos "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC" and "..._MAC".
func IntermediateKeys(ikm []byte) (sealKey, signingKey [KeySize]byte) {
	hkdfSHA512([][]byte{sealKey[:], signingKey[:]}, ikm, "AWS_MPL_INTERMEDIATE_KEYWRAP_", []string{"ENC", "MAC"}, nil)
	return sealKey, signingKey
}

// RecipientTag returns a record's recipient tag for one recipient: the
// HMAC-SHA-384 of its canonical hash under the recipient's symmetric
// signing key.
func RecipientTag(signingKey []byte, canonicalHash [sha512.Size384]byte) [RecipientTagSize]byte {
	h := hmacSHA384.Get().(*hmacState)
	h.reset(signingKey)
	n := copy(h.buf[:], canonicalHash[:])
	h.write(h.buf[:n])
	var tag [RecipientTagSize]byte
	copy(tag[:], h.sum())
	h.release(&hmacSHA384)
	return tag
}
