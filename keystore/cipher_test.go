package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

var tableContext = map[string]string{"dynacrypt-table": "users"}

func newCipher(t testing.TB, src keystore.BranchKeySource, id string, opts ...keystore.CipherOption) (*keystore.Cipher, *clock) {
	t.Helper()
	c, err := keystore.NewCipher(src, id, opts...)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	keystore.SetClock(c, clk.Now)
	return c, clk
}

func rootKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestCipherRoundTrip(t *testing.T) {
	src := newFakeSource()
	v := src.rotate(t, "fleet")
	c, _ := newCipher(t, src, "fleet")
	ctx := context.Background()
	w1, err := c.Encrypt(ctx, rootKey(1), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := c.Encrypt(ctx, rootKey(1), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w1, w2) || len(w1) != keystore.WrappedSize("fleet") {
		t.Error("two wraps of a root key are equal, or not WrappedSize")
	}
	if id, version, ok := keystore.WrappedBy(w1); !ok || id != "fleet" || version != v {
		t.Errorf("WrappedBy: %q %q %v", id, version, ok)
	}
	for _, w := range [][]byte{w1, w2} {
		root, err := c.Decrypt(ctx, w, tableContext)
		if err != nil || !bytes.Equal(root, rootKey(1)) {
			t.Fatalf("Decrypt: %x, %v", root, err)
		}
	}
	if a, v := src.activeFetches.Load(), src.versionFetches.Load(); a != 1 || v != 0 {
		t.Errorf("two wraps and two unwraps fetched the active version %d times and versions %d times, want 1 and 0", a, v)
	}
	_, err = c.Decrypt(ctx, w1, map[string]string{"dynacrypt-table": "orders"})
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("another context: %v, want ErrIntegrity", err)
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := c.Encrypt(ctx, make([]byte, n), tableContext); err == nil {
			t.Errorf("Encrypt of a %d-byte root key succeeded", n)
		}
	}
	// A cold reader fetches the version once.
	reader, _ := newCipher(t, src, "fleet")
	for range 3 {
		if _, err := reader.Decrypt(ctx, w1, tableContext); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.versionFetches.Load(); n != 1 {
		t.Errorf("a cold reader fetched %d times for three reads, want 1", n)
	}
}

// TestCipherRefusesBeforeFetch: a wrapped root under a branch key the
// cipher does not use for the context, or that is no wrapped root at all,
// is refused as tampering without a fetch.
func TestCipherRefusesBeforeFetch(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	src.rotate(t, "other")
	ctx := context.Background()
	other, _ := newCipher(t, src, "other")
	foreign, err := other.Encrypt(ctx, rootKey(2), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newCipher(t, src, "fleet")
	before := src.fetches()
	for name, w := range map[string][]byte{
		"another branch key":       foreign,
		"not a wrapped root":       []byte("wrapped-root-key"),
		"empty":                    nil,
		"branch id edited to ours": bytes.Replace(foreign, []byte("other"), []byte("fleet"), 1)[:len(foreign)-1],
	} {
		_, err := c.Decrypt(ctx, w, tableContext)
		if !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
	}
	if n := src.fetches() - before; n != 0 {
		t.Errorf("refusals made %d fetches, want 0", n)
	}
	// Edited to name our branch key, even one with the same version and
	// material, the wrapped root does not open: the id is bound.
	_, version, _ := keystore.WrappedBy(foreign)
	src.copyVersion(t, "other", version, "fleet")
	edited := bytes.Replace(foreign, []byte("other"), []byte("fleet"), 1)
	if _, err := c.Decrypt(ctx, edited, tableContext); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("branch id edited: %v, want ErrIntegrity", err)
	}
}

// TestCipherSingleflight: concurrent misses for one version make one fetch;
// a caller whose context ends stops waiting without failing the others.
func TestCipherSingleflight(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	writer, _ := newCipher(t, src, "fleet")
	ctx := context.Background()
	w, err := writer.Encrypt(ctx, rootKey(3), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	src.hold = make(chan struct{})
	reader, _ := newCipher(t, src, "fleet")

	cctx, cancel := context.WithCancel(ctx)
	impatient := make(chan error)
	go func() { _, err := reader.Decrypt(cctx, w, tableContext); impatient <- err }()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := reader.Decrypt(ctx, w, tableContext)
			errs <- err
		}()
	}
	cancel()
	if err := <-impatient; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled reader: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	close(src.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := src.versionFetches.Load(); n != 1 {
		t.Errorf("33 concurrent cold reads made %d fetches, want 1", n)
	}
}

// TestCipherFailureMemory: a version not found (or not authentic) is
// remembered for the failure TTL, so a flood of reads naming it costs one
// fetch; a failure of the moment is not remembered.
func TestCipherFailureMemory(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	writer, _ := newCipher(t, src, "fleet")
	ctx := context.Background()
	w, err := writer.Encrypt(ctx, rootKey(4), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	src.remove("fleet")
	reader, clk := newCipher(t, src, "fleet", keystore.WithFailureTTL(time.Minute))
	for range 100 {
		_, err := reader.Decrypt(ctx, w, tableContext)
		if !errors.Is(err, keystore.ErrBranchKeyNotFound) || errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("read of a shredded version: %v; want ErrBranchKeyNotFound, not ErrIntegrity", err)
		}
	}
	if n := src.versionFetches.Load(); n != 1 {
		t.Errorf("100 reads of a shredded version made %d fetches, want 1", n)
	}
	clk.Add(time.Minute)
	reader.Decrypt(ctx, w, tableContext)
	if n := src.versionFetches.Load(); n != 2 {
		t.Errorf("after the failure TTL: %d fetches, want 2", n)
	}

	throttled := fmt.Errorf("ThrottlingException: rate exceeded")
	src.err = throttled
	fresh, _ := newCipher(t, src, "fleet")
	for range 3 {
		if _, err := fresh.Decrypt(ctx, w, tableContext); !errors.Is(err, throttled) || errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("throttled fetch: %v", err)
		}
	}
	if n := src.versionFetches.Load(); n != 5 {
		t.Errorf("three throttled reads made %d fetches, want 3 (not remembered)", n-2)
	}
}

