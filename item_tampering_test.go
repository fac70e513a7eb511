package dynacrypt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// Someone who writes the table (or an export file) edits items: headers
// downgraded, cut, relabelled or moved; ciphertexts moved, swapped,
// retyped or dropped; attributes added beside signed ones. Every such item
// is refused with ErrIntegrity, shows no plaintext, and costs no key
// service request beyond the unwrap limit's.

// sealedSecret is the prefix of every plaintext the tests seal: no error and
// no value a refused read returns may contain it.
const sealedSecret = "SEALED-SECRET-"

// sealingItems returns Items of the logical table "sealed" with partition key id and
// encrypted attributes encrypted, over cipher; opts come last.
func sealingItems(t *testing.T, cipher dynacrypt.Cipher, encrypted []string, opts ...dynacrypt.Option) *dynacrypt.Items {
	t.Helper()
	all := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher)}
	if len(encrypted) > 0 {
		all = append(all, dynacrypt.WithEncryptedAttributes(encrypted...))
	}
	it, err := dynacrypt.NewItems("sealed", append(all, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// secretDoc is a plaintext item: encrypted a, b, c (declared by the writer),
// a plaintext binary and a plaintext string.
func secretDoc(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"id":   strAV(id),
		"a":    strAV(sealedSecret + "a-" + id),
		"b":    strAV(sealedSecret + "b-" + id),
		"c":    &types.AttributeValueMemberN{Value: "4111111111111111"},
		"blob": &types.AttributeValueMemberB{Value: []byte("plain blob")},
		"note": strAV("note " + id),
	}
}

// leakIn reports whether an error or an opened item holds a sealed
// plaintext, or a ciphertext of sealed passed off as a plaintext value.
func leakIn(err error, got, sealed map[string]types.AttributeValue) string {
	if err != nil && (strings.Contains(err.Error(), sealedSecret) || strings.Contains(err.Error(), "4111111111111111")) {
		return "error holds plaintext: " + err.Error()
	}
	for name, v := range got {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			if strings.HasPrefix(v.Value, sealedSecret) {
				return fmt.Sprintf("%s opened: %q", name, v.Value)
			}
		case *types.AttributeValueMemberB:
			for sn, sv := range sealed {
				if sb, ok := sv.(*types.AttributeValueMemberB); ok && sn != "blob" && len(sb.Value) > 0 && bytes.Equal(sb.Value, v.Value) {
					return fmt.Sprintf("%s came back as the ciphertext of %s", name, sn)
				}
			}
		}
	}
	return ""
}

// wantRefused checks that Open refused av with ErrIntegrity and leaked
// nothing.
func wantRefused(t *testing.T, it *dynacrypt.Items, what string, av, sealed map[string]types.AttributeValue) error {
	t.Helper()
	got, err := func() (got map[string]types.AttributeValue, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("PANIC: %v", r)
			}
		}()
		return it.Open(context.Background(), av)
	}()
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("%s: Open gave %v, %v; want ErrIntegrity", what, got, err)
	}
	if leak := leakIn(err, got, sealed); leak != "" {
		t.Errorf("%s: refused, but the refusal leaks: %s", what, leak)
	}
	return err
}

// sha256Sum returns the SHA-256 of s.
func sha256Sum(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }

