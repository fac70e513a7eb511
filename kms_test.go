package dynacrypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/dynacrypt/dynacrypt/internal/kmsid"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// These tests run against local-kms (see testrig.KMS). They write with a
// KMSCipher configured under one spelling of a key and read with ciphers
// configured under the others, and count the requests each read sends.

var kmsTestContext = map[string]string{TableContextKey: "users", "tenant": "t1"}

// spellingsOfA are the ways to configure seeded key A.
var spellingsOfA = []struct{ name, id string }{
	{"alias", testrig.KeyA},
	{"alias ARN", testrig.AliasARN(testrig.KeyA)},
	{"key ARN", testrig.KeyARN(testrig.KeyAID)},
	{"key ID", testrig.KeyAID},
}

func refOfString(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:4]
}

// kmsRoot is a root key to wrap; its bytes never appear in a ciphertext.
var kmsRoot = bytes.Repeat([]byte{0x5a}, 32)

func mustWrap(t *testing.T, c *KMSCipher) []byte {
	t.Helper()
	ct, err := c.Encrypt(context.Background(), kmsRoot, kmsTestContext)
	if err != nil {
		t.Fatalf("Encrypt under %s: %v", c.KeyID(), err)
	}
	return ct
}

// requests runs fn and returns how many KMS requests it sent.
func requests(counter *testrig.Counter, fn func()) int64 {
	before := counter.Requests()
	fn()
	return counter.Requests() - before
}

// createKey makes a fresh key in local-kms with a fresh alias, for tests
// that need keys no other test uses.
func createKey(t *testing.T, client *kms.Client) (keyID, keyARN, alias string) {
	t.Helper()
	ctx := context.Background()
	out, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	alias = "alias/dynacrypt-kms-test-" + hex.EncodeToString(suffix)
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId, *out.KeyMetadata.Arn, alias
}

// formatOne builds a ciphertext as KMSCipher wrote before format 2:
// 0x01 || SHA-256(spelling)[0:4] || blob.
func formatOne(t *testing.T, client *kms.Client, spelling string) []byte {
	t.Helper()
	out, err := client.Encrypt(context.Background(), &kms.EncryptInput{KeyId: &spelling, Plaintext: kmsRoot, EncryptionContext: kmsTestContext})
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{1}, refOfString(spelling)...), out.CiphertextBlob...)
}

// noPanic runs fn, turning a panic into a test failure.
func noPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	fn()
}

// TestKMSLocalBehaviour records what local-kms does when Decrypt names an
// alias, or a key other than the one that made the blob: the tests below
// depend on it.
func TestKMSLocalBehaviour(t *testing.T) {
	client, _ := testrig.KMS(t)
	ctx := context.Background()
	out, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(testrig.KeyA), Plaintext: kmsRoot, EncryptionContext: kmsTestContext})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.KeyId); got != testrig.KeyARN(testrig.KeyAID) {
		t.Errorf("Encrypt naming an alias answers KeyId %q, want the key ARN", got)
	}
	for _, id := range []string{testrig.KeyA, testrig.AliasARN(testrig.KeyA)} {
		dec, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: &id, CiphertextBlob: out.CiphertextBlob, EncryptionContext: kmsTestContext})
		if err != nil || aws.ToString(dec.KeyId) != testrig.KeyARN(testrig.KeyAID) {
			t.Errorf("Decrypt naming %s: %v, KeyId %q; want success and the key ARN", id, err, aws.ToString(dec.KeyId))
		}
	}
	for _, id := range []string{testrig.KeyB, testrig.KeyBID, testrig.KeyARN(testrig.KeyBID)} {
		_, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: &id, CiphertextBlob: out.CiphertextBlob, EncryptionContext: kmsTestContext})
		var incorrect *kmstypes.IncorrectKeyException
		var invalid *kmstypes.InvalidCiphertextException
		switch {
		case errors.As(err, &incorrect):
			t.Logf("Decrypt naming another key (%s): IncorrectKeyException, as AWS KMS", id)
		case errors.As(err, &invalid):
			t.Logf("Decrypt naming another key (%s): InvalidCiphertextException (AWS KMS says IncorrectKeyException)", id)
		default:
			t.Errorf("Decrypt naming another key (%s): %v; want IncorrectKeyException or InvalidCiphertextException", id, err)
		}
	}
}

