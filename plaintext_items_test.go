package dynacrypt_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// items returns Items of the table with the Store's Cipher and
// attributes, and opts.
func (pt *plaintextTable) items(t *testing.T, cipher dynacrypt.Cipher, opts ...dynacrypt.Option) *dynacrypt.Items {
	t.Helper()
	it, err := dynacrypt.NewItems(pt.table, append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithEncryptedAttributes("email", "card"), dynacrypt.WithUnsignedAttributes("expires")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// Items, the view of a table without a Go type that the dynacrypt command
// works through, snapshots and migrates plaintext items as a Store does,
// under the same guard: a Store reads what it wrote.
func TestItemsMigratePlaintextItems(t *testing.T) {
	ctx := context.Background()
	pt := newPlaintextTable(t, 3)
	cipher := newAES(t)
	plain := pt.items(t, cipher)
	manifest, n, err := plain.LegacySnapshot(ctx, pt.db)
	if err != nil || n != 3 {
		t.Fatalf("snapshot: %d items, %v", n, err)
	}
	planted := oldShopperOf(0)
	planted.ID = "planted"
	pt.oldPut(t, planted)
	attrs := dynacrypt.LegacyAttributes("region", "email", "card", "visits")
	migrating := pt.items(t, cipher, dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest),
		dynacrypt.LegacyUntil(time.Now().Add(time.Hour)), attrs))
	if av, err := migrating.Open(ctx, pt.raw(t, shopperID(1))); err != nil || av["email"].(*types.AttributeValueMemberS).Value != oldShopperOf(1).Email {
		t.Errorf("Open of a listed plaintext item: %v, %v", av, err)
	}
	if _, err := migrating.Open(ctx, pt.raw(t, "planted")); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("Open of a planted plaintext item: %v, want ErrIntegrity", err)
	}
	var promoted []string
	p, err := migrating.Reencrypt(ctx, pt.db, dynacrypt.ReencryptOptions{Segments: 1, Promoted: func(key map[string]types.AttributeValue) {
		promoted = append(promoted, key["id"].(*types.AttributeValueMemberS).Value)
	}})
	if !errors.Is(err, dynacrypt.ErrIntegrity) || p.Promoted != 3 || p.Failed != 1 || len(promoted) != 3 || pt.signed(t, "planted") {
		t.Errorf("walk: %+v, %v, promoted %v; want the 3 listed items promoted, the planted one failed and unsigned", p, err, promoted)
	}
	store := mustNew[Shopper](t, pt.db, pt.table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("expires"))
	for i := range 3 {
		want := oldShopperOf(i)
		if c, err := store.Get(ctx, Shopper{ID: shopperID(i)}); err != nil || c.Email != want.Email || string(c.Card) != string(want.Card) || c.Version != 1 {
			t.Errorf("%s after the walk of Items: %+v, %v", shopperID(i), c, err)
		}
	}

	unverified := pt.items(t, cipher, dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, dynacrypt.LegacyUnverified(),
		dynacrypt.LegacyUntil(time.Now().Add(time.Hour)), attrs))
	if _, err := unverified.Reencrypt(ctx, pt.db, dynacrypt.ReencryptOptions{}); !errors.Is(err, dynacrypt.ErrNotVouched) || pt.signed(t, "planted") {
		t.Errorf("walk of Items without a manifest: %v, want ErrNotVouched", err)
	}
}

// NewItems refuses a legacy mode it cannot apply: no attributes to allow,
// phase 1 (Items seals what it writes), LegacyBinary where it means
// nothing.
func TestItemsLegacyOptionsRefused(t *testing.T) {
	until := dynacrypt.LegacyUntil(time.Now().Add(time.Hour))
	k := kms.New(kms.Options{Region: "us-east-1"})
	attrs := dynacrypt.LegacyAttributes("email")
	for _, tc := range []struct {
		name string
		opt  dynacrypt.Option
		want string
	}{
		{"no attributes", dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, until, dynacrypt.LegacyUnverified()), "LegacyAttributes is required"},
		{"phase 1", dynacrypt.WithPlaintextItems(dynacrypt.WritePlaintext, until, dynacrypt.LegacyUnverified(), attrs), "seals every item"},
		{"binary plaintext", dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, until, dynacrypt.LegacyUnverified(), attrs, dynacrypt.LegacyBinary("email")), "LegacyBinary"},
		{"binary not encrypted", dynacrypt.WithLegacyKMS(k, "k", until, dynacrypt.LegacyUnverified(), attrs, dynacrypt.LegacyBinary("region")), `"region" is not an encrypted attribute`},
	} {
		_, err := dynacrypt.NewItems("t", dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)), dynacrypt.WithEncryptedAttributes("email"), tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	err := newErr[LegacyUser](dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(newAES(t)),
		dynacrypt.WithLegacyKMS(k, "k", until, dynacrypt.LegacyUnverified(), dynacrypt.LegacyBinary("token")))
	if err == nil || !strings.Contains(err.Error(), "LegacyBinary") {
		t.Errorf("a Store given LegacyBinary: %v, want a refusal", err)
	}
}