// TestHeaderDowngradeAndSpliceRefused: someone who writes the table
// rewrites an item's genuine wrapped key in KMSCipher's format 1 (with
// either spelling of the key's reference), gives it another key's
// reference or an unknown format, or pastes in the whole header of another
// item. The wrapped key and the header are bound to the item, so each read
// is ErrIntegrity.
func TestHeaderDowngradeAndSpliceRefused(t *testing.T) {
	ctx := context.Background()
	db, table, users := kmsUsers(t, 2)
	raw := rawGet(t, db, table, userID(0))
	header := headerOf(t, raw)
	wrapped := wrappedKey(header)
	blob := wrapped[5:]
	ref := func(s string) []byte { return sha256Sum(s)[:4] }
	variants := map[string][]byte{
		"format 1, alias spelling": append(append([]byte{1}, ref(testrig.KeyA)...), blob...),
		"format 1, key ID":         append(append([]byte{1}, ref(testrig.KeyAID)...), blob...),
		"format 2, key B's ref":    append(append([]byte{2}, ref(testrig.KeyBID)...), blob...),
		"format 3":                 append([]byte{3}, wrapped[1:]...),
	}
	for name, w := range variants {
		forged := cloneItem(raw)
		forged[hdr] = &types.AttributeValueMemberB{Value: withWrappedKey(header, w)}
		rawPut(t, db, table, forged)
		if u, err := users.Get(ctx, User{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("header with wrapped key %s: %+v, %v; want ErrIntegrity", name, u, err)
		}
	}
	// The whole header of item 1 on item 0.
	forged := cloneItem(raw)
	forged[hdr] = rawGet(t, db, table, userID(1))[hdr]
	rawPut(t, db, table, forged)
	if u, err := users.Get(ctx, User{ID: userID(0)}); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("spliced header: %+v, %v", u, err)
	}
}

// TestMalformedHeadersRefused: someone who writes the table or an export
// file gives a suite-2 header its tag cut or extended, an unknown suite or
// version, a bad wrapped-key length, another type, or none; or rebuilds a
// header under the other suite around the same genuine wrapped key. Each
// is refused with ErrIntegrity and leaks nothing; a header that does not
// parse costs no Decrypt, and one rebuilt under the other suite at most
// one.
func TestMalformedHeadersRefused(t *testing.T) {
	aes := newAES(t)
	writer2 := sealingItems(t, aes, []string{"a", "b", "c"})
	writer1 := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithWriteSuite(dynacrypt.Suite1))
	s2 := mustSeal(t, writer2, secretDoc("u2"))
	s1 := mustSeal(t, writer1, secretDoc("u1"))
	h2, h1 := binOf(s2[hdr]), binOf(s1[hdr])
	if h2[1] != 2 || len(h2) != 32+len(wrappedKey(h2)) || h1[1] != 1 || len(h1) != 52+len(wrappedKey(h1)) {
		t.Fatalf("unexpected header layouts: suite %d, %d bytes; suite %d, %d bytes", h2[1], len(h2), h1[1], len(h1))
	}
	edit := func(h []byte, f func(b []byte) []byte) []byte { return f(append([]byte(nil), h...)) }
	unparsable := map[string][]byte{
		"tag cut by 1":           edit(h2, func(b []byte) []byte { return b[:len(b)-1] }),
		"tag cut to 0":           edit(h2, func(b []byte) []byte { return b[:len(b)-16] }),
		"tag extended by 1":      edit(h2, func(b []byte) []byte { return append(b, 0) }),
		"tag as long as an HMAC": edit(h2, func(b []byte) []byte { return append(b, make([]byte, 16)...) }),
		"suite 0":                edit(h2, func(b []byte) []byte { b[1] = 0; return b }),
		"suite 3":                edit(h2, func(b []byte) []byte { b[1] = 3; return b }),
		"suite 0xff":             edit(h2, func(b []byte) []byte { b[1] = 0xff; return b }),
		"version 2":              edit(h2, func(b []byte) []byte { b[0] = 2; return b }),
		"version 0":              edit(h2, func(b []byte) []byte { b[0] = 0; return b }),
		"wrapped length 0": edit(h2, func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[14:], 0)
			return b
		}),
		"wrapped length +1": edit(h2, func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[14:], binary.BigEndian.Uint16(b[14:])+1)
			return b
		}),
		"wrapped length 0xffff":     edit(h2, func(b []byte) []byte { binary.BigEndian.PutUint16(b[14:], 0xffff); return b }),
		"empty":                     {},
		"one byte":                  {1},
		"version and suite":         {1, 2},
		"nonce only":                h2[:14],
		"suite-1 length, suite 2":   edit(h1, func(b []byte) []byte { b[1] = 2; return b }), // parses as neither
		"suite-2 header as suite 1": edit(h2, func(b []byte) []byte { b[1] = 1; return b }),
	}
	for name, h := range unparsable {
		var decrypts atomic.Int64
		reader := sealingItems(t, countingCipher{aes, &decrypts}, []string{"a", "b", "c"})
		av := cloneItem(s2)
		av[hdr] = binAV(h)
		err := wantRefused(t, reader, name, av, s2)
		if decrypts.Load() != 0 {
			t.Errorf("KMS cost: header %s cost %d Decrypts (%v)", name, decrypts.Load(), shortErr(err))
		}
	}
	// The header of another type, or missing.
	for name, v := range map[string]types.AttributeValue{"S": strAV(string(h2)), "BS": &types.AttributeValueMemberBS{Value: [][]byte{h2}}, "missing": nil} {
		var decrypts atomic.Int64
		reader := sealingItems(t, countingCipher{aes, &decrypts}, []string{"a", "b", "c"})
		av := cloneItem(s2)
		if v == nil {
			delete(av, hdr)
		} else {
			av[hdr] = v
		}
		wantRefused(t, reader, "header "+name, av, s2)
		if decrypts.Load() != 0 {
			t.Errorf("KMS cost: header %s cost %d Decrypts", name, decrypts.Load())
		}
	}

	// Headers that parse under the other suite around the same genuine
	// wrapped key: a suite-1 header (salt, HMAC) built from a suite-2 one,
	// and the reverse; the random field and authenticator taken from the
	// original, cut or padded.
	rebuild := func(suite byte, random, wrapped, auth []byte) []byte {
		b := []byte{1, suite}
		b = append(b, random...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(wrapped)))
		b = append(b, wrapped...)
		return append(b, auth...)
	}
	w2, w1 := wrappedKey(h2), wrappedKey(h1)
	tag2, mac1 := h2[len(h2)-16:], h1[len(h1)-32:]
	cross := map[string]struct {
		item map[string]types.AttributeValue
		h    []byte
	}{
		"suite-2 item under a suite-1 header": {s2, rebuild(1, append(append([]byte(nil), h2[2:14]...), 0, 0, 0, 0), w2, append(append([]byte(nil), tag2...), tag2...))},
		"suite-1 item under a suite-2 header": {s1, rebuild(2, h1[2:14], w1, mac1[:16])},
		"suite-1 item, HMAC's second half":    {s1, rebuild(2, h1[6:18], w1, mac1[16:])},
	}
	for name, c := range cross {
		var decrypts atomic.Int64
		reader := sealingItems(t, countingCipher{aes, &decrypts}, []string{"a", "b", "c"})
		av := cloneItem(c.item)
		av[hdr] = binAV(c.h)
		wantRefused(t, reader, name, av, c.item)
		if decrypts.Load() > 1 {
			t.Errorf("KMS cost: %s cost %d Decrypts", name, decrypts.Load())
		}
	}
}