// TestKMSSpellings: a root key wrapped under any spelling of key A unwraps
// with a cipher configured under any other spelling of it. A reader
// configured with a key ARN or key ID knows the key without asking KMS; one
// configured with an alias learns it from its first Decrypt.
func TestKMSSpellings(t *testing.T) {
	client, counter := testrig.KMS(t)
	ctx := context.Background()
	for _, w := range spellingsOfA {
		ct := mustWrap(t, NewKMSCipher(client, w.id))
		if ct[0] != 2 || !bytes.Equal(ct[1:5], refOfString(testrig.KeyAID)) {
			t.Errorf("written under the %s: starts %x, want 02 || SHA-256(key ID)[0:4] = 02%x", w.name, ct[:5], refOfString(testrig.KeyAID))
		}
		if bytes.Contains(ct, kmsRoot) {
			t.Fatal("ciphertext contains the root key")
		}
		for _, r := range spellingsOfA {
			reader := NewKMSCipher(client, r.id)
			alias := strings.Contains(r.id, "alias/")
			if id, ok := reader.WrappingKey(ct); ok != !alias || (ok && id != r.id) {
				t.Errorf("%s -> %s: before any call WrappingKey = %q, %v", w.name, r.name, id, ok)
			}
			for i := range 2 {
				var got []byte
				var err error
				n := requests(counter, func() { got, err = reader.Decrypt(ctx, ct, kmsTestContext) })
				if err != nil || !bytes.Equal(got, kmsRoot) {
					t.Errorf("written under the %s, read under the %s (read %d): %v", w.name, r.name, i+1, err)
				}
				if n != 1 {
					t.Errorf("written under the %s, read under the %s (read %d): %d KMS requests, want 1", w.name, r.name, i+1, n)
				}
			}
			if id, ok := reader.WrappingKey(ct); !ok || id != r.id {
				t.Errorf("%s -> %s: WrappingKey = %q, %v; want %q", w.name, r.name, id, ok, r.id)
			}
			if !reader.UnderCurrentKey(ct) {
				t.Errorf("%s -> %s: UnderCurrentKey = false", w.name, r.name)
			}
		}
	}
}

// TestKMSPreviousKeySpelling: a previous key configured under another
// spelling than the one that wrapped still unwraps.
func TestKMSPreviousKeySpelling(t *testing.T) {
	client, counter := testrig.KMS(t)
	ctx := context.Background()

	// Wrapped under the alias, listed as a previous key by ARN: known at
	// construction, one request.
	underAlias := mustWrap(t, NewKMSCipher(client, testrig.KeyA))
	byARN := NewKMSCipher(client, testrig.KeyBID).WithPreviousKeys(testrig.KeyARN(testrig.KeyAID))
	if n := requests(counter, func() {
		if got, err := byARN.Decrypt(ctx, underAlias, kmsTestContext); err != nil || !bytes.Equal(got, kmsRoot) {
			t.Errorf("previous key by ARN: %v", err)
		}
	}); n != 1 {
		t.Errorf("previous key by ARN: %d KMS requests, want 1", n)
	}
	if id, ok := byARN.WrappingKey(underAlias); !ok || id != testrig.KeyARN(testrig.KeyAID) {
		t.Errorf("WrappingKey = %q, %v", id, ok)
	}
	if byARN.UnderCurrentKey(underAlias) {
		t.Error("a ciphertext under a previous key is UnderCurrentKey")
	}

	// Wrapped under the key ID, listed as a previous key by alias, with an
	// alias as the current key: neither is known, so the cipher tries the
	// current key (rejected), then the previous one, and remembers it.
	underID := mustWrap(t, NewKMSCipher(client, testrig.KeyAID))
	byAlias := NewKMSCipher(client, testrig.KeyB).WithPreviousKeys(testrig.KeyA)
	for i, want := range []int64{2, 1} {
		if n := requests(counter, func() {
			if got, err := byAlias.Decrypt(ctx, underID, kmsTestContext); err != nil || !bytes.Equal(got, kmsRoot) {
				t.Errorf("previous key by alias (read %d): %v", i+1, err)
			}
		}); n != want {
			t.Errorf("previous key by alias (read %d): %d KMS requests, want %d", i+1, n, want)
		}
	}
	if id, ok := byAlias.WrappingKey(underID); !ok || id != testrig.KeyA {
		t.Errorf("WrappingKey = %q, %v; want %q", id, ok, testrig.KeyA)
	}
	if byAlias.UnderCurrentKey(underID) {
		t.Error("a ciphertext under a previous key is UnderCurrentKey")
	}
	underB := mustWrap(t, byAlias)
	if !byAlias.UnderCurrentKey(underB) || byAlias.UnderCurrentKey(underID) {
		t.Error("after an Encrypt, UnderCurrentKey does not tell the current key from the previous one")
	}
}

