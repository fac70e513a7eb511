package dynacrypt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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
// and left unsigned by reads, Update and the walk alike. In dynacrypt's
// item format and in DB-ESDK's, whose items lose a header, a footer or both.
func TestPlantedPlaintextItemsRefusedAndNeverSigned(t *testing.T) {
	inEachFormat(t, 4, plantedPlaintextItemsRefused)
}

// plantedPlaintextItemsRefused is TestPlantedPlaintextItemsRefusedAndNeverSigned
// in pt's item format.
func plantedPlaintextItemsRefused(t *testing.T, pt *plaintextTable) {
	ctx := context.Background()
	manifest := pt.snapshot(t)
	migrating := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest)))
	// Verify the manifest and make a root key now, so that the KMS counter
	// below sees only what the forgeries cost.
	if _, err := migrating.Get(ctx, Shopper{ID: shopperID(3)}, dynacrypt.ConsistentRead()); err != nil {
		t.Fatal(err)
	}
	var partly []string // DB-ESDK's items stripped of their header only, or their footer only
	if pt.footer != "" {
		partly = []string{"no-" + pt.header, "no-" + pt.footer}
	}
	for _, id := range append([]string{"victim", "victim2"}, partly...) {
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
	stripped := pt.raw(t, "victim") // the header (and footer) removed: the version tells
	pt.unseal(stripped)
	rawPut(t, pt.db, pt.table, stripped)
	rewritten := pt.raw(t, "victim2") // header and version removed, plaintext put back
	pt.unseal(rewritten)
	delete(rewritten, "version")
	rewritten["email"] = &types.AttributeValueMemberS{Value: "attacker@example.com"}
	rewritten["card"] = &types.AttributeValueMemberB{Value: []byte("attacker's card")}
	rawPut(t, pt.db, pt.table, rewritten)
	for _, id := range partly {
		pt.strip(t, id, strings.TrimPrefix(id, "no-"))
	}
	forged := append([]string{"planted", shopperID(0), "moved", shopperID(2), "victim", "victim2"}, partly...)

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

	// An item that kept its header (DB-ESDK's, its footer stripped) reads
	// as no plaintext item; the walk, which checks only the header of an
	// item in the format it writes, skips it.
	var headed int64
	for _, id := range forged {
		if _, ok := pt.raw(t, id)[pt.header]; ok {
			headed++
		}
	}
	var mu sync.Mutex
	var promoted []string
	progress, err := migrating.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 2, Promoted: func(key map[string]types.AttributeValue) {
		mu.Lock()
		defer mu.Unlock()
		promoted = append(promoted, key["id"].(*types.AttributeValueMemberS).Value)
	}})
	if !errors.Is(err, dynacrypt.ErrIntegrity) || progress.Failed != int64(len(forged))-headed || progress.Skipped != headed || progress.Promoted != 2 {
		t.Errorf("walk over %d planted items (%d with a header) and 2 listed ones: %+v, %v; want those without a header failed, the others skipped, 2 promoted, ErrIntegrity", len(forged), headed, progress, err)
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
// phase 3, no plaintext item reads at all. In dynacrypt's item format and
// in DB-ESDK's, where an item that lost its header still has its footer,
// or lost its footer only, tells by the footer.
func TestUnverifiedPlaintextItemsNeverSigned(t *testing.T) {
	inEachFormat(t, 2, unverifiedPlaintextItemsNeverSigned)
}

// unverifiedPlaintextItemsNeverSigned is
// TestUnverifiedPlaintextItemsNeverSigned in pt's item format.
func unverifiedPlaintextItemsNeverSigned(t *testing.T, pt *plaintextTable) {
	ctx := context.Background()
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
	if raw := pt.raw(t, shopperID(0)); err != nil || c.Version != 0 || raw[pt.header] != nil || raw[pt.footer] != nil || raw["version"] != nil || raw["visits"].(*types.AttributeValueMemberN).Value != "1" {
		t.Errorf("Update in phase 1: %+v, %v, stored %v; want a plaintext item without a version", c, err, raw)
	}
	if _, err := writing.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); !errors.Is(err, dynacrypt.ErrNotVouched) || pt.signed(t, shopperID(0)) {
		t.Errorf("a walk in phase 1: %v; want ErrNotVouched and nothing signed", err)
	}

	// Encrypted items, their headers stripped: what each loses, and what
	// still tells.
	lost := map[string][]string{"victim": pt.seals(), "victim2": append(pt.seals(), "version")}
	tells := map[string]string{"victim": `"version"`, "victim2": `"email"`}
	if pt.footer != "" {
		lost["no-"+pt.header], tells["no-"+pt.header] = []string{pt.header, "version"}, pt.footer
		lost["no-"+pt.footer], tells["no-"+pt.footer] = []string{pt.footer}, pt.footer
	}
	for id, attrs := range lost {
		if err := reading.Put(ctx, &Shopper{ID: id, Region: "r1", Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
		pt.strip(t, id, attrs...)
	}
	before := pt.kmsReqs.Requests()
	for id, why := range tells {
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
// and are never signed, in dynacrypt's item format and in DB-ESDK's.
func TestReplayedManifestVouchesForNothing(t *testing.T) {
	inEachFormat(t, 2, replayedManifestVouchesForNothing)
}

// replayedManifestVouchesForNothing is TestReplayedManifestVouchesForNothing
// in pt's item format.
func replayedManifestVouchesForNothing(t *testing.T, pt *plaintextTable) {
	ctx := context.Background()
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
	// Its signature altered, every digest kept: only the signature tells
	// (an altered digest may be the edited item's, which fails anyway).
	badMAC := append([]byte(nil), manifest...)
	badMAC[len(badMAC)-1] ^= 1
	for name, m := range map[string][]byte{"of another table": otherManifest, "signed by the attacker": ownManifest, "altered": altered, "with its signature altered": badMAC} {
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

// racingOnceDB runs before once, just before the first PutItem of the item
// whose id is id: a writer that gets in between a read and its write.
type racingOnceDB struct {
	*dynamodb.Client
	id     string
	once   sync.Once
	before func()
}

// racingStore returns a Store of the table with the manifest, whose first
// write of shopper i is preceded by the old service's write of c.
func (pt *plaintextTable) racingStore(t *testing.T, manifest []byte, i int, c OldShopper) *dynacrypt.Store[Shopper] {
	db := &racingOnceDB{Client: pt.db, id: shopperID(i), before: func() { pt.oldPut(t, c) }}
	return mustNew[Shopper](t, db, pt.table, append(append([]dynacrypt.Option(nil), pt.base...), pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest)))...)
}

func (r *racingOnceDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if s, ok := in.Item["id"].(*types.AttributeValueMemberS); ok && s.Value == r.id {
		r.once.Do(r.before)
	}
	return r.Client.PutItem(ctx, in, opts...)
}

// The threat: someone who can write the table edits a listed plaintext
// item between a read that the manifest vouched for and its write: the
// walk's, or Update's. The write is conditional on every attribute as
// read, so it fails; the item read again is no longer listed, and is
// refused: the edit is neither signed nor overwritten, in dynacrypt's item
// format and in DB-ESDK's.
func TestAnEditMadeAfterItsReadIsNeverSigned(t *testing.T) {
	ctx := context.Background()
	for name, write := range map[string]func(*dynacrypt.Store[Shopper]) error{
		"the walk": func(s *dynacrypt.Store[Shopper]) error {
			p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1})
			if p.Failed != 1 || p.Promoted != 1 {
				return fmt.Errorf("walk: %+v, want the edited item failed, the other promoted (%w)", p, err)
			}
			return err
		},
		"Update": func(s *dynacrypt.Store[Shopper]) error {
			_, err := s.Update(ctx, Shopper{ID: shopperID(0)}, func(c *Shopper) error { c.Visits++; return nil })
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			inEachFormat(t, 2, func(t *testing.T, pt *plaintextTable) {
				manifest := pt.snapshot(t)
				edited := oldShopperOf(0)
				edited.Email = "attacker@example.com"
				if err := write(pt.racingStore(t, manifest, 0, edited)); !errors.Is(err, dynacrypt.ErrIntegrity) {
					t.Errorf("%s racing an edit: %v, want ErrIntegrity", name, err)
				}
				if raw := pt.raw(t, shopperID(0)); raw[pt.header] != nil || raw[pt.footer] != nil || raw["email"].(*types.AttributeValueMemberS).Value != edited.Email {
					t.Errorf("the edit made between the read and the write was signed or overwritten: %v", raw)
				}
			})
		})
	}
}

// A TTL job sets an unsigned attribute, absent when the walk read the
// item, before the walk writes it: the walk's condition names the absent
// attributes too, so it reads the item again, and the job's value is
// kept, not lost.
func TestWalkKeepsAnUnsignedAttributeSetAfterItsRead(t *testing.T) {
	ctx := context.Background()
	pt := newPlaintextTable(t, 1)
	manifest := pt.snapshot(t)
	set := oldShopperOf(0)
	set.Expires = 4242
	s := pt.racingStore(t, manifest, 0, set)
	if p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{Segments: 1}); err != nil || p.Promoted != 1 {
		t.Fatalf("walk: %+v, %v", p, err)
	}
	if c, err := pt.store(t).Get(ctx, Shopper{ID: shopperID(0)}); err != nil || c.Expires != 4242 {
		t.Errorf("the TTL set meanwhile: %+v, %v; want it kept", c, err)
	}
}

// The threat: items that are neither plaintext nor encrypted: a header of
// another type, a junk header, a NULL one; the version as a string; an
// attribute T does not declare (one named like a field but for case, a
// beacon's). None may read as plaintext, with a manifest or without (where
// only the attribute check stands), cost a KMS request, or be rewritten by
// the walk. In dynacrypt's item format and in DB-ESDK's, whose footer is
// planted likewise.
func TestMalformedHeadersAndStrayAttributesNeverReadAsPlaintext(t *testing.T) {
	inEachFormat(t, 1, malformedHeadersNeverReadAsPlaintext)
}

// malformedHeadersNeverReadAsPlaintext is
// TestMalformedHeadersAndStrayAttributesNeverReadAsPlaintext in pt's item
// format.
func malformedHeadersNeverReadAsPlaintext(t *testing.T, pt *plaintextTable) {
	ctx := context.Background()
	manifest := pt.snapshot(t)
	s := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(manifest)))
	if _, err := s.Get(ctx, Shopper{ID: shopperID(0)}); err != nil { // the manifest checked once
		t.Fatal(err)
	}
	if err := s.Put(ctx, &Shopper{ID: "warm", Region: "r0"}); err != nil { // and a root key made, which the walk's promotion of the listed item uses
		t.Fatal(err)
	}
	odd := map[string]func(map[string]types.AttributeValue){
		"version-s": func(m map[string]types.AttributeValue) { m["version"] = &types.AttributeValueMemberS{Value: "0"} },
		"Email": func(m map[string]types.AttributeValue) {
			m["Email"] = &types.AttributeValueMemberS{Value: "attacker@example.com"}
		},
		"beacon": func(m map[string]types.AttributeValue) {
			m["email_beacon"] = &types.AttributeValueMemberS{Value: "abc"}
		},
	}
	for _, a := range pt.seals() { // a header, or DB-ESDK's footer
		odd[a+"-s"] = func(m map[string]types.AttributeValue) { m[a] = &types.AttributeValueMemberS{Value: "x"} }
		odd[a+"-junk"] = func(m map[string]types.AttributeValue) { m[a] = &types.AttributeValueMemberB{Value: []byte{0}} }
		odd[a+"-null"] = func(m map[string]types.AttributeValue) { m[a] = &types.AttributeValueMemberNULL{Value: true} }
	}
	planted := map[string]map[string]types.AttributeValue{}
	for id, change := range odd {
		item := pt.raw(t, shopperID(0))
		item["id"] = &types.AttributeValueMemberS{Value: id}
		change(item)
		rawPut(t, pt.db, pt.table, item)
		planted[id] = item
	}
	unverified := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyUnverified()))
	before := pt.kmsReqs.Requests()
	for id := range odd {
		for _, s := range []*dynacrypt.Store[Shopper]{s, unverified} {
			if c, err := s.Get(ctx, Shopper{ID: id}); !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Errorf("%s: %+v, %v; want ErrIntegrity", id, c, err)
			}
		}
	}
	p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if got := pt.kmsReqs.Requests() - before - p.Promoted*pt.kmsPerItem; got != 0 {
		t.Errorf("refusing the odd items, read and walked, made %d KMS requests", got)
	}
	if !errors.Is(err, dynacrypt.ErrIntegrity) || p.Failed != int64(len(odd)) || p.Promoted != 1 {
		t.Errorf("walk: %+v, %v", p, err)
	}
	for id, item := range planted {
		if raw := pt.raw(t, id); !reflect.DeepEqual(raw, item) {
			t.Errorf("%s was rewritten: %v", id, raw)
		}
	}
}