// TestCiphertextSplicesRefused: someone who writes the table edits an item,
// or splices in parts of another item under the same root key: bytes moved
// between encrypted attributes, ciphertexts swapped, duplicated, dropped,
// added, renamed, retyped, truncated or extended; plaintext attributes
// retyped or dropped; the key changed; nonces, tags and headers moved; the
// item read under another logical table or header attribute. Each is
// refused with ErrIntegrity, with no plaintext in the error, in suite 2
// and suite 1.
func TestCiphertextSplicesRefused(t *testing.T) {
	aes := newAES(t)
	for _, suite := range []dynacrypt.Suite{dynacrypt.Suite2, dynacrypt.Suite1} {
		t.Run(fmt.Sprintf("suite%d", suite), func(t *testing.T) {
			it := sealingItems(t, aes, []string{"a", "b", "c", "d"}, dynacrypt.WithWriteSuite(suite))
			d1, d2 := secretDoc("u1"), secretDoc("u2")
			// Equal lengths, so that swaps keep every length.
			d1["b"] = strAV(sealedSecret + "b-u1")
			d1["a"] = strAV(sealedSecret + "a-u1")
			s1, s2 := mustSeal(t, it, d1), mustSeal(t, it, d2) // one root key
			if got, err := it.Open(context.Background(), cloneItem(s1)); err != nil || got["a"].(*types.AttributeValueMemberS).Value != sealedSecret+"a-u1" {
				t.Fatalf("genuine item: %v, %v", got, err)
			}
			a, b, c := binOf(s1["a"]), binOf(s1["b"]), binOf(s1["c"])
			attacks := map[string]func(av map[string]types.AttributeValue){
				"last byte of a moved to b": func(av map[string]types.AttributeValue) {
					av["a"], av["b"] = binAV(a[:len(a)-1]), binAV(append([]byte{a[len(a)-1]}, b...))
				},
				"first byte of b moved to a": func(av map[string]types.AttributeValue) {
					av["a"], av["b"] = binAV(append(append([]byte(nil), a...), b[0])), binAV(b[1:])
				},
				"b's bytes moved to c": func(av map[string]types.AttributeValue) {
					delete(av, "b")
					av["c"] = binAV(append(append([]byte(nil), b...), c...))
				},
				"a and b swapped":       func(av map[string]types.AttributeValue) { av["a"], av["b"] = binAV(b), binAV(a) },
				"a duplicated into b":   func(av map[string]types.AttributeValue) { av["b"] = binAV(a) },
				"a dropped":             func(av map[string]types.AttributeValue) { delete(av, "a") },
				"c dropped":             func(av map[string]types.AttributeValue) { delete(av, "c") },
				"all encrypted dropped": func(av map[string]types.AttributeValue) { delete(av, "a"); delete(av, "b"); delete(av, "c") },
				"d added (random)":      func(av map[string]types.AttributeValue) { av["d"] = binAV(randomBytes(t, 20)) },
				"d added (copy of a)":   func(av map[string]types.AttributeValue) { av["d"] = binAV(a) },
				"d added (empty)":       func(av map[string]types.AttributeValue) { av["d"] = binAV(nil) },
				"a renamed d":           func(av map[string]types.AttributeValue) { av["d"] = av["a"]; delete(av, "a") },
				"a as S":                func(av map[string]types.AttributeValue) { av["a"] = strAV(string(a)) },
				"a as BS":               func(av map[string]types.AttributeValue) { av["a"] = &types.AttributeValueMemberBS{Value: [][]byte{a}} },
				"a as L of B": func(av map[string]types.AttributeValue) {
					av["a"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{binAV(a)}}
				},
				"a truncated":      func(av map[string]types.AttributeValue) { av["a"] = binAV(a[:len(a)-1]) },
				"a emptied":        func(av map[string]types.AttributeValue) { av["a"] = binAV(nil) },
				"a extended":       func(av map[string]types.AttributeValue) { av["a"] = binAV(append(append([]byte(nil), a...), 0)) },
				"a bit flipped":    func(av map[string]types.AttributeValue) { x := binAV(a); x.Value[0] ^= 1; av["a"] = x },
				"blob as S":        func(av map[string]types.AttributeValue) { av["blob"] = strAV("plain blob") },
				"note as B":        func(av map[string]types.AttributeValue) { av["note"] = binAV([]byte("note u1")) },
				"blob dropped":     func(av map[string]types.AttributeValue) { delete(av, "blob") },
				"extra attribute":  func(av map[string]types.AttributeValue) { av["zzz"] = strAV("x") },
				"extra 0xff-named": func(av map[string]types.AttributeValue) { av["\xff"] = strAV("x") },
				"a from u2":        func(av map[string]types.AttributeValue) { av["a"] = binAV(binOf(s2["a"])) },
				"a, b, c from u2":  func(av map[string]types.AttributeValue) { av["a"], av["b"], av["c"] = s2["a"], s2["b"], s2["c"] },
				"header from u2":   func(av map[string]types.AttributeValue) { av[hdr] = binAV(binOf(s2[hdr])) },
				"id changed":       func(av map[string]types.AttributeValue) { av["id"] = strAV("u2") },
				"id changed to N":  func(av map[string]types.AttributeValue) { av["id"] = &types.AttributeValueMemberN{Value: "1"} },
				"id dropped":       func(av map[string]types.AttributeValue) { delete(av, "id") },
				"everything of u2 but id": func(av map[string]types.AttributeValue) {
					for k, v := range s2 {
						if k != "id" {
							av[k] = v
						}
					}
				},
				"nonce/salt from u2": func(av map[string]types.AttributeValue) {
					h, o := append([]byte(nil), binOf(s1[hdr])...), binOf(s2[hdr])
					n := wrappedKeyAt(h)
					copy(h[2:n], o[2:n])
					av[hdr] = binAV(h)
				},
				"tag/MAC from u2": func(av map[string]types.AttributeValue) {
					h, o := append([]byte(nil), binOf(s1[hdr])...), binOf(s2[hdr])
					n := 16
					if suite == dynacrypt.Suite1 {
						n = 32
					}
					copy(h[len(h)-n:], o[len(o)-n:])
					av[hdr] = binAV(h)
				},
			}
			for name, attack := range attacks {
				av := cloneItem(s1)
				attack(av)
				wantRefused(t, it, name, av, s1)
			}
			// Another logical table, same Cipher and root key store.
			other := sealingItems(t, aes, []string{"a", "b", "c", "d"}, dynacrypt.WithLogicalTableName("sealed-other"))
			wantRefused(t, other, "item read under another logical table name", cloneItem(s1), s1)
			// Another header attribute name: the header is an unknown binary.
			renamed := sealingItems(t, aes, []string{"a", "b", "c", "d"}, dynacrypt.WithHeaderAttribute("_h2"))
			av := cloneItem(s1)
			av["_h2"] = av[hdr]
			delete(av, hdr)
			wantRefused(t, it, "header moved to another attribute", av, s1)
			wantRefused(t, renamed, "read with another header attribute", cloneItem(s1), s1)
		})
	}
}