// TestKMSUnlistedKey: a ciphertext under a key the cipher does not list is
// refused with ErrIntegrity, with no KMS request once the configured keys
// are known, and with one request per configured key still unknown.
func TestKMSUnlistedKey(t *testing.T) {
	client, counter := testrig.KMS(t)
	ctx := context.Background()
	underA := mustWrap(t, NewKMSCipher(client, testrig.KeyA))
	_, cARN, cAlias := createKey(t, client)
	_, _, dAlias := createKey(t, client)

	refuse := func(what string, c *KMSCipher, ct []byte, wantRequests int64) {
		t.Helper()
		var err error
		n := requests(counter, func() { _, err = c.Decrypt(ctx, ct, kmsTestContext) })
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", what, err)
		}
		if n != wantRequests {
			t.Errorf("%s: %d KMS requests, want %d", what, n, wantRequests)
		}
		if _, ok := c.WrappingKey(ct); ok {
			t.Errorf("%s: WrappingKey claims the key", what)
		}
		if c.UnderCurrentKey(ct) {
			t.Errorf("%s: UnderCurrentKey", what)
		}
	}
	refuse("only key B, by ARN", NewKMSCipher(client, testrig.KeyARN(testrig.KeyBID)), underA, 0)
	refuse("key B by ID, key C by ARN", NewKMSCipher(client, testrig.KeyBID).WithPreviousKeys(cARN), underA, 0)

	// Two aliases not yet resolved: each is tried, once per Decrypt.
	aliases := NewKMSCipher(client, cAlias).WithPreviousKeys(dAlias)
	refuse("two unresolved aliases", aliases, underA, 2)
	var invalid *kmstypes.InvalidCiphertextException
	var incorrect *kmstypes.IncorrectKeyException
	if _, err := aliases.Decrypt(ctx, underA, kmsTestContext); !errors.As(err, &invalid) && !errors.As(err, &incorrect) {
		t.Errorf("tried and rejected: %v does not wrap KMS's exception", err)
	}
	// An Encrypt resolves the current alias, a Decrypt the previous one.
	mustWrap(t, aliases)
	refuse("previous alias unresolved", aliases, underA, 1)
	underD := mustWrap(t, NewKMSCipher(client, dAlias))
	if n := requests(counter, func() {
		if _, err := aliases.Decrypt(ctx, underD, kmsTestContext); err != nil {
			t.Errorf("under the previous alias: %v", err)
		}
	}); n != 1 {
		t.Errorf("under the previous alias: %d KMS requests, want 1", n)
	}
	refuse("both aliases resolved", aliases, underA, 0)
}

// TestKMSAlteredCiphertext: a changed format byte or key reference is
// refused, even when KMS would unwrap the blob.
func TestKMSAlteredCiphertext(t *testing.T) {
	client, counter := testrig.KMS(t)
	ctx := context.Background()
	ct := mustWrap(t, NewKMSCipher(client, testrig.KeyA))
	altered := func(i int, b byte) []byte {
		out := bytes.Clone(ct)
		out[i] = b
		return out
	}
	for _, tc := range []struct {
		name     string
		c        *KMSCipher
		ct       []byte
		requests int64
	}{
		{"format 3", NewKMSCipher(client, testrig.KeyAID), altered(0, 3), 0},
		{"format 0", NewKMSCipher(client, testrig.KeyAID), altered(0, 0), 0},
		{"reference, key by ID", NewKMSCipher(client, testrig.KeyAID), altered(2, ct[2]^1), 0},
		// The alias is tried, KMS unwraps the blob, and the reference does
		// not name the key KMS used.
		{"reference, key by alias", NewKMSCipher(client, testrig.KeyA), altered(2, ct[2]^1), 1},
		{"truncated", NewKMSCipher(client, testrig.KeyAID), ct[:5], 0},
		{"empty", NewKMSCipher(client, testrig.KeyAID), nil, 0},
	} {
		var got []byte
		var err error
		n := requests(counter, func() { got, err = tc.c.Decrypt(ctx, tc.ct, kmsTestContext) })
		if !errors.Is(err, ErrIntegrity) || got != nil {
			t.Errorf("%s: %x, %v; want ErrIntegrity", tc.name, got, err)
		}
		if n != tc.requests {
			t.Errorf("%s: %d KMS requests, want %d", tc.name, n, tc.requests)
		}
	}
}

