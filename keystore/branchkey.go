package keystore

import (
	"fmt"
	"runtime"
	"time"
)

// A BranchKey is one version of a branch key, unwrapped: the 32 bytes that
// root keys are wrapped under, and what the key store records of it.
//
// Its key material is zeroed once the BranchKey is no longer reachable, and
// never appears in errors or in its String form.
type BranchKey struct {
	ID         string    // the branch key id
	Version    string    // 32 lowercase hex digits
	CreateTime time.Time // when the version was made
	KMSKeyARN  string    // the KMS key that wraps it in the key store; "" if it is not from a key store
	key        *[KeySize]byte
}

// NewBranchKey returns a BranchKey with the given material (copied), for a
// [BranchKeySource] other than a [KeyStore]: a fixed key in tests and
// examples, or branch keys kept elsewhere. version must be 32 lowercase hex
// digits, as versions the key store makes are.
func NewBranchKey(id, version string, createTime time.Time, key []byte) (*BranchKey, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if !validVersion(version) {
		return nil, fmt.Errorf("keystore: branch key version %q is not %d lowercase hex digits", version, versionLen)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("keystore: branch key is %d bytes, want %d", len(key), KeySize)
	}
	k := newBranchKey(id, version, createTime, "")
	copy(k.key[:], key)
	return k, nil
}

// newBranchKey allocates a BranchKey whose material is cleared when the
// BranchKey becomes unreachable. The material is a separate allocation so
// that the cleanup can hold it without keeping the BranchKey alive.
func newBranchKey(id, version string, createTime time.Time, kmsARN string) *BranchKey {
	k := &BranchKey{ID: id, Version: version, CreateTime: createTime, KMSKeyARN: kmsARN, key: new([KeySize]byte)}
	runtime.AddCleanup(k, func(m *[KeySize]byte) { clear(m[:]) }, k.key)
	return k
}

// Key returns a copy of the key material. Clear it when done.
func (k *BranchKey) Key() []byte {
	out := make([]byte, KeySize)
	copy(out, k.key[:])
	return out
}

// String names the branch key version, without its material.
func (k *BranchKey) String() string {
	return fmt.Sprintf("branch key %q version %s", k.ID, k.Version)
}

// A BeaconKey is the beacon key of a branch key id, unwrapped: 32 bytes
// from which beacons (lookups on encrypted fields) are derived. It is made
// with the branch key and does not rotate with it.
//
// Its key material is zeroed once the BeaconKey is no longer reachable.
type BeaconKey struct {
	ID         string    // the branch key id
	CreateTime time.Time // when it was made
	KMSKeyARN  string    // the KMS key that wraps it in the key store; "" if it is not from a key store
	key        *[KeySize]byte
}

// NewBeaconKey returns a BeaconKey with the given material (copied), for a
// [BeaconKeySource] other than a [KeyStore], as [NewBranchKey] does for
// branch keys: beacon keys held in memory in tests and examples, or kept
// elsewhere.
func NewBeaconKey(id string, createTime time.Time, key []byte) (*BeaconKey, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("keystore: beacon key is %d bytes, want %d", len(key), KeySize)
	}
	k := newBeaconKey(id, createTime, "")
	copy(k.key[:], key)
	return k, nil
}

func newBeaconKey(id string, createTime time.Time, kmsARN string) *BeaconKey {
	k := &BeaconKey{ID: id, CreateTime: createTime, KMSKeyARN: kmsARN, key: new([KeySize]byte)}
	runtime.AddCleanup(k, func(m *[KeySize]byte) { clear(m[:]) }, k.key)
	return k
}

// Key returns a copy of the key material. Clear it when done.
func (k *BeaconKey) Key() []byte {
	out := make([]byte, KeySize)
	copy(out, k.key[:])
	return out
}

// String names the beacon key, without its material.
func (k *BeaconKey) String() string { return fmt.Sprintf("beacon key of %q", k.ID) }