// TestUnsignedAttributeNeverOpensCiphertext: an attribute declared unsigned
// is left out of the signature, so anyone may change it. Someone who writes
// the table moves a ciphertext into it, and a reader declares an encrypted
// attribute unsigned (or a signed one unsigned, or the reverse): each item
// is refused with ErrIntegrity, an attribute cannot be declared both
// encrypted and unsigned, and a ciphertext never comes out as a plaintext
// value. Changing the unsigned attribute alone is accepted.
func TestUnsignedAttributeNeverOpensCiphertext(t *testing.T) {
	ctx := context.Background()
	aes := newAES(t)
	it := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithUnsignedAttributes("views"))
	doc := secretDoc("u1")
	doc["views"] = &types.AttributeValueMemberN{Value: "1"}
	sealed := mustSeal(t, it, doc)
	av := cloneItem(sealed)
	av["views"] = &types.AttributeValueMemberN{Value: "2"}
	if got, err := it.Open(ctx, av); err != nil || got["views"].(*types.AttributeValueMemberN).Value != "2" {
		t.Errorf("unsigned attribute changed: %v, %v", got, err)
	}
	av = cloneItem(sealed)
	av["views"] = binAV(binOf(sealed["a"])) // a ciphertext moved into the unsigned attribute
	delete(av, "a")
	wantRefused(t, it, "a moved into the unsigned attribute", av, sealed)
	if _, err := dynacrypt.NewItems("sealed", dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(aes),
		dynacrypt.WithEncryptedAttributes("a"), dynacrypt.WithUnsignedAttributes("a")); err == nil {
		t.Error("NewItems accepted an attribute both encrypted and unsigned")
	}
	asUnsigned := sealingItems(t, aes, []string{"b", "c"}, dynacrypt.WithUnsignedAttributes("views", "a"))
	wantRefused(t, asUnsigned, "a read as unsigned", cloneItem(sealed), sealed)
	// Written with views unsigned, read with views signed; and the reverse.
	signed := sealingItems(t, aes, []string{"a", "b", "c"})
	wantRefused(t, signed, "views read as signed", cloneItem(sealed), sealed)
	sealedSigned := mustSeal(t, signed, doc)
	wantRefused(t, it, "views read as unsigned", cloneItem(sealedSigned), sealedSigned)
}