// TestKMSFormatOne: ciphertexts written before format 2 still unwrap, under
// the spelling that wrote them, and are not UnderCurrentKey, so that the
// re-encryption walk rewrites them.
func TestKMSFormatOne(t *testing.T) {
	client, counter := testrig.KMS(t)
	ctx := context.Background()
	for _, s := range spellingsOfA {
		ct := formatOne(t, client, s.id)
		for _, c := range []*KMSCipher{NewKMSCipher(client, s.id), NewKMSCipher(client, testrig.KeyB).WithPreviousKeys(s.id)} {
			var got []byte
			var err error
			if n := requests(counter, func() { got, err = c.Decrypt(ctx, ct, kmsTestContext) }); err != nil || !bytes.Equal(got, kmsRoot) || n != 1 {
				t.Errorf("format 1 under the %s, read under %s: %v, %d KMS requests (want 1)", s.name, c.KeyID(), err, n)
			}
			if id, ok := c.WrappingKey(ct); !ok || id != s.id {
				t.Errorf("format 1 under the %s: WrappingKey = %q, %v", s.name, id, ok)
			}
			if c.UnderCurrentKey(ct) {
				t.Errorf("format 1 under the %s, read under %s: UnderCurrentKey", s.name, c.KeyID())
			}
		}
		var invalid *kmstypes.InvalidCiphertextException
		if _, err := NewKMSCipher(client, s.id).Decrypt(ctx, ct, map[string]string{TableContextKey: "orders"}); !errors.Is(err, ErrIntegrity) || !errors.As(err, &invalid) {
			t.Errorf("format 1 under the %s, other context: %v; want ErrIntegrity and InvalidCiphertextException", s.name, err)
		}
	}
}

// TestKMSConcurrentDecrypt runs Decrypt, Encrypt, WrappingKey and
// UnderCurrentKey at once on a cipher that resolves its aliases meanwhile
// (run it with -race).
func TestKMSConcurrentDecrypt(t *testing.T) {
	client, _ := testrig.KMS(t)
	ctx := context.Background()
	var cts [][]byte
	for _, s := range spellingsOfA {
		cts = append(cts, mustWrap(t, NewKMSCipher(client, s.id)))
	}
	for _, s := range []string{testrig.KeyB, testrig.KeyBID} {
		cts = append(cts, mustWrap(t, NewKMSCipher(client, s)))
	}
	c := NewKMSCipher(client, testrig.KeyB).WithPreviousKeys(testrig.KeyA)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ct := cts[i%len(cts)]
			if got, err := c.Decrypt(ctx, ct, kmsTestContext); err != nil || !bytes.Equal(got, kmsRoot) {
				t.Errorf("Decrypt %d: %v", i, err)
			}
			c.WrappingKey(ct)
			c.UnderCurrentKey(ct)
			if i%8 == 0 {
				if _, err := c.Encrypt(ctx, kmsRoot, kmsTestContext); err != nil {
					t.Errorf("Encrypt %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	for i, ct := range cts {
		if id, ok := c.WrappingKey(ct); !ok || c.UnderCurrentKey(ct) != (i >= len(spellingsOfA)) {
			t.Errorf("ciphertext %d: WrappingKey %q, %v, UnderCurrentKey %v", i, id, ok, c.UnderCurrentKey(ct))
		}
	}
}

// TestKMSAliasRepointed: rotating by moving an alias to a new key. The
// writer learns the new key from Encrypt, so the re-encryption walk finds
// what is under the old one, and listing the old key by ARN keeps it
// readable.
func TestKMSAliasRepointed(t *testing.T) {
	client, counter := testrig.KMS(t)
	ctx := context.Background()
	_, oldARN, alias := createKey(t, client)
	newID, _, _ := createKey(t, client)
	writer := NewKMSCipher(client, alias)
	underOld := mustWrap(t, writer)
	if _, err := client.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: &alias, TargetKeyId: &newID}); err != nil {
		t.Fatal(err)
	}
	underNew := mustWrap(t, writer)
	if writer.UnderCurrentKey(underOld) || !writer.UnderCurrentKey(underNew) {
		t.Errorf("after the alias moved: UnderCurrentKey(old) = %v, UnderCurrentKey(new) = %v",
			writer.UnderCurrentKey(underOld), writer.UnderCurrentKey(underNew))
	}
	reader := NewKMSCipher(client, alias).WithPreviousKeys(oldARN)
	for _, ct := range [][]byte{underOld, underNew} {
		var err error
		if n := requests(counter, func() { _, err = reader.Decrypt(ctx, ct, kmsTestContext) }); err != nil || n != 1 {
			t.Errorf("after the alias moved: %v, %d KMS requests (want 1)", err, n)
		}
	}
}