// TestCipherTTL: cached versions and the active version expire after the
// TTL; then the next call fetches again.
func TestCipherTTL(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	c, clk := newCipher(t, src, "fleet", keystore.WithCacheTTL(time.Minute))
	ctx := context.Background()
	w, err := c.Encrypt(ctx, rootKey(5), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	c.Encrypt(ctx, rootKey(5), tableContext)
	c.Decrypt(ctx, w, tableContext)
	if src.fetches() != 1 {
		t.Fatalf("%d fetches within the TTL, want 1", src.fetches())
	}
	clk.Add(time.Second)
	if _, err := c.Decrypt(ctx, w, tableContext); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(ctx, rootKey(5), tableContext); err != nil {
		t.Fatal(err)
	}
	if a, v := src.activeFetches.Load(), src.versionFetches.Load(); a != 2 || v != 1 {
		t.Errorf("after the TTL: %d active and %d version fetches, want 2 and 1", a, v)
	}
}

// TestCipherForget: Forget drops an id's versions at once, and a fetch
// under way when it is called is not cached.
func TestCipherForget(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	src.rotate(t, "other")
	ctx := context.Background()
	c, _ := newCipher(t, src, "fleet")
	o, _ := newCipher(t, src, "other")
	w, err := c.Encrypt(ctx, rootKey(6), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	src.remove("fleet")
	if _, err := c.Decrypt(ctx, w, tableContext); err != nil {
		t.Errorf("a cached version of a deleted branch key: %v", err)
	}
	c.Forget("fleet")
	if _, err := c.Decrypt(ctx, w, tableContext); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("after Forget: %v, want ErrBranchKeyNotFound", err)
	}
	if _, err := o.Encrypt(ctx, rootKey(6), tableContext); err != nil {
		t.Errorf("another branch key: %v", err)
	}

	// A fetch under way when Forget is called answers its callers but is
	// not cached.
	v := src.rotate(t, "fleet")
	c.Forget("fleet") // the failure remembered above
	src.hold, src.started = make(chan struct{}), make(chan struct{}, 1)
	done := make(chan error)
	go func() { _, err := c.Encrypt(ctx, rootKey(6), tableContext); done <- err }()
	<-src.started
	c.Forget("fleet")
	close(src.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	src.hold, src.started = nil, nil
	before := src.activeFetches.Load()
	w, err = c.Encrypt(ctx, rootKey(6), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	if n := src.activeFetches.Load() - before; n != 1 {
		t.Errorf("the fetch under way at Forget was cached (%d fetches after, want 1)", n)
	}
	if _, version, _ := keystore.WrappedBy(w); version != v {
		t.Error("wrapped under another version than the active one")
	}
}

// TestUnderCurrentKey: true only for a root wrapped under the active
// version as last fetched.
func TestUnderCurrentKey(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	ctx := context.Background()
	c, _ := newCipher(t, src, "fleet")
	old, err := c.Encrypt(ctx, rootKey(7), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	reader, _ := newCipher(t, src, "fleet")
	if reader.UnderCurrentKey(old) {
		t.Error("a cipher that never fetched the active version says current")
	}
	if !c.UnderCurrentKey(old) {
		t.Error("a root wrapped under the active version is not current")
	}
	src.rotate(t, "fleet")
	if !c.UnderCurrentKey(old) {
		t.Error("before the cipher learns of the rotation, its active version is still current")
	}
	c.Forget("fleet")
	fresh, err := c.Encrypt(ctx, rootKey(7), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	if c.UnderCurrentKey(old) || !c.UnderCurrentKey(fresh) {
		t.Error("after the rotation, the old version is current or the new one is not")
	}
	if c.UnderCurrentKey([]byte("not a wrapped root")) {
		t.Error("junk is current")
	}
}

// TestCipherTenants: a context with a tenant selects the tenant's branch
// key (the tenant itself, or what a supplier says), and a root wrapped
// under another tenant's branch key is refused before any fetch.
func TestCipherTenants(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "t1")
	src.rotate(t, "t2")
	src.rotate(t, "branch-of-t3")
	ctx := context.Background()
	ec := func(tenant string) map[string]string {
		return map[string]string{"dynacrypt-table": "users", keystore.TenantContextKey: tenant}
	}
	c, _ := newCipher(t, src, "")
	w1, err := c.Encrypt(ctx, rootKey(8), ec("t1"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := keystore.WrappedBy(w1); id != "t1" {
		t.Errorf("tenant t1 wrapped under %q", id)
	}
	if _, err := c.Decrypt(ctx, w1, ec("t1")); err != nil {
		t.Fatal(err)
	}
	before := src.fetches()
	if _, err := c.Decrypt(ctx, w1, ec("t2")); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("t1's root read as t2's: %v, want ErrIntegrity", err)
	}
	if _, err := c.Encrypt(ctx, rootKey(8), tableContext); err == nil {
		t.Error("a cipher with no branch key of its own wrapped for a context without a tenant")
	}
	if n := src.fetches() - before; n != 0 {
		t.Errorf("refusals made %d fetches", n)
	}

	supplied, _ := newCipher(t, src, "fleet", keystore.WithBranchKeyIDSupplier(func(_ context.Context, tenant string) (string, error) {
		if tenant == "t3" {
			return "branch-of-t3", nil
		}
		return "", errors.New("unknown tenant")
	}))
	w3, err := supplied.Encrypt(ctx, rootKey(9), ec("t3"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := keystore.WrappedBy(w3); id != "branch-of-t3" {
		t.Errorf("tenant t3 wrapped under %q", id)
	}
	if _, err := supplied.Decrypt(ctx, w3, ec("t3")); err != nil {
		t.Fatal(err)
	}
	before = src.fetches()
	if _, err := supplied.Decrypt(ctx, w3, ec("t4")); err == nil || errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("a tenant the supplier refuses: %v; want its error, not ErrIntegrity", err)
	}
	if n := src.fetches() - before; n != 0 {
		t.Errorf("the supplier's refusal made %d fetches", n)
	}
}

// TestCipherSourceMisbehaves: what a source returns is checked, and its
// panics become errors.
func TestCipherSourceMisbehaves(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	ctx := context.Background()
	writer, _ := newCipher(t, src, "fleet")
	w, err := writer.Encrypt(ctx, rootKey(10), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	src.rotate(t, "fleet")
	src.wrong = true
	c, _ := newCipher(t, src, "fleet")
	if _, err := c.Decrypt(ctx, w, tableContext); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("source returned another version: %v, want ErrIntegrity", err)
	}
	src.wrong, src.panics = false, true
	c, _ = newCipher(t, src, "fleet")
	if _, err := c.Decrypt(ctx, w, tableContext); err == nil {
		t.Error("a panicking source: no error")
	}
	if _, err := c.Encrypt(ctx, rootKey(10), tableContext); err == nil {
		t.Error("a panicking source: no error")
	}
}

func TestNewCipherRefuses(t *testing.T) {
	src := newFakeSource()
	for name, f := range map[string]func() (*keystore.Cipher, error){
		"nil source":    func() (*keystore.Cipher, error) { return keystore.NewCipher(nil, "x") },
		"nil KeyStore":  func() (*keystore.Cipher, error) { return keystore.NewCipher((*keystore.KeyStore)(nil), "x") },
		"zero TTL":      func() (*keystore.Cipher, error) { return keystore.NewCipher(src, "x", keystore.WithCacheTTL(0)) },
		"zero size":     func() (*keystore.Cipher, error) { return keystore.NewCipher(src, "x", keystore.WithCacheSize(0)) },
		"zero fail TTL": func() (*keystore.Cipher, error) { return keystore.NewCipher(src, "x", keystore.WithFailureTTL(0)) },
		"invalid id":    func() (*keystore.Cipher, error) { return keystore.NewCipher(src, "\xff") },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCacheSize: the LRU keeps the most recently used versions.
func TestCacheSize(t *testing.T) {
	src := newFakeSource()
	ctx := context.Background()
	writer, _ := newCipher(t, src, "fleet")
	var wrapped [][]byte
	for range 3 {
		src.rotate(t, "fleet")
		writer.Forget("fleet")
		w, err := writer.Encrypt(ctx, rootKey(11), tableContext)
		if err != nil {
			t.Fatal(err)
		}
		wrapped = append(wrapped, w)
	}
	c, _ := newCipher(t, src, "fleet", keystore.WithCacheSize(2))
	for _, w := range wrapped {
		c.Decrypt(ctx, w, tableContext)
	}
	before := src.versionFetches.Load()
	c.Decrypt(ctx, wrapped[2], tableContext)
	c.Decrypt(ctx, wrapped[1], tableContext)
	if n := src.versionFetches.Load() - before; n != 0 {
		t.Errorf("the 2 most recent versions made %d fetches", n)
	}
	c.Decrypt(ctx, wrapped[0], tableContext)
	if n := src.versionFetches.Load() - before; n != 1 {
		t.Errorf("the evicted version made %d fetches, want 1", n)
	}
}
