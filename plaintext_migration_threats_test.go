package dynacrypt_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt"
)

// The threat: during a migration of a table of plaintext items, anyone who
// can write the table plants plaintext items (new keys, listed items
// edited or copied to other keys, encrypted items with their header
// stripped), hoping that the Store reads them as genuine and that Update or
// the walk signs them, which would make them genuine for good. With a
// manifest, each must be refused with ErrIntegrity before any KMS request,
// and left unsigned by reads, Update and the walk alike.
func TestPlantedPlaintextItemsRefusedAndNeverSigned(t *testing.T) {
	ctx := context.Background()
	pt := newPlaintextTable(t, 4)
	manifest := pt.snapshot(t)
	migrating := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest)))
	// Verify the manifest and make a root key now, so that the KMS counter
	// below sees only what the forgeries cost.
	if _, err := migrating.Get(ctx, Shopper{ID: shopperID(3)}, dynacrypt.ConsistentRead()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"victim", "victim2"} {
		if err := migrating.Put(ctx, &Shopper{ID: id, Region: "r0", Email: id + "@example.com", Card: []byte("card-of-" + id)}); err != nil {
			t.Fatal(err)
		}
	}

	planted := oldShopperOf(0)
	planted.ID, planted.Email = "planted", "attacker@example.com"
	pt.oldPut(t, planted)
	edited := oldShopperOf(0)
	edited.Email = "attacker@example.com"
	pt.oldPut(t, edited)
	moved := pt.raw(t, shopperID(1)) // listed, unchanged, under another key
	moved["id"] = &types.AttributeValueMemberS{Value: "moved"}
	rawPut(t, pt.db, pt.table, moved)
	extra := pt.raw(t, shopperID(2)) // listed, with an attribute T does not declare
	extra["role"] = &types.AttributeValueMemberS{Value: "admin"}
	rawPut(t, pt.db, pt.table, extra)
	stripped := pt.raw(t, "victim") // the header removed: the version tells
	delete(stripped, hdr)
	rawPut(t, pt.db, pt.table, stripped)
	rewritten := pt.raw(t, "victim2") // header and version removed, plaintext put back
	delete(rewritten, hdr)
	delete(rewritten, "version")
	rewritten["email"] = &types.AttributeValueMemberS{Value: "attacker@example.com"}
	rewritten["card"] = &types.AttributeValueMemberB{Value: []byte("attacker's card")}
	rawPut(t, pt.db, pt.table, rewritten)
	forged := []string{"planted", shopperID(0), "moved", shopperID(2), "victim", "victim2"}

	before := pt.kmsReqs.Requests()
	for _, id := range forged {
		if c, err := migrating.Get(ctx, Shopper{ID: id}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("planted item %s read: %+v, %v; want ErrIntegrity", id, c, err)
		}
		if _, err := migrating.Update(ctx, Shopper{ID: id}, func(c *Shopper) error { c.Visits++; return nil }); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("Update of planted item %s: %v, want ErrIntegrity", id, err)
		}
	}
	for c, err := range migrating.Query(ctx, Shopper{Region: "r0"}, dynacrypt.UsingIndex(byRegion)) {
		if err == nil && (c.ID == "planted" || c.ID == shopperID(0)) {
			t.Errorf("a Query through the index returned planted item %s: %+v", c.ID, c)
		}
	}
	if got := pt.kmsReqs.Requests() - before; got != 0 {
		t.Errorf("refusing %d planted items (reads, Updates, a Query) made %d KMS requests, want 0", len(forged), got)
	}

	var mu sync.Mutex
	var promoted []string
	progress, err := migrating.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 2, Promoted: func(key map[string]types.AttributeValue) {
		mu.Lock()
		defer mu.Unlock()
		promoted = append(promoted, key["id"].(*types.AttributeValueMemberS).Value)
	}})
	if !errors.Is(err, dynacrypt.ErrIntegrity) || progress.Failed != int64(len(forged)) || progress.Promoted != 2 {
		t.Errorf("walk over %d planted items and 2 listed ones: %+v, %v; want %d failed, 2 promoted, ErrIntegrity", len(forged), progress, err, len(forged))
	}
	if len(promoted) != 2 || !strings.Contains(strings.Join(promoted, " "), shopperID(1)) || !strings.Contains(strings.Join(promoted, " "), shopperID(3)) {
		t.Errorf("promoted keys reported: %v, want %s and %s", promoted, shopperID(1), shopperID(3))
	}
	for _, id := range forged {
		if pt.signed(t, id) {
			t.Errorf("planted item %s was signed", id)
		}
	}
}