// regionKMS is a KMSClient of one region of a fake KMS holding a
// multi-region key and its replicas: the same key ID in every region, an ARN
// per region, and an alias per region. local-kms has no multi-region keys.
// Blobs are not secret: "key ID|context|plaintext".
type regionKMS struct{ region string }

const (
	mrkID    = "mrk-1234abcd12ab34cd56ef1234567890ab"
	mrkAlias = "alias/users"
)

func (r regionKMS) arn(resource string) string {
	return "arn:aws:kms:" + r.region + ":" + testrig.Account + ":" + resource
}

func (r regionKMS) resolve(id *string) (string, error) {
	switch aws.ToString(id) {
	case mrkID, r.arn("key/" + mrkID), mrkAlias, r.arn(mrkAlias):
		return mrkID, nil
	}
	return "", &kmstypes.NotFoundException{Message: aws.String(aws.ToString(id) + " does not exist in " + r.region)}
}

func (r regionKMS) Encrypt(_ context.Context, in *kms.EncryptInput, _ ...func(*kms.Options)) (*kms.EncryptOutput, error) {
	key, err := r.resolve(in.KeyId)
	if err != nil {
		return nil, err
	}
	blob := fmt.Sprintf("%s|%v|%s", key, in.EncryptionContext, in.Plaintext)
	return &kms.EncryptOutput{KeyId: aws.String(r.arn("key/" + key)), CiphertextBlob: []byte(blob)}, nil
}

func (r regionKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	parts := strings.SplitN(string(in.CiphertextBlob), "|", 3)
	if len(parts) != 3 || parts[1] != fmt.Sprint(in.EncryptionContext) {
		return nil, &kmstypes.InvalidCiphertextException{}
	}
	if in.KeyId != nil {
		key, err := r.resolve(in.KeyId)
		if err != nil {
			return nil, err
		}
		if key != parts[0] {
			return nil, &kmstypes.IncorrectKeyException{}
		}
	}
	return &kms.DecryptOutput{KeyId: aws.String(r.arn("key/" + parts[0])), Plaintext: []byte(parts[2])}, nil
}

// TestKMSMultiRegionKey: a global table written in one region with a
// multi-region key reads in another region with the replica key, configured
// by alias, ARN or key ID there.
func TestKMSMultiRegionKey(t *testing.T) {
	ctx := context.Background()
	east, west := regionKMS{"us-east-1"}, regionKMS{"eu-west-1"}
	ct := mustWrap(t, NewKMSCipher(east, mrkAlias))
	if ct[0] != 2 || !bytes.Equal(ct[1:5], refOfString(mrkID)) {
		t.Errorf("starts %x, want 02%x", ct[:5], refOfString(mrkID))
	}
	for _, id := range []string{mrkAlias, west.arn(mrkAlias), west.arn("key/" + mrkID), mrkID} {
		reader := NewKMSCipher(west, id)
		if got, err := reader.Decrypt(ctx, ct, kmsTestContext); err != nil || !bytes.Equal(got, kmsRoot) {
			t.Errorf("read in eu-west-1 under %s: %v", id, err)
		}
		if !reader.UnderCurrentKey(ct) {
			t.Errorf("read in eu-west-1 under %s: not UnderCurrentKey", id)
		}
	}
}

