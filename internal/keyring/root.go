package keyring

import "runtime"

// Root is a root key and its wrapped form. Its key material is zeroed once
// no cache, writer or reader holds the Root any longer: callers that use Key
// must keep the Root reachable until they are done with the bytes (for
// instance with runtime.KeepAlive).
type Root struct {
	material *[KeySize]byte
	wrapped  []byte
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
