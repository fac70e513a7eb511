package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// setActive makes an existing version of id the active one, as a rollback
// of the branch:ACTIVE record would.
func (f *fakeSource) setActive(id, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active[id] = version
}

// TestCipherRemembersForgedVersion: a version the source finds not
// authentic is remembered like one not found, so reads of many wrapped
// roots naming it make one fetch.
func TestCipherRemembersForgedVersion(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	writer, _ := newCipher(t, src, "fleet")
	ctx := context.Background()
	var wrapped [][]byte
	for i := range 20 {
		w, err := writer.Encrypt(ctx, rootKey(byte(i)), tableContext)
		if err != nil {
			t.Fatal(err)
		}
		wrapped = append(wrapped, w)
	}
	src.err = fmt.Errorf("%w: the version record was altered", dynacrypt.ErrIntegrity)
	reader, _ := newCipher(t, src, "fleet")
	for _, w := range wrapped {
		if _, err := reader.Decrypt(ctx, w, tableContext); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Fatalf("a root under a version not authentic: %v, want ErrIntegrity", err)
		}
	}
	if n := src.versionFetches.Load(); n != 1 {
		t.Errorf("20 wrapped roots naming one version that is not authentic made %d fetches, want 1", n)
	}
}

// TestCipherForgetDropsFailures: after Forget, a version whose fetch failed
// is fetched again, and reads once the source has healed.
func TestCipherForgetDropsFailures(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	writer, _ := newCipher(t, src, "fleet")
	ctx := context.Background()
	w, err := writer.Encrypt(ctx, rootKey(1), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	reader, _ := newCipher(t, src, "fleet")
	src.err = keystore.ErrBranchKeyNotFound
	reader.Decrypt(ctx, w, tableContext)
	src.err = nil
	if _, err := reader.Decrypt(ctx, w, tableContext); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Fatalf("within the failure TTL: %v, want the failure remembered", err)
	}
	reader.Forget("fleet")
	if _, err := reader.Decrypt(ctx, w, tableContext); err != nil {
		t.Errorf("after Forget, with the source healed: %v", err)
	}
	if n := src.versionFetches.Load(); n != 2 {
		t.Errorf("%d version fetches, want 2 (the failure, then one after Forget)", n)
	}
}

// TestCipherRefusesActiveRolledBack: a Cipher that wrapped under v2 and is
// then served v1 as active (the branch:ACTIVE record put back), once its
// cached active version is gone (Forget, or the TTL), refuses to wrap.
func TestCipherRefusesActiveRolledBack(t *testing.T) {
	for _, how := range []string{"Forget", "TTL"} {
		t.Run(how, func(t *testing.T) {
			src := newFakeSource()
			v1 := src.rotate(t, "fleet")
			time.Sleep(time.Microsecond) // creation times must differ
			src.rotate(t, "fleet")
			c, clk := newCipher(t, src, "fleet", keystore.WithCacheTTL(time.Minute))
			ctx := context.Background()
			if _, err := c.Encrypt(ctx, rootKey(2), tableContext); err != nil {
				t.Fatal(err)
			}
			src.setActive("fleet", v1)
			if how == "Forget" {
				c.Forget("fleet")
			} else {
				clk.Add(time.Minute)
			}
			if _, err := c.Encrypt(ctx, rootKey(2), tableContext); !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Errorf("Encrypt with the active version rolled back: %v, want ErrIntegrity", err)
			}
		})
	}
}

// TestUnwrapsLocallyAfterFailureTTL: a remembered failure makes Decrypt
// local only until the failure TTL ends; then it fetches again, and the
// Store must limit it.
func TestUnwrapsLocallyAfterFailureTTL(t *testing.T) {
	src := newFakeSource()
	src.rotate(t, "fleet")
	writer, _ := newCipher(t, src, "fleet")
	ctx := context.Background()
	w, err := writer.Encrypt(ctx, rootKey(3), tableContext)
	if err != nil {
		t.Fatal(err)
	}
	src.remove("fleet")
	reader, clk := newCipher(t, src, "fleet", keystore.WithFailureTTL(time.Minute))
	if reader.UnwrapsLocally(w) {
		t.Error("a version never fetched unwraps locally")
	}
	reader.Decrypt(ctx, w, tableContext)
	if !reader.UnwrapsLocally(w) {
		t.Error("a version whose failure is remembered does not unwrap locally")
	}
	clk.Add(time.Minute)
	if reader.UnwrapsLocally(w) {
		t.Error("after the failure TTL, a version still unwraps locally")
	}
}