// TestKMSMisconfigured: a cipher without a client or key fails every call
// with check()'s error, which New reports up front, and never panics.
func TestKMSMisconfigured(t *testing.T) {
	client, _ := testrig.KMS(t)
	ct := mustWrap(t, NewKMSCipher(client, testrig.KeyA))
	for name, c := range map[string]*KMSCipher{
		"nil client":        NewKMSCipher(nil, testrig.KeyA),
		"typed nil client":  NewKMSCipher((*kms.Client)(nil), testrig.KeyA),
		"empty key":         NewKMSCipher(client, ""),
		"empty previous":    NewKMSCipher(client, testrig.KeyA).WithPreviousKeys(testrig.KeyB, ""),
		"nil, previous key": NewKMSCipher(nil, testrig.KeyB).WithPreviousKeys(testrig.KeyA),
	} {
		want := c.check()
		if want == nil {
			t.Errorf("%s: check() = nil", name)
			continue
		}
		if strings.HasPrefix(want.Error(), "dynacrypt:") {
			t.Errorf("%s: check() = %q: the Store adds the prefix", name, want)
		}
		same := func(err error) bool {
			return err != nil && err.Error() == want.Error() && !errors.Is(err, ErrIntegrity)
		}
		noPanic(t, name+": Encrypt", func() {
			if _, err := c.Encrypt(context.Background(), kmsRoot, kmsTestContext); !same(err) {
				t.Errorf("%s: Encrypt: %v, want check()'s error: %v", name, err, want)
			}
		})
		noPanic(t, name+": Decrypt", func() {
			if got, err := c.Decrypt(context.Background(), ct, kmsTestContext); !same(err) || got != nil {
				t.Errorf("%s: Decrypt: %v, want check()'s error: %v", name, err, want)
			}
		})
		noPanic(t, name+": WrappingKey", func() { c.WrappingKey(ct) })
		noPanic(t, name+": UnderCurrentKey", func() { c.UnderCurrentKey(ct) })
	}
}

// TestKMSCheck: check() accepts a usable cipher, and refuses one not made
// by NewKMSCipher.
func TestKMSCheck(t *testing.T) {
	client, _ := testrig.KMS(t)
	for _, c := range []*KMSCipher{
		NewKMSCipher(client, testrig.KeyA),
		NewKMSCipher(client, testrig.KeyAID).WithPreviousKeys(testrig.KeyB, testrig.KeyARN(testrig.KeyBID)),
	} {
		if err := c.check(); err != nil {
			t.Errorf("check() = %v", err)
		}
	}
	var zero KMSCipher
	var nilCipher *KMSCipher
	for _, c := range []*KMSCipher{&zero, nilCipher} {
		if c.check() == nil {
			t.Errorf("check() of %#v = nil", c)
		}
	}
}

