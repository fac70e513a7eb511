package dbesdk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// encryptAll encrypts n test items with e, or fails the test.
func encryptAll(t testing.TB, e *structure.Encryptor, n int, tenant string) []map[string]types.AttributeValue {
	t.Helper()
	out := make([]map[string]types.AttributeValue, n)
	for i := range out {
		var err error
		if out[i], err = e.EncryptItem(context.Background(), variedItem(i, tenant)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestHierarchicalCallsKMSOncePerVersion: a keyring reads and unwraps the
// active version once (one GetItem, one KMS Decrypt), however many items it
// wraps, and reads them back with no request; another keyring reading them
// fetches the version once.
func TestHierarchicalCallsKMSOncePerVersion(t *testing.T) {
	r := newRig(t)
	id := r.create("", nil)
	writer := r.hierarchical(id)
	e := encryptor(t, writer, suite.SymSig, testActions)
	g0, k0 := r.counts()
	items := encryptAll(t, e, 20, "")
	for i, item := range items {
		dec, err := e.DecryptItem(context.Background(), item)
		if err != nil {
			t.Fatal(err)
		}
		sameItem(t, "decrypted", dec, variedItem(i, ""))
	}
	if g, k := r.since(g0, k0); g != 1 || k != 1 {
		t.Errorf("20 writes and reads made %d GetItem and %d KMS requests, want 1 and 1", g, k)
	}
	reader := r.hierarchical(id)
	if reader.unwrapsLocally(nil, headerEDKs(t, items[0])) {
		t.Error("a reader that never fetched the version unwraps locally")
	}
	g0, k0 = r.counts()
	re := encryptor(t, reader, suite.SymSig, testActions)
	for _, item := range items {
		if _, err := re.DecryptItem(context.Background(), item); err != nil {
			t.Fatal(err)
		}
	}
	if g, k := r.since(g0, k0); g != 1 || k != 1 {
		t.Errorf("a new reader of 20 items made %d GetItem and %d KMS requests, want 1 and 1", g, k)
	}
	if !reader.unwrapsLocally(nil, headerEDKs(t, items[0])) {
		t.Error("a reader holding the version does not unwrap locally")
	}
}

// TestHierarchicalRotation: after a rotation, a keyring wraps under the old
// version until its cache TTL ends, then under the new one; items under
// either read.
func TestHierarchicalRotation(t *testing.T) {
	r := newRig(t)
	id := r.create("", nil)
	first := activeVersion(t, r, id)
	kr := r.hierarchical(id, WithCacheTTL(time.Minute))
	clock := setClock(kr)
	e := encryptor(t, kr, suite.SymSig, testActions)
	old := encryptAll(t, e, 1, "")
	second := r.rotate(id)
	checkVersion(t, "within the TTL", encryptAll(t, e, 1, ""), id, first)
	clock.add(time.Minute)
	checkVersion(t, "after the TTL", encryptAll(t, e, 1, ""), id, second)
	if _, err := e.DecryptItem(context.Background(), old[0]); err != nil {
		t.Errorf("an item under the first version: %v", err)
	}
}

// TestHierarchicalTenantsBranchKeys: with a supplier, each tenant's items
// are wrapped under the tenant's branch key; an item whose EDK names
// another tenant's branch key than its own (a swapped header, or a tenant
// attribute changed) is refused with ErrIntegrity before any key store or
// KMS request, and the refusal says so (Local).
func TestHierarchicalTenantsBranchKeys(t *testing.T) {
	r := newRig(t)
	for _, tenant := range []string{"a", "b"} {
		r.create("tenant-"+tenant, nil)
	}
	kr := r.hierarchical("", WithBranchKeyIDSupplier(BranchKeyIDFromAttribute("tenant", "tenant-")))
	e := encryptor(t, kr, suite.SymSig, tenantActions)
	itemA := encryptAll(t, e, 1, "a")[0]
	itemB := encryptAll(t, e, 1, "b")[0]
	for item, want := range map[*map[string]types.AttributeValue]string{&itemA: "tenant-a", &itemB: "tenant-b"} {
		named, _ := keywrap.ParseHierarchyEDK(headerEDKs(t, *item)[0])
		if named.BranchKeyID != want {
			t.Errorf("an item wrapped under %q, want %q", named.BranchKeyID, want)
		}
	}
	swapped := withEDKs(t, itemA, func(edks []structure.EDK) { copy(edks, headerEDKs(t, itemB)) })
	moved := clone(itemB)
	moved["tenant"] = &types.AttributeValueMemberS{Value: "a"}
	for name, item := range map[string]map[string]types.AttributeValue{"EDK of tenant b in an item of a": swapped, "tenant attribute changed": moved} {
		fresh := encryptor(t, r.hierarchical("", WithBranchKeyIDSupplier(BranchKeyIDFromAttribute("tenant", "tenant-"))), suite.SymSig, tenantActions)
		g0, k0 := r.counts()
		_, err := fresh.DecryptItem(context.Background(), item)
		if !isIntegrity(err) || !isLocal(err) {
			t.Errorf("%s: %v, want a local integrity error", name, err)
		}
		if g, k := r.since(g0, k0); g != 0 || k != 0 {
			t.Errorf("%s: %d GetItem and %d KMS requests, want none", name, g, k)
		}
	}
}

// TestHierarchicalForgedVersions: items naming versions of the branch key
// that do not exist cost key store reads but no KMS request, are refused as
// tampering, and each version is fetched once within the failure TTL,
// however many items name it.
func TestHierarchicalForgedVersions(t *testing.T) {
	r := newRig(t)
	id := r.create("", nil)
	item := encryptAll(t, encryptor(t, r.hierarchical(id), suite.SymSig, testActions), 1, "")[0]
	e := encryptor(t, r.hierarchical(id), suite.SymSig, testActions)
	g0, k0 := r.counts()
	for i := range 30 {
		forged := withVersion(t, item, byte(i%3)) // three made-up versions
		_, err := e.DecryptItem(context.Background(), forged)
		if !errors.Is(err, ErrInvalidRecord) || errors.Is(err, dynacrypt.ErrKeyGone) {
			t.Fatalf("an item naming a made-up version: %v, want ErrInvalidRecord", err)
		}
		if firstOfItsVersion := i < 3; isLocal(err) == firstOfItsVersion {
			t.Fatalf("forged item %d: Local is %t; the first of each version makes requests, the others none", i, isLocal(err))
		}
	}
	if g, k := r.since(g0, k0); g != 6 || k != 0 {
		t.Errorf("30 items naming 3 made-up versions made %d GetItem and %d KMS requests, want 6 and 0", g, k)
	}
}

// TestHierarchicalUnknownBranchKeys: items naming a branch key that was
// never created (through a tenant nobody created) or whose records were
// deleted read as ErrBranchKeyNotFound, which is dynacrypt.ErrKeyGone and
// not tampering, with no KMS request, once per version within the failure
// TTL.
func TestHierarchicalUnknownBranchKeys(t *testing.T) {
	r := newRig(t)
	r.create("tenant-a", nil)
	supplier := WithBranchKeyIDSupplier(BranchKeyIDFromAttribute("tenant", "tenant-"))
	e := encryptor(t, r.hierarchical("", supplier), suite.SymSig, tenantActions)
	item := encryptAll(t, e, 1, "a")[0]
	ghost := withEDKs(t, item, func(edks []structure.EDK) { edks[0].ProviderInfo = []byte("tenant-ghost") })
	ghost["tenant"] = &types.AttributeValueMemberS{Value: "ghost"}

	reader := encryptor(t, r.hierarchical("", supplier), suite.SymSig, tenantActions)
	g0, k0 := r.counts()
	for range 10 {
		_, err := reader.DecryptItem(context.Background(), ghost)
		if !errors.Is(err, ErrBranchKeyNotFound) || !errors.Is(err, dynacrypt.ErrKeyGone) || isIntegrity(err) {
			t.Fatalf("an item of a branch key never created: %v, want ErrBranchKeyNotFound", err)
		}
	}
	if g, k := r.since(g0, k0); g != 2 || k != 0 {
		t.Errorf("10 reads of a branch key never created made %d GetItem and %d KMS requests, want 2 and 0", g, k)
	}

	for _, typ := range []string{typeActive, typeBeacon, versionType(activeVersion(t, r, "tenant-a"))} {
		r.removeRecord("tenant-a", typ)
	}
	reader = encryptor(t, r.hierarchical("", supplier), suite.SymSig, tenantActions)
	if _, err := reader.DecryptItem(context.Background(), item); !errors.Is(err, ErrBranchKeyNotFound) || isIntegrity(err) {
		t.Errorf("an item of a deleted branch key: %v, want ErrBranchKeyNotFound", err)
	}
	if _, err := reader.EncryptItem(context.Background(), variedItem(1, "a")); !errors.Is(err, ErrBranchKeyNotFound) {
		t.Errorf("writing under a deleted branch key: %v, want ErrBranchKeyNotFound", err)
	}
}

// TestHierarchicalRefusesRolledBackActive: someone who can write the key
// store puts back the branch:ACTIVE record of a version rotated away from.
// A keyring that has read an item under the newer version, or wrapped
// under it, refuses to wrap under the older one (ErrIntegrity) once it
// reads the active record again.
func TestHierarchicalRefusesRolledBackActive(t *testing.T) {
	for _, how := range []string{"read a newer item", "wrapped under the newer version"} {
		t.Run(how, func(t *testing.T) {
			r := newRig(t)
			id := r.create("", nil)
			oldActive := r.record(id, typeActive)
			time.Sleep(time.Millisecond) // create-times are to the microsecond
			r.rotate(id)
			newer := encryptAll(t, encryptor(t, r.hierarchical(id), suite.SymSig, testActions), 1, "")[0]

			kr := r.hierarchical(id, WithCacheTTL(time.Minute))
			clock := setClock(kr)
			e := encryptor(t, kr, suite.SymSig, testActions)
			if how == "read a newer item" {
				if _, err := e.DecryptItem(context.Background(), newer); err != nil {
					t.Fatal(err)
				}
			} else {
				encryptAll(t, e, 1, "")
			}
			r.putRecord(oldActive)
			clock.add(time.Minute)
			if _, err := e.EncryptItem(context.Background(), variedItem(1, "")); !isIntegrity(err) {
				t.Errorf("wrapping with branch:ACTIVE rolled back: %v, want ErrIntegrity", err)
			}
		})
	}
}

// withVersion returns a copy of an item of the hierarchical keyring whose
// EDK names a made-up version (16 bytes of b).
func withVersion(t testing.TB, item map[string]types.AttributeValue, b byte) map[string]types.AttributeValue {
	t.Helper()
	return withEDKs(t, item, func(edks []structure.EDK) {
		// Sealed data key (48), salt (16), IV (12), then the version.
		v := edks[0].Ciphertext[48+16+12:][:16]
		for i := range v {
			v[i] = b
		}
	})
}

func clone(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = v
	}
	return out
}

// testClock is a settable clock for a keyring's cache.
type testClock struct{ now time.Time }

func (c *testClock) add(d time.Duration) { c.now = c.now.Add(d) }

// setClock gives a hierarchical keyring's cache a clock the test moves.
func setClock(kr *Keyring) *testClock {
	c := &testClock{now: time.Now()}
	kr.k.(*hierarchical).cache.SetClock(func() time.Time { return c.now })
	return c
}

// TestHierarchicalKeyringRefusesBadConfig: a branch key id or a supplier,
// not both nor neither, and a cache that can hold something.
func TestHierarchicalKeyringRefusesBadConfig(t *testing.T) {
	r := newRig(t)
	supplier := WithBranchKeyIDSupplier(BranchKeyIDFromAttribute("tenant", ""))
	for name, opts := range map[string]struct {
		id   string
		opts []HierarchicalOption
	}{
		"neither id nor supplier": {"", nil},
		"both id and supplier":    {"fleet", []HierarchicalOption{supplier}},
		"a zero cache TTL":        {"fleet", []HierarchicalOption{WithCacheTTL(0)}},
		"a zero cache size":       {"fleet", []HierarchicalOption{WithCacheSize(0)}},
		"a negative failure TTL":  {"fleet", []HierarchicalOption{WithFailureTTL(-time.Second)}},
		"an id not UTF-8":         {"\xff", nil},
	} {
		if _, err := HierarchicalKeyring(r.ks, opts.id, opts.opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := HierarchicalKeyring(nil, "fleet"); err == nil {
		t.Error("no key store: accepted")
	}
}

// TestHierarchicalConcurrentReadsShareOneFetch: many readers asking at once
// for a version the keyring does not hold make one fetch between them.
func TestHierarchicalConcurrentReadsShareOneFetch(t *testing.T) {
	r := newRig(t)
	id := r.create("", nil)
	items := encryptAll(t, encryptor(t, r.hierarchical(id), suite.SymSig, testActions), 16, "")
	e := encryptor(t, r.hierarchical(id), suite.SymSig, testActions)
	g0, k0 := r.counts()
	errs := make(chan error, len(items))
	for _, item := range items {
		go func() {
			_, err := e.DecryptItem(context.Background(), item)
			errs <- err
		}()
	}
	for range items {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if g, k := r.since(g0, k0); g != 1 || k != 1 {
		t.Errorf("16 concurrent reads of one version made %d GetItem and %d KMS requests, want 1 and 1", g, k)
	}
}
