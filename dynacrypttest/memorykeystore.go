package dynacrypttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// MemoryKeyStore is a key store in memory, for tests and examples: a
// [keystore.BranchKeySource] and [keystore.BeaconKeySource] for
// [keystore.NewCipher] that needs no table and no KMS. Its material is real
// (32 bytes from crypto/rand per version and per beacon key) but lives in
// the process alone and dies with it: never use it for real data. For a
// key store on local servers, see [NewKeyStore].
//
// Create, Rotate and Delete do what [keystore.KeyStore]'s do, with the same
// errors: Create refuses an id that exists ([keystore.ErrBranchKeyExists]);
// Rotate makes a new version active, later ones created later; Delete
// shreds every version and the beacon key, after which reading a version
// gives [keystore.ErrBranchKeyShredded] and the id can be created again. A
// Cipher caches what it fetched, as it does from a KeyStore: call
// [keystore.Cipher.Forget] after a Delete or Rotate for the Cipher to see
// it at once.
//
// A MemoryKeyStore is safe for concurrent use. The zero value is not
// usable; call [NewMemoryKeyStore].
type MemoryKeyStore struct {
	mu       sync.Mutex
	keys     map[string]*memoryBranchKey
	shredded map[string]map[string]bool // id → versions deleted
}

// memoryBranchKey is a live branch key: its versions, the active one, and
// its beacon key.
type memoryBranchKey struct {
	versions map[string]*keystore.BranchKey
	active   *keystore.BranchKey
	beacon   *keystore.BeaconKey
}

var (
	_ keystore.BranchKeySource = (*MemoryKeyStore)(nil)
	_ keystore.BeaconKeySource = (*MemoryKeyStore)(nil)
)

// NewMemoryKeyStore returns an empty MemoryKeyStore.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{keys: map[string]*memoryBranchKey{}, shredded: map[string]map[string]bool{}}
}

// Create makes a branch key, its first version and its beacon key, and
// returns the version. An id that exists gives an error wrapping
// [keystore.ErrBranchKeyExists].
func (m *MemoryKeyStore) Create(ctx context.Context, id string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &keystore.Error{Op: "Create", ID: id, Err: err}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[id] != nil {
		return "", &keystore.Error{Op: "Create", ID: id, Err: keystore.ErrBranchKeyExists}
	}
	now := time.Now()
	material := randomKey()
	defer clear(material)
	beacon, err := keystore.NewBeaconKey(id, now, material)
	if err != nil {
		return "", &keystore.Error{Op: "Create", ID: id, Err: err}
	}
	k := &memoryBranchKey{versions: map[string]*keystore.BranchKey{}, beacon: beacon}
	if err := k.addVersion(id, now); err != nil {
		return "", &keystore.Error{Op: "Create", ID: id, Err: err}
	}
	m.keys[id] = k
	return k.active.Version, nil
}

// Rotate makes a new version of a branch key active and returns it. Older
// versions stay readable. A branch key that does not exist gives an error
// wrapping [keystore.ErrBranchKeyNotFound].
func (m *MemoryKeyStore) Rotate(ctx context.Context, id string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.live(ctx, "Rotate", id)
	if err != nil {
		return "", err
	}
	// A Cipher refuses to wrap under an active version older than one it
	// has read, so versions are created in order whatever the clock says.
	created := time.Now()
	if !created.After(k.active.CreateTime) {
		created = k.active.CreateTime.Add(time.Microsecond)
	}
	if err := k.addVersion(id, created); err != nil {
		return "", &keystore.Error{Op: "Rotate", ID: id, Err: err}
	}
	return k.active.Version, nil
}

// Delete shreds a branch key: every version and the beacon key. Items whose
// root keys were wrapped under it no longer read, with errors wrapping
// [keystore.ErrBranchKeyShredded]. A branch key that does not exist gives
// an error wrapping [keystore.ErrBranchKeyNotFound].
func (m *MemoryKeyStore) Delete(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.live(ctx, "Delete", id)
	if err != nil {
		return err
	}
	if m.shredded[id] == nil {
		m.shredded[id] = map[string]bool{}
	}
	for v := range k.versions {
		m.shredded[id][v] = true
	}
	delete(m.keys, id)
	return nil
}

// ActiveBranchKey returns the active version of a branch key, as
// [keystore.KeyStore.ActiveBranchKey] does.
func (m *MemoryKeyStore) ActiveBranchKey(ctx context.Context, id string) (*keystore.BranchKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.live(ctx, "ActiveBranchKey", id)
	if err != nil {
		return nil, err
	}
	return k.active, nil
}

// BranchKeyVersion returns a version of a branch key, as
// [keystore.KeyStore.BranchKeyVersion] does: a version deleted gives an
// error wrapping [keystore.ErrBranchKeyShredded]; one the branch key never
// had, an error wrapping [dynacrypt.ErrIntegrity] (the version named was
// forged); any version of a branch key that does not exist, an error
// wrapping [keystore.ErrBranchKeyNotFound].
func (m *MemoryKeyStore) BranchKeyVersion(ctx context.Context, id, version string) (*keystore.BranchKey, error) {
	fail := func(err error) (*keystore.BranchKey, error) {
		return nil, &keystore.Error{Op: "BranchKeyVersion", ID: id, Version: version, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[id]
	switch {
	case k != nil && k.versions[version] != nil:
		return k.versions[version], nil
	case m.shredded[id][version]:
		return fail(keystore.ErrBranchKeyShredded)
	case k != nil:
		return fail(fmt.Errorf("%w: the branch key exists but has no such version", dynacrypt.ErrIntegrity))
	}
	return fail(keystore.ErrBranchKeyNotFound)
}

// BeaconKey returns the beacon key of a branch key, as
// [keystore.KeyStore.BeaconKey] does, for [keystore.Cipher.TenantBeaconKey].
func (m *MemoryKeyStore) BeaconKey(ctx context.Context, id string) (*keystore.BeaconKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.live(ctx, "BeaconKey", id)
	if err != nil {
		return nil, err
	}
	return k.beacon, nil
}

// live returns branch key id, or the error of op for a cancelled ctx or an
// id that has no branch key. m.mu is held.
func (m *MemoryKeyStore) live(ctx context.Context, op, id string) (*memoryBranchKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, &keystore.Error{Op: op, ID: id, Err: err}
	}
	if k := m.keys[id]; k != nil {
		return k, nil
	}
	return nil, &keystore.Error{Op: op, ID: id, Err: keystore.ErrBranchKeyNotFound}
}

// addVersion makes a new version of branch key id, created at created, and
// makes it active.
func (k *memoryBranchKey) addVersion(id string, created time.Time) error {
	var v [16]byte
	rand.Read(v[:]) // never fails
	key := randomKey()
	defer clear(key)
	bk, err := keystore.NewBranchKey(id, hex.EncodeToString(v[:]), created, key)
	if err != nil {
		return err
	}
	k.versions[bk.Version] = bk
	k.active = bk
	return nil
}

// randomKey returns new key material, for NewBranchKey and NewBeaconKey to
// copy; the caller clears it.
func randomKey() []byte {
	key := make([]byte, keystore.KeySize)
	rand.Read(key) // never fails
	return key
}