// TestKMSErrorClassification: kmsError makes KMS's rejection of a
// ciphertext an integrity failure, and nothing else.
func TestKMSErrorClassification(t *testing.T) {
	inOp := func(err error) error {
		return &smithy.OperationError{ServiceID: "KMS", OperationName: "Decrypt", Err: err}
	}
	for _, cause := range []error{
		inOp(&kmstypes.InvalidCiphertextException{Message: aws.String("bad")}),
		inOp(&kmstypes.IncorrectKeyException{}),
		&kmstypes.InvalidCiphertextException{},
	} {
		err := kmsError("Decrypt", "alias/x", cause)
		if !errors.Is(err, ErrIntegrity) || !errors.Is(err, cause) || !kmsid.Rejected(err) {
			t.Errorf("%v: not ErrIntegrity and the exception", err)
		}
		if !strings.HasPrefix(err.Error(), ErrIntegrity.Error()+": KMS Decrypt under alias/x: ") {
			t.Errorf("message %q", err)
		}
	}
	for _, cause := range []error{
		inOp(&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}),
		inOp(&smithy.GenericAPIError{Code: "AccessDeniedException"}),
		inOp(&kmstypes.DisabledException{}),
		inOp(&kmstypes.NotFoundException{}),
		inOp(&kmstypes.KMSInvalidStateException{}),
		inOp(&kmstypes.KMSInternalException{}),
		inOp(&net.OpError{Op: "dial", Err: errors.New("connection refused")}),
		inOp(context.DeadlineExceeded),
		context.Canceled,
	} {
		err := kmsError("Decrypt", "alias/x", cause)
		if errors.Is(err, ErrIntegrity) || !errors.Is(err, cause) || kmsid.Rejected(err) {
			t.Errorf("%v: want the cause and not ErrIntegrity", err)
		}
		if !strings.HasPrefix(err.Error(), "KMS Decrypt under alias/x: ") {
			t.Errorf("message %q", err)
		}
	}
	if msg := kmsError("Decrypt", "", context.Canceled).Error(); msg != "KMS Decrypt: context canceled" {
		t.Errorf("no key named: %q", msg)
	}
	if msg := kmsError("Encrypt", "k", context.Canceled).Error(); msg != "KMS Encrypt under k: context canceled" {
		t.Errorf("Encrypt: %q", msg)
	}
}

// TestKMSErrorsNotIntegrity: failures that say nothing about the ciphertext
// (throttling, a disabled key) are not ErrIntegrity, and wrap KMS's error,
// whether the key is configured by ID or by alias.
func TestKMSErrorsNotIntegrity(t *testing.T) {
	ctx := context.Background()
	plain, counter := testrig.KMS(t)
	client, throttle := testrig.ThrottledKMS(t, 2)
	isThrottling := func(err error) bool {
		var api interface{ ErrorCode() string }
		return !errors.Is(err, ErrIntegrity) && errors.As(err, &api) && api.ErrorCode() == "ThrottlingException"
	}
	for _, id := range []string{testrig.KeyAID, testrig.KeyA} {
		ct := mustWrap(t, NewKMSCipher(plain, id))
		c := NewKMSCipher(client, id)
		throttle.Throttle(2)
		if _, err := c.Decrypt(ctx, ct, kmsTestContext); !isThrottling(err) {
			t.Errorf("throttled Decrypt under %s: %v; want ThrottlingException, not ErrIntegrity", id, err)
		}
		throttle.Throttle(2)
		if _, err := c.Encrypt(ctx, kmsRoot, kmsTestContext); !isThrottling(err) {
			t.Errorf("throttled Encrypt under %s: %v; want ThrottlingException, not ErrIntegrity", id, err)
		}
		if _, err := c.Decrypt(ctx, ct, kmsTestContext); err != nil {
			t.Errorf("Decrypt under %s once KMS answers again: %v", id, err)
		}
	}

	keyID, _, alias := createKey(t, plain)
	var cts [][]byte
	for _, id := range []string{keyID, alias} {
		cts = append(cts, mustWrap(t, NewKMSCipher(plain, id)))
	}
	if _, err := plain.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &keyID}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{keyID, alias} {
		_, err := NewKMSCipher(plain, id).Decrypt(ctx, cts[i], kmsTestContext)
		var disabled *kmstypes.DisabledException
		if errors.Is(err, ErrIntegrity) || !errors.As(err, &disabled) {
			t.Errorf("Decrypt under a disabled key named by %s: %v; want DisabledException, not ErrIntegrity", id, err)
		}
	}

	// Searching the unresolved aliases, a failure other than KMS rejecting
	// the ciphertext ends the search: here the current key is disabled, and
	// the previous one, which wrapped, is not tried.
	underA := mustWrap(t, NewKMSCipher(plain, testrig.KeyA))
	var err error
	n := requests(counter, func() {
		_, err = NewKMSCipher(plain, alias).WithPreviousKeys(testrig.KeyA).Decrypt(ctx, underA, kmsTestContext)
	})
	var disabled *kmstypes.DisabledException
	if errors.Is(err, ErrIntegrity) || !errors.As(err, &disabled) || n != 1 {
		t.Errorf("search stopped by a disabled key: %v, %d KMS requests; want DisabledException after 1 request", err, n)
	}
}
