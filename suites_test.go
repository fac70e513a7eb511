package dynacrypt_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// PinCard has two encrypted attributes, so that suite 2's ciphertexts can be
// moved from one to the other.
type PinCard struct {
	ID      string `dynamodbav:"id"`
	Name    string `dynamodbav:"name"`
	Number  string `dynamodbav:"number" encrypt:"kms"`
	PIN     string `dynamodbav:"pin" encrypt:"kms"`
	Version int64  `dynamodbav:"version"`
}

// headerSuite returns the suite byte of a stored item's header.
func headerSuite(t *testing.T, item map[string]types.AttributeValue) byte {
	t.Helper()
	h, ok := item[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB)
	if !ok || len(h.Value) < 2 {
		t.Fatalf("stored item has no header: %v", item)
	}
	return h.Value[1]
}

// TestSuitesReadEachOther: a Store reads items of both suites, whichever it
// writes, and writes the one it is set to.
func TestSuitesReadEachOther(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	c := newAES(t)
	stores := map[dynacrypt.Suite]*dynacrypt.Store[PinCard]{
		dynacrypt.Suite1: mustNew[PinCard](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(c), dynacrypt.WithWriteSuite(dynacrypt.Suite1)),
		dynacrypt.Suite2: mustNew[PinCard](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(c)),
	}
	for suite, writer := range stores {
		id := "card-" + string('0'+rune(suite))
		if err := writer.Put(ctx, &PinCard{ID: id, Name: "ana", Number: "4111111111111111", PIN: "1234"}); err != nil {
			t.Fatal(err)
		}
		raw := rawGet(t, db, table, id)
		if got := headerSuite(t, raw); got != byte(suite) {
			t.Errorf("Store writing suite %d wrote suite %d", suite, got)
		}
		for _, ct := range []string{"number", "pin"} {
			if bytes.Contains(raw[ct].(*types.AttributeValueMemberB).Value, []byte("1234")) {
				t.Errorf("suite %d: %s stored in clear", suite, ct)
			}
		}
		for readSuite, reader := range stores {
			got, err := reader.Get(ctx, PinCard{ID: id}, dynacrypt.ConsistentRead())
			if err != nil || got.Number != "4111111111111111" || got.PIN != "1234" || got.Name != "ana" {
				t.Errorf("suite %d item read by a Store writing suite %d: %+v, %v", suite, readSuite, got, err)
			}
		}
	}
	if _, err := dynacrypt.New[PinCard](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c),
		dynacrypt.WithWriteSuite(3)); err == nil || !strings.Contains(err.Error(), "suite") {
		t.Errorf("New with suite 3: %v, want an error naming the suite", err)
	}
	if _, err := dynacrypt.New[PinCard](db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithCipher(c),
		dynacrypt.WithRootKeyMaxItems(dynacrypt.MaxRootKeyItems+1)); err == nil {
		t.Error("New took more writes per root key than suite 2's random nonces allow")
	}
}

