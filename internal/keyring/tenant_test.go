package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

func withTenants(c *keyring.Config) { c.TenantKey = dynacrypt.TenantContextKey }

// TestTenantsKeptApart: each tenant writes under a root of its own, wrapped
// under a context naming it; a root unwrapped (or cached) for one tenant
// never serves another, and one tenant's failure is not remembered against
// another.
func TestTenantsKeptApart(t *testing.T) {
	ctx := context.Background()
	writer, c, _ := testRing(t, withTenants)
	acme, _ := writer.ForWrite(ctx, "acme")
	if again, _ := writer.ForWrite(ctx, "acme"); again != acme {
		t.Error("a tenant's second write took another root key")
	}
	if globex, _ := writer.ForWrite(ctx, "globex"); globex == acme || c.encrypts.Load() != 2 {
		t.Error("two tenants share a root key")
	}
	// The writer has acme's root cached: read as globex's, it must still be
	// unwrapped under globex's context, and fail.
	if _, _, err := writer.ForRead(ctx, acme.Wrapped(), "globex", keyring.Items); !errors.Is(err, dynacrypt.ErrIntegrity) || c.decrypts.Load() != 1 {
		t.Errorf("acme's root read as globex's: %v after %d Decrypts; want ErrIntegrity after 1", err, c.decrypts.Load())
	}
	if r, _, err := writer.ForRead(ctx, acme.Wrapped(), "acme", keyring.Items); err != nil || r != acme || c.decrypts.Load() != 1 {
		t.Errorf("acme's cached root read as acme's: %v", err)
	}
	// A reader that sees the failure first still reads acme's root as acme's.
	reader, err := keyring.New(func() keyring.Config { cfg := testConfig(c); withTenants(&cfg); return cfg }())
	if err != nil {
		t.Fatal(err)
	}
	reader.ForRead(ctx, acme.Wrapped(), "globex", keyring.Items)
	if _, _, err := reader.ForRead(ctx, acme.Wrapped(), "acme", keyring.Items); err != nil {
		t.Errorf("acme's root, after a failure as globex's: %v", err)
	}
	// Forget drops one tenant's roots only.
	writer.Forget("acme")
	if r, _ := writer.ForWrite(ctx, "acme"); r == acme {
		t.Error("a forgotten tenant's root key still writes")
	}
	if _, hold, _ := writer.ForRead(ctx, acme.Wrapped(), "acme", keyring.Items); hold == nil {
		t.Error("a forgotten tenant's root key was still cached for reading")
	}
	if plain, _, _ := testRing(t, nil); func() error { _, err := plain.ForWrite(ctx, "acme"); return err }() == nil {
		t.Error("a ring without TenantKey wrote a tenant's root key")
	}
}

// goneCipher says every key is gone.
type goneCipher struct{ keyring.Cipher }

var errGone = fmt.Errorf("%w: branch key deleted", dynacrypt.ErrKeyGone)

func (goneCipher) Decrypt(context.Context, []byte, map[string]string) ([]byte, error) {
	return nil, errGone
}

// TestGoneIsNotCharged: keys found gone (shredded) are not failures the
// limiter counts, so reading a shredded tenant's items leaves the others'
// cold reads alone.
func TestGoneIsNotCharged(t *testing.T) {
	ctx := context.Background()
	k, err := keyring.New(func() keyring.Config {
		cfg := testConfig(goneCipher{})
		cfg.Free = func(err error) bool { return errors.Is(err, dynacrypt.ErrKeyGone) }
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * testConfig(nil).Limit.Burst {
		if _, _, err := k.ForRead(ctx, []byte(fmt.Sprint("wrapped ", i)), "", keyring.Items); !errors.Is(err, errGone) {
			t.Fatalf("read %d: %v, want the cipher's ErrKeyGone (not ErrLimited)", i, err)
		}
	}
}
