package keystore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt/keystore"
)

// fakeSource is a BranchKeySource in memory that counts its fetches, and
// can hold them, fail them or panic.
type fakeSource struct {
	mu       sync.Mutex
	versions map[string]*keystore.BranchKey // id + "/" + version
	active   map[string]string              // id → version

	activeFetches, versionFetches atomic.Int64

	hold    chan struct{} // if set, fetches wait for it to close
	started chan struct{} // if set, each fetch sends on it first
	err     error         // if set, fetches fail with it
	panics  bool
	wrong   bool // if set, BranchKeyVersion returns the active version instead
}

func newFakeSource() *fakeSource {
	return &fakeSource{versions: map[string]*keystore.BranchKey{}, active: map[string]string{}}
}

// rotate adds a version of id and makes it active.
func (f *fakeSource) rotate(t testing.TB, id string) string {
	t.Helper()
	var b [16]byte
	key := make([]byte, 32)
	rand.Read(b[:])
	rand.Read(key)
	v := hex.EncodeToString(b[:])
	k, err := keystore.NewBranchKey(id, v, time.Now(), key)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.versions[id+"/"+v] = k
	f.active[id] = v
	return v
}

// copyVersion gives branch key to a version of branch key from, with the
// same version and material: only their ids differ.
func (f *fakeSource) copyVersion(t testing.TB, from, version, to string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.versions[from+"/"+version]
	c, err := keystore.NewBranchKey(to, version, k.CreateTime, k.Key())
	if err != nil {
		t.Fatal(err)
	}
	f.versions[to+"/"+version] = c
}

// remove deletes every version of id.
func (f *fakeSource) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.active, id)
	for k, v := range f.versions {
		if v.ID == id {
			delete(f.versions, k)
		}
	}
}

func (f *fakeSource) wait() error {
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.hold != nil {
		<-f.hold
	}
	if f.panics {
		panic("source panicked")
	}
	return f.err
}

func (f *fakeSource) ActiveBranchKey(_ context.Context, id string) (*keystore.BranchKey, error) {
	f.activeFetches.Add(1)
	if err := f.wait(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.active[id]
	if !ok {
		return nil, keystore.ErrBranchKeyNotFound
	}
	return f.versions[id+"/"+v], nil
}

func (f *fakeSource) BranchKeyVersion(_ context.Context, id, version string) (*keystore.BranchKey, error) {
	f.versionFetches.Add(1)
	if err := f.wait(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wrong {
		return f.versions[id+"/"+f.active[id]], nil
	}
	k, ok := f.versions[id+"/"+version]
	if !ok {
		return nil, keystore.ErrBranchKeyNotFound
	}
	return k, nil
}

func (f *fakeSource) fetches() int64 { return f.activeFetches.Load() + f.versionFetches.Load() }

// clock is a settable clock for a Cipher's cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }
