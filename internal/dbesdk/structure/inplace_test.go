package structure_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// TestInPlaceLeavesFailedItemsUnchanged: EncryptInPlace and DecryptInPlace
// change the item only once nothing can fail, so a refused item is as it
// was (a caller may still hold it).
func TestInPlaceLeavesFailedItemsUnchanged(t *testing.T) {
	e, _, enc := sealed(t, suite.SymSig)
	ctx := context.Background()

	plain, _ := smallItem()
	plain["unknown"] = s("no action")
	before := maps.Clone(plain)
	if err := e.EncryptInPlace(ctx, plain); !errors.Is(err, structure.ErrInvalidItem) {
		t.Fatalf("EncryptInPlace of an attribute without action: %v", err)
	}
	assertSameItem(t, "refused plaintext", plain, before)

	// The last ciphertext altered: every other attribute opens first.
	bad := maps.Clone(enc)
	ct := append([]byte(nil), binaryOf(t, enc, "ssn")...)
	ct[len(ct)-1] ^= 1
	bad["ssn"] = &types.AttributeValueMemberB{Value: ct}
	before = maps.Clone(bad)
	if err := e.DecryptInPlace(ctx, bad, nil); !errors.Is(err, structure.ErrAuthentication) {
		t.Fatalf("DecryptInPlace of an altered ciphertext: %v", err)
	}
	assertSameItem(t, "refused item", bad, before)

	good := maps.Clone(enc)
	if err := e.DecryptInPlace(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := smallItem()
	assertSameItem(t, "decrypted in place", good, want)
}

// TestDecryptInPlaceWithAnotherKeyring: the keyring DecryptInPlace is
// given replaces the configured one for that item.
func TestDecryptInPlaceWithAnotherKeyring(t *testing.T) {
	e, kr, enc := sealed(t, suite.SymSig)
	other := &counting{Keyring: rawAESKeyring(t, 1)}
	before := kr.decrypts
	if err := e.DecryptInPlace(context.Background(), maps.Clone(enc), other); err != nil {
		t.Fatal(err)
	}
	if other.decrypts != 1 || kr.decrypts != before {
		t.Fatalf("the given keyring unwrapped %d times, the configured %d more; want 1 and 0", other.decrypts, kr.decrypts-before)
	}
}

// TestUnlistedAttributesSigned: with Unlisted SignOnly, attributes the
// configuration does not name are signed (dynacrypt's model), and
// tampering with one is refused.
func TestUnlistedAttributesSigned(t *testing.T) {
	e, err := structure.New(structure.Config{TableName: "t", PartitionKey: "pk", Keyring: rawAESKeyring(t, 1),
		Actions: map[string]structure.Action{"pk": structure.SignOnly, "card": structure.EncryptAndSign}, Unlisted: structure.SignOnly})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc, err := e.EncryptItem(ctx, map[string]types.AttributeValue{"pk": s("1"), "card": s(secret), "name": s("Ann")})
	if err != nil {
		t.Fatal(err)
	}
	actions, err := e.ResolveActions(enc)
	if err != nil || actions["name"] != structure.SignOnly || actions["card"] != structure.EncryptAndSign {
		t.Fatalf("actions %v, %v; want name SIGN_ONLY, card ENCRYPT_AND_SIGN", actions, err)
	}
	enc["name"] = s("Bob")
	refused(t, e, enc, "an unlisted signed attribute altered")

	for _, bad := range []structure.Action{structure.DoNothing, structure.SignAndIncludeInEncryptionContext} {
		if _, err := structure.New(structure.Config{TableName: "t", PartitionKey: "pk", Keyring: rawAESKeyring(t, 1),
			Actions: map[string]structure.Action{"pk": structure.SignOnly}, Unlisted: bad}); !errors.Is(err, structure.ErrInvalidConfig) {
			t.Errorf("Unlisted %v: %v, want ErrInvalidConfig", bad, err)
		}
	}
}

// TestRefuseUndeclaredEncryption: an item whose header encrypts an
// attribute the reader's configuration signs only is refused with
// RefuseUndeclared (a writer of that configuration would store the value
// in plaintext), before the keyring is asked; without it, it decrypts, as
// in DB-ESDK. An attribute the reader has no action for is no concern.
func TestRefuseUndeclaredEncryption(t *testing.T) {
	ctx := context.Background()
	kr := &counting{Keyring: rawAESKeyring(t, 1)}
	writer, err := structure.New(structure.Config{TableName: "t", PartitionKey: "pk", Keyring: kr,
		Actions: map[string]structure.Action{"pk": structure.SignOnly, "card": structure.EncryptAndSign, "extra": structure.EncryptAndSign}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := writer.EncryptItem(ctx, map[string]types.AttributeValue{"pk": s("1"), "card": s(secret), "extra": s("x")})
	if err != nil {
		t.Fatal(err)
	}
	reader := func(refuse bool, card structure.Action) *structure.Encryptor {
		e, err := structure.New(structure.Config{TableName: "t", PartitionKey: "pk", Keyring: kr, RefuseUndeclared: refuse,
			Actions: map[string]structure.Action{"pk": structure.SignOnly, "card": card}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if _, err := reader(false, structure.SignOnly).DecryptItem(ctx, enc); err != nil {
		t.Fatalf("without RefuseUndeclared: %v", err)
	}
	if _, err := reader(true, structure.EncryptAndSign).DecryptItem(ctx, enc); err != nil {
		t.Fatalf("card declared encrypted, extra unknown: %v", err)
	}
	before := kr.decrypts
	err = refused(t, reader(true, structure.SignOnly), enc, "card encrypted, declared SIGN_ONLY")
	if !errors.Is(err, structure.ErrMalformed) || kr.decrypts != before {
		t.Fatalf("%v after %d unwraps; want ErrMalformed before any", err, kr.decrypts-before)
	}
}

// TestOutdated: an item is outdated for an Encryptor that writes another
// suite or format version, and a malformed header is an error.
func TestOutdated(t *testing.T) {
	_, _, v2symsig := sealed(t, suite.SymSig)
	_, actions := smallItem()
	for _, tc := range []struct {
		id       suite.ID
		actions  map[string]structure.Action
		outdated bool
	}{
		{suite.SymSig, actions, false},
		{suite.ECDSASymSig, actions, true},
		{suite.SymSig, v1Actions(actions), true},
	} {
		got, err := newEncryptor(t, tc.actions, tc.id, rawAESKeyring(t, 1)).Outdated(v2symsig)
		if err != nil || got != tc.outdated {
			t.Errorf("suite %v: outdated %v, %v; want %v", tc.id, got, err, tc.outdated)
		}
	}
	bad := withBinary(v2symsig, structure.HeaderAttr, []byte{9})
	if _, err := newEncryptor(t, actions, suite.SymSig, rawAESKeyring(t, 1)).Outdated(bad); !errors.Is(err, structure.ErrMalformed) {
		t.Errorf("malformed header: %v", err)
	}
}

// v1Actions returns actions with SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT
// made SIGN_ONLY: format version 1.
func v1Actions(actions map[string]structure.Action) map[string]structure.Action {
	out := maps.Clone(actions)
	for name, a := range out {
		if a == structure.SignAndIncludeInEncryptionContext {
			out[name] = structure.SignOnly
		}
	}
	return out
}