// notedDoc has a signed role and an unsigned note.
type notedDoc struct {
	ID    string `dynamodbav:"id"`
	Token string `dynamodbav:"token" encrypt:"kms"`
	Role  string `dynamodbav:"role"`
	Note  string `dynamodbav:"note"`
}

// TestCaseTwinAttributesRefused: attributevalue fills a field from an
// attribute whatever the case of its name, so someone who writes the table
// adds "Role" (or "ROLE", "Token") beside the signed "role" to override it.
// Such an item is refused with ErrIntegrity; New refuses an unsigned
// attribute that is a case twin of a field; and an unsigned attribute
// changed fills only its own field.
func TestCaseTwinAttributesRefused(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	cipher := newAES(t)
	s := mustNew[notedDoc](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes("note"))
	if err := s.Put(ctx, &notedDoc{ID: "a", Token: "secret", Role: "user"}); err != nil {
		t.Fatal(err)
	}
	for _, twin := range []string{"Role", "ROLE", "Token", "rOlE"} {
		raw := rawGet(t, db, table, "a")
		raw[twin] = &types.AttributeValueMemberS{Value: "admin"}
		rawPut(t, db, table, raw)
		if u, err := s.Get(ctx, notedDoc{ID: "a"}); !errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("twin %q added: %+v, %v; want ErrIntegrity", twin, u, err)
		}
		delete(raw, twin)
		rawPut(t, db, table, raw)
	}
	for _, twin := range []string{"Role", "NOTE", "Token"} {
		if _, err := dynacrypt.New[notedDoc](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(cipher), dynacrypt.WithUnsignedAttributes(twin)); err == nil {
			t.Errorf("unsigned twin %q accepted at New", twin)
		}
	}
	// Unsigned "note" changed: accepted by design, and lands only in Note.
	raw := rawGet(t, db, table, "a")
	raw["note"] = &types.AttributeValueMemberS{Value: "attacker"}
	rawPut(t, db, table, raw)
	if u, err := s.Get(ctx, notedDoc{ID: "a"}); err != nil || u.Role != "user" || u.Token != "secret" {
		t.Errorf("unsigned note changed: %+v, %v", u, err)
	}
}