// The threat: while the rollout runs without a manifest (phase 1, and
// phase 2 before the snapshot), a planted plaintext item reads as genuine:
// the mode trusts the table, as the old service did. It must never be
// signed, by Update or by a walk, and what tells an encrypted item whose
// header was stripped (its version, a ciphertext where T has no bytes)
// must still refuse it, before any KMS request; after LegacyUntil, and in
// phase 3, no plaintext item reads at all.
func TestUnverifiedPlaintextItemsNeverSigned(t *testing.T) {
	ctx := context.Background()
	pt := newPlaintextTable(t, 2)
	writing := pt.store(t, pt.phase(dynacrypt.WritePlaintext, dynacrypt.LegacyUnverified()))
	reading := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyUnverified()))

	planted := oldShopperOf(0)
	planted.Email = "attacker@example.com"
	pt.oldPut(t, planted)
	if c, err := reading.Get(ctx, Shopper{ID: shopperID(0)}); err != nil || c.Email != planted.Email || c.Version != 0 {
		t.Fatalf("a plaintext item without a manifest: %+v, %v; want it read, at version 0", c, err)
	}
	_, err := reading.Update(ctx, Shopper{ID: shopperID(0)}, func(c *Shopper) error { c.Visits++; return nil })
	if !errors.Is(err, dynacrypt.ErrNotVouched) || pt.signed(t, shopperID(0)) {
		t.Errorf("Update of an unvouched plaintext item: %v; want ErrNotVouched and nothing signed", err)
	}
	if _, err := reading.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); !errors.Is(err, dynacrypt.ErrNotVouched) || pt.signed(t, shopperID(0)) {
		t.Errorf("a walk without a manifest: %v; want ErrNotVouched and nothing signed", err)
	}
	// Phase 1 writes plaintext items, which the old service reads.
	c, err := writing.Update(ctx, Shopper{ID: shopperID(0)}, func(c *Shopper) error { c.Visits++; return nil })
	if raw := pt.raw(t, shopperID(0)); err != nil || c.Version != 0 || raw[hdr] != nil || raw["version"] != nil || raw["visits"].(*types.AttributeValueMemberN).Value != "1" {
		t.Errorf("Update in phase 1: %+v, %v, stored %v; want a plaintext item without a version", c, err, raw)
	}
	if _, err := writing.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); !errors.Is(err, dynacrypt.ErrNotVouched) || pt.signed(t, shopperID(0)) {
		t.Errorf("a walk in phase 1: %v; want ErrNotVouched and nothing signed", err)
	}

	// Encrypted items, their headers stripped.
	for _, id := range []string{"victim", "victim2"} {
		if err := reading.Put(ctx, &Shopper{ID: id, Region: "r1", Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	keptVersion := pt.raw(t, "victim")
	delete(keptVersion, hdr)
	rawPut(t, pt.db, pt.table, keptVersion)
	noVersion := pt.raw(t, "victim2")
	delete(noVersion, hdr)
	delete(noVersion, "version")
	rawPut(t, pt.db, pt.table, noVersion)
	before := pt.kmsReqs.Requests()
	for id, why := range map[string]string{"victim": `"version"`, "victim2": `"email"`} {
		for _, s := range []*dynacrypt.Store[Shopper]{writing, reading} {
			if c, err := s.Get(ctx, Shopper{ID: id}); !errors.Is(err, dynacrypt.ErrIntegrity) || !strings.Contains(err.Error(), why) {
				t.Errorf("encrypted item %s, header stripped: %+v, %v; want ErrIntegrity naming %s", id, c, err, why)
			}
		}
	}
	if got := pt.kmsReqs.Requests() - before; got != 0 {
		t.Errorf("refusing stripped items made %d KMS requests, want 0", got)
	}

	ended := pt.store(t, dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, dynacrypt.LegacyUnverified(), dynacrypt.LegacyUntil(time.Now().Add(-time.Second))))
	refusing := pt.store(t, dynacrypt.WithPlaintextItems(dynacrypt.RefusePlaintext))
	for name, s := range map[string]*dynacrypt.Store[Shopper]{"after LegacyUntil": ended, "in phase 3": refusing} {
		if _, err := s.Get(ctx, Shopper{ID: shopperID(1)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("plaintext item %s: %v, want ErrIntegrity", name, err)
		}
	}
}

// The threat: a manifest replayed where it does not belong (a snapshot of
// another table under the same key, one the attacker signed, one altered),
// or a listed item put back as it was at the snapshot once the migration
// is over. None may vouch for anything: the items fail with ErrIntegrity
// and are never signed.
func TestReplayedManifestVouchesForNothing(t *testing.T) {
	ctx := context.Background()
	pt := newPlaintextTable(t, 2)
	manifest := pt.snapshot(t)
	snapshotState := pt.raw(t, shopperID(0))

	planted := oldShopperOf(0)
	planted.Email = "attacker@example.com"
	other := newPlaintextTable(t, 0)
	other.oldPut(t, planted)
	otherManifest, _, err := mustNew[Shopper](t, pt.db, other.table, pt.base...).LegacySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pt.oldPut(t, planted)
	attackers := mustNew[Shopper](t, pt.db, pt.table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithUnsignedAttributes("expires"), dynacrypt.WithCipher(newAES(t)))
	ownManifest, _, err := attackers.LegacySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	altered := append([]byte(nil), manifest...)
	altered[len(altered)-33] ^= 1 // the last byte of the last digest: still in order
	for name, m := range map[string][]byte{"of another table": otherManifest, "signed by the attacker": ownManifest, "altered": altered} {
		s := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(m)))
		for _, id := range []string{shopperID(0), shopperID(1)} {
			if c, err := s.Get(ctx, Shopper{ID: id}, dynacrypt.ConsistentRead()); !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Errorf("manifest %s, item %s: %+v, %v; want ErrIntegrity", name, id, c, err)
			}
		}
		if _, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err == nil || pt.signed(t, shopperID(0)) || pt.signed(t, shopperID(1)) {
			t.Errorf("walk with the manifest %s: %v; want a failure, nothing signed", name, err)
		}
	}

	// The migration ends; then the attacker puts a listed item back as
	// the snapshot saw it.
	rawPut(t, pt.db, pt.table, snapshotState)
	migrating := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest)))
	if p, err := migrating.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err != nil || p.Promoted != 2 {
		t.Fatalf("the walk: %+v, %v", p, err)
	}
	rawPut(t, pt.db, pt.table, snapshotState)
	for _, s := range []*dynacrypt.Store[Shopper]{pt.store(t), pt.store(t, dynacrypt.WithPlaintextItems(dynacrypt.RefusePlaintext, dynacrypt.LegacyManifest(manifest)))} {
		if c, err := s.Get(ctx, Shopper{ID: shopperID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("a listed item put back after the migration, read in phase 3: %+v, %v; want ErrIntegrity", c, err)
		}
	}
}

