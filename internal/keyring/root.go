package keyring

import (
	"runtime"
	"sync"
)

// Root is a root key and its wrapped form. Its key material is zeroed once
// no cache, writer or reader holds the Root any longer: callers that use Key
// must keep the Root reachable until they are done with the bytes (for
// instance with runtime.KeepAlive).
type Root struct {
	material *[KeySize]byte
	wrapped  []byte

	derivedOnce sync.Once
	derived     any
	derivedErr  error
}

// newRoot allocates a Root whose material is cleared when the Root becomes
// unreachable. The material is a separate allocation, so that the cleanup
// can hold it without keeping the Root alive.
func newRoot() *Root {
	r := &Root{material: new([KeySize]byte)}
	runtime.AddCleanup(r, func(m *[KeySize]byte) { clear(m[:]) }, r.material)
	return r
}

// Key returns the root key. The bytes are valid while r is reachable and
// must not be modified.
func (r *Root) Key() []byte { return r.material[:] }

// Wrapped returns the root key as the Cipher wrapped it. It must not be
// modified.
func (r *Root) Wrapped() []byte { return r.wrapped }

// Derived returns derive(r.Key()), computed on the first call and kept with
// the Root, so that a key derived from a root key is derived once per root
// key rather than once per item. Callers must all pass the same derive (or
// check what they get back).
func (r *Root) Derived(derive func(key []byte) (any, error)) (any, error) {
	r.derivedOnce.Do(func() {
		r.derived, r.derivedErr = derive(r.Key())
		runtime.KeepAlive(r)
	})
	return r.derived, r.derivedErr
}