// The threat: the genuine manifest with the digest of a planted item
// (from the attacker's own snapshot) spliced in, the count and order fixed
// up, the signature kept. The signature covers the list: nothing reads,
// nothing is signed, in dynacrypt's item format and in DB-ESDK's.
func TestSplicedManifestVouchesForNothing(t *testing.T) {
	inEachFormat(t, 2, splicedManifestVouchesForNothing)
}

// splicedManifestVouchesForNothing is TestSplicedManifestVouchesForNothing
// in pt's item format.
func splicedManifestVouchesForNothing(t *testing.T, pt *plaintextTable) {
	ctx := context.Background()
	manifest := pt.snapshot(t)
	planted := oldShopperOf(0)
	planted.ID = "planted"
	pt.oldPut(t, planted)
	// The attacker's own snapshot of the table gives the planted item's
	// digest, under a key of theirs.
	theirs, _, err := mustNew[Shopper](t, pt.db, pt.table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithUnsignedAttributes("expires"), dynacrypt.WithCipher(newAES(t))).LegacySnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signedLen := func(m []byte) int { return 20 + (int(m[18])<<8 | int(m[19])) }
	digests := func(m []byte) [][]byte {
		rest := m[signedLen(m) : len(m)-32]
		n, k := binary.Uvarint(rest)
		var out [][]byte
		for i := range int(n) {
			out = append(out, rest[k+16*i:k+16*(i+1)])
		}
		return out
	}
	all := map[string][]byte{}
	for _, d := range append(digests(manifest), digests(theirs)...) {
		all[string(d)] = d
	}
	var sorted [][]byte
	for _, d := range all {
		sorted = append(sorted, d)
	}
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if bytes.Compare(sorted[j], sorted[i]) < 0 {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	spliced := append([]byte(nil), manifest[:signedLen(manifest)]...)
	spliced = binary.AppendUvarint(spliced, uint64(len(sorted)))
	for _, d := range sorted {
		spliced = append(spliced, d...)
	}
	spliced = append(spliced, manifest[len(manifest)-32:]...)
	s := pt.store(t, pt.phase(dynacrypt.ReadPlaintext, dynacrypt.LegacyManifest(spliced)))
	if c, err := s.Get(ctx, Shopper{ID: "planted"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("planted item under a spliced manifest: %+v, %v", c, err)
	}
	if _, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err == nil || pt.signed(t, "planted") {
		t.Errorf("walk under a spliced manifest: %v; planted signed: %t", err, pt.signed(t, "planted"))
	}
}