// New refuses a plaintext mode without its guard, or one that contradicts
// itself.
func TestPlaintextOptionsRefused(t *testing.T) {
	until := dynacrypt.LegacyUntil(time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name string
		opts []dynacrypt.Option
		want string
	}{
		{"no end", []dynacrypt.Option{dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, dynacrypt.LegacyUnverified())}, "LegacyUntil is required"},
		{"no trust", []dynacrypt.Option{dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, until)}, "LegacyManifest"},
		{"phase 1 with a manifest", []dynacrypt.Option{dynacrypt.WithPlaintextItems(dynacrypt.WritePlaintext, until, dynacrypt.LegacyManifest([]byte("m")))}, "LegacyUnverified"},
		{"no such phase", []dynacrypt.Option{dynacrypt.WithPlaintextItems(dynacrypt.PlaintextPhase(4), until, dynacrypt.LegacyUnverified())}, "phase"},
		{"version listed", []dynacrypt.Option{dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, until, dynacrypt.LegacyUnverified(), dynacrypt.LegacyAttributes("id", "version"))}, "version attribute"},
		{"with legacy KMS", []dynacrypt.Option{dynacrypt.WithLegacyKMS(kms.New(kms.Options{Region: "us-east-1"}), "k", until, dynacrypt.LegacyUnverified()),
			dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, until, dynacrypt.LegacyUnverified())}, "WithLegacyKMS"},
	} {
		err := newErr[Shopper](append([]dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(newAES(t))}, tc.opts...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
