package suite

import (
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"sync"
)

// KeyedHMAC is HMAC-SHA-256 under one key that serves many MACs: a cached
// branch key, which keys the hierarchical keyring's KDF on every wrap and
// unwrap. Its padded states are hashed once, where crypto/hmac would hash
// both pads and allocate two states and a MAC for every item. It is safe
// for concurrent use. Clear wipes the states, which are as secret as the
// key. TestKeyedHMACMatchesStandardLibrary checks it against crypto/hmac.
type KeyedHMAC struct {
	inner, outer []byte // marshaled SHA-256 states after the key's pads
}

// sha256Pair is two SHA-256 states and buffers for one MAC, pooled: the
// message and sums pass through its buffers rather than the caller's
// stack, which the hash interface would move to the heap.
type sha256Pair struct {
	inner, outer hash.Hash
	buf          [sha256.BlockSize]byte
	sum          [sha256.Size]byte
}

var sha256Pairs = sync.Pool{New: func() any { return &sha256Pair{inner: sha256.New(), outer: sha256.New()} }}

// NewKeyedHMAC returns HMAC-SHA-256 under key, at most a block (64 bytes)
// long.
func NewKeyedHMAC(key []byte) *KeyedHMAC {
	if len(key) > sha256.BlockSize {
		panic("suite: HMAC-SHA-256 key longer than a block")
	}
	p := sha256Pairs.Get().(*sha256Pair)
	defer p.release()
	pad := p.buf[:]
	n := copy(pad, key)
	clear(pad[n:])
	subtle.XORBytes(pad, pad, ipadBytes[:sha256.BlockSize])
	p.inner.Write(pad)
	subtle.XORBytes(pad, pad, ipadBytes[:sha256.BlockSize]) // the key again
	subtle.XORBytes(pad, pad, opadBytes[:sha256.BlockSize])
	p.outer.Write(pad)
	return &KeyedHMAC{inner: appendState(nil, p.inner), outer: appendState(nil, p.outer)}
}

// Sum returns the MAC of msg.
func (k *KeyedHMAC) Sum(msg []byte) [sha256.Size]byte {
	p := sha256Pairs.Get().(*sha256Pair)
	defer p.release()
	restoreState(p.inner, k.inner)
	restoreState(p.outer, k.outer)
	if len(msg) <= len(p.buf) {
		msg = p.buf[:copy(p.buf[:], msg)]
	}
	p.inner.Write(msg)
	p.outer.Write(p.inner.Sum(p.sum[:0]))
	var out [sha256.Size]byte
	p.outer.Sum(out[:0])
	return out
}

// Clear wipes k's states; k must not be used after.
func (k *KeyedHMAC) Clear() {
	clear(k.inner)
	clear(k.outer)
}

// release wipes p's keyed states and buffers and returns it to the pool.
func (p *sha256Pair) release() {
	p.inner.Reset()
	p.outer.Reset()
	clear(p.buf[:])
	clear(p.sum[:])
	sha256Pairs.Put(p)
}