// TestSuite2Tampering: every change an attacker with write access can make
// to a suite 2 item, the ciphertexts moved between attributes and items
// included, is ErrIntegrity, returns no plaintext and costs no KMS request.
func TestSuite2Tampering(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	c, counter := newKMS(t)
	s := mustNew[PinCard](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c))
	for _, card := range []*PinCard{
		{ID: "a", Name: "ana", Number: "4111111111111111", PIN: "1234"},
		{ID: "b", Name: "bob", Number: "5500000000000004", PIN: "9876"},
	} {
		if err := s.Put(ctx, card); err != nil {
			t.Fatal(err)
		}
	}
	a, b := rawGet(t, db, table, "a"), rawGet(t, db, table, "b")
	if headerSuite(t, a) != 2 {
		t.Fatal("the default Store did not write suite 2")
	}
	flip := func(name string, i int) func(map[string]types.AttributeValue) {
		return func(item map[string]types.AttributeValue) {
			v := bytes.Clone(bin(item, name))
			v[(i+len(v))%len(v)] ^= 1
			setBin(item, name, v)
		}
	}
	hdr := dynacrypt.DefaultHeaderAttribute
	cases := ciphertextMoves() // and more:
	maps.Copy(cases, map[string]func(map[string]types.AttributeValue){
		"pin removed":           func(item map[string]types.AttributeValue) { delete(item, "pin") },
		"pin as a string":       func(item map[string]types.AttributeValue) { item["pin"] = &types.AttributeValueMemberS{Value: "1234"} },
		"pin empty":             func(item map[string]types.AttributeValue) { setBin(item, "pin", []byte{}) },
		"pin from item b":       func(item map[string]types.AttributeValue) { item["pin"] = b["pin"] },
		"number and pin from b": func(item map[string]types.AttributeValue) { item["number"], item["pin"] = b["number"], b["pin"] },
		"header from item b":    func(item map[string]types.AttributeValue) { item[hdr] = b[hdr] },
		"name changed":          func(item map[string]types.AttributeValue) { item["name"] = &types.AttributeValueMemberS{Value: "eve"} },
		"attribute added": func(item map[string]types.AttributeValue) {
			item["admin"] = &types.AttributeValueMemberBOOL{Value: true}
		},
		"version changed":    func(item map[string]types.AttributeValue) { item["version"] = &types.AttributeValueMemberN{Value: "9"} },
		"number bit flipped": flip("number", 0),
		"pin bit flipped":    flip("pin", -1),
		"nonce bit flipped":  flip(hdr, 2),
		"tag bit flipped":    flip(hdr, -1),
		"tag truncated": func(item map[string]types.AttributeValue) {
			h := bin(item, hdr)
			setBin(item, hdr, bytes.Clone(h[:len(h)-1]))
		},
		"tag extended": func(item map[string]types.AttributeValue) { setBin(item, hdr, cat(bin(item, hdr), []byte{0})) },
		"relabelled suite 1": func(item map[string]types.AttributeValue) {
			h := bytes.Clone(bin(item, hdr))
			h[1] = 1
			setBin(item, hdr, h)
		},
		"tag zeroed": func(item map[string]types.AttributeValue) {
			h := bytes.Clone(bin(item, hdr))
			clear(h[len(h)-16:])
			setBin(item, hdr, h)
		},
		"number ciphertext only": func(item map[string]types.AttributeValue) {
			delete(item, "pin")
			setBin(item, "number", cat(bin(a, "number"), bin(a, "pin")))
		},
	})
	// A reader with the root key cached: forgeries must cost no KMS request.
	if _, err := s.Get(ctx, PinCard{ID: "a"}, dynacrypt.ConsistentRead()); err != nil {
		t.Fatal(err)
	}
	before := counter.Requests()
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			forged := cloneItem(a)
			tamper(forged)
			rawPut(t, db, table, forged)
			got, err := s.Get(ctx, PinCard{ID: "a"}, dynacrypt.ConsistentRead())
			if !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Errorf("Get: %+v, %v; want ErrIntegrity", got, err)
			}
			if got != nil || (err != nil && (strings.Contains(err.Error(), "1234") || strings.Contains(err.Error(), "4111"))) {
				t.Errorf("plaintext returned or quoted: %+v, %v", got, err)
			}
		})
	}
	if n := counter.Requests() - before; n != 0 {
		t.Errorf("refusing %d forgeries cost %d KMS requests, want 0", len(cases), n)
	}
	// The item put back as it was reads again.
	rawPut(t, db, table, a)
	if got, err := s.Get(ctx, PinCard{ID: "a"}, dynacrypt.ConsistentRead()); err != nil || got.PIN != "1234" {
		t.Fatalf("genuine item after the forgeries: %+v, %v", got, err)
	}
}

// TestWalkMovesToSuite2: a walk from a Store that writes suite 2 rewrites
// the items of suite 1, and only those.
func TestWalkMovesToSuite2(t *testing.T) {
	ctx := context.Background()
	db, table := usersTable(t)
	c := newAES(t)
	old := mustNew[PinCard](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
		dynacrypt.WithCipher(c), dynacrypt.WithWriteSuite(dynacrypt.Suite1))
	s := mustNew[PinCard](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"), dynacrypt.WithCipher(c))
	ids := []string{"c1", "c2", "c3", "c4"}
	for i, id := range ids {
		w := old
		if i == 0 {
			w = s // already suite 2
		}
		if err := w.Put(ctx, &PinCard{ID: id, Name: id, Number: "4111-" + id, PIN: "pin-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{})
	if err != nil || p.Scanned != 4 || p.Rewritten != 3 || p.Skipped != 1 {
		t.Fatalf("walk: %+v, %v; want 4 scanned, the 3 suite 1 items rewritten", p, err)
	}
	for _, id := range ids {
		if got := headerSuite(t, rawGet(t, db, table, id)); got != 2 {
			t.Errorf("%s is in suite %d after the walk", id, got)
		}
		got, err := s.Get(ctx, PinCard{ID: id}, dynacrypt.ConsistentRead())
		if err != nil || got.PIN != "pin-"+id || got.Number != "4111-"+id {
			t.Errorf("%s after the walk: %+v, %v", id, got, err)
		}
	}
	if p, err := s.Reencrypt(ctx, dynacrypt.ReencryptOptions{}); err != nil || p.Rewritten != 0 {
		t.Errorf("a second walk: %+v, %v; want nothing rewritten", p, err)
	}
}