// TestConcurrentSealsShareItemKeySafely: many goroutines seal and open with
// Items sharing one root key (and so one cached suite-2 item key and its
// scratch buffers), with a fresh root key every few items, under the race
// detector. Every item opens to its own plaintext, and forgeries
// interleaved are refused: no state leaks from one item to another.
func TestConcurrentSealsShareItemKeySafely(t *testing.T) {
	ctx := context.Background()
	aes := newAES(t)
	writer := sealingItems(t, aes, []string{"a", "b", "c"}, dynacrypt.WithRootKeyMaxItems(7))
	reader := sealingItems(t, aes, []string{"a", "b", "c"})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				doc := secretDoc(id)
				doc["b"] = strAV(sealedSecret + strings.Repeat("x", (g*i)%2000))
				sealed, err := writer.Seal(ctx, doc)
				if err != nil {
					bad.Add(1)
					continue
				}
				got, err := reader.Open(ctx, cloneItem(sealed))
				if err != nil || got["a"].(*types.AttributeValueMemberS).Value != sealedSecret+"a-"+id ||
					got["b"].(*types.AttributeValueMemberS).Value != doc["b"].(*types.AttributeValueMemberS).Value {
					bad.Add(1)
				}
				forged := cloneItem(sealed)
				forged["a"] = binAV(append([]byte{0}, binOf(sealed["a"])...))
				if _, err := reader.Open(ctx, forged); !errors.Is(err, dynacrypt.ErrIntegrity) {
					bad.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d concurrent seals or opens went wrong", bad.Load())
	}
}
