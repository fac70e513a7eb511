package dynacrypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// TestCiphertextMovedBetweenAttributes: in each suite, ciphertext bytes
// moved between the two encrypted attributes of one item (swapped, a byte
// across the boundary either way, all of one into the other, one copied
// over the other, and swapped between two attributes that hold the same
// plaintext) are ErrIntegrity through Store.UnmarshalItem and Items.Open,
// and no plaintext comes out: a ciphertext is bound to its attribute, not
// only to its item. Suite 1 seals each attribute under a nonce and
// associated data of its name and signs the item; suite 2 seals them in
// one call whose associated data names each and its length. Two
// attributes with the same plaintext have different ciphertexts.
func TestCiphertextMovedBetweenAttributes(t *testing.T) {
	ctx := context.Background()
	moves := ciphertextMoves()
	for _, suite := range []dynacrypt.Suite{dynacrypt.Suite1, dynacrypt.Suite2} {
		opts := []dynacrypt.Option{dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
			dynacrypt.WithCipher(dynacrypttest.NewCipher()), dynacrypt.WithWriteSuite(suite)}
		store, err := dynacrypt.New[PinCard](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "cards", opts...)
		if err != nil {
			t.Fatal(err)
		}
		items, err := dynacrypt.NewItems("cards", append(opts, dynacrypt.WithEncryptedAttributes("number", "pin"))...)
		if err != nil {
			t.Fatal(err)
		}
		readers := map[string]func(map[string]types.AttributeValue) (any, error){
			"UnmarshalItem": func(av map[string]types.AttributeValue) (any, error) { return store.UnmarshalItem(ctx, av) },
			"Open":          func(av map[string]types.AttributeValue) (any, error) { return items.Open(ctx, av) },
		}
		for _, card := range []*PinCard{
			{ID: "a", Name: "ana", Number: "4111111111111111", PIN: "1234"},
			{ID: "twin", Name: "bob", Number: "4321", PIN: "4321"}, // the same plaintext in both
		} {
			sealed, err := store.MarshalItem(ctx, card)
			if err != nil {
				t.Fatal(err)
			}
			if headerSuite(t, sealed) != byte(suite) {
				t.Fatalf("the Store wrote suite %d, want %d", headerSuite(t, sealed), suite)
			}
			// The same key stream for two attributes (one key, one nonce)
			// would make the XOR of their ciphertexts that of their
			// plaintexts. Equal plaintexts show it: equal ciphertext bytes
			// (tags apart, which their names still tell apart). Four
			// equal bytes by chance: 1 in 2^32.
			if n, p := bin(sealed, "number"), bin(sealed, "pin"); card.Number == card.PIN && bytes.Equal(n[:4], p[:4]) {
				t.Errorf("suite %d: the same plaintext in two attributes is encrypted under the same key stream", suite)
			}
			for _, reader := range slices.Sorted(maps.Keys(readers)) {
				if _, err := readers[reader](sealed); err != nil {
					t.Fatalf("suite %d, %s of the genuine item %s: %v", suite, reader, card.ID, err)
				}
				for _, move := range slices.Sorted(maps.Keys(moves)) {
					t.Run(fmt.Sprintf("suite%d/%s/%s/%s", suite, card.ID, reader, move), func(t *testing.T) {
						forged := maps.Clone(sealed)
						moves[move](forged)
						if bytes.Equal(bin(forged, "number"), bin(sealed, "number")) && bytes.Equal(bin(forged, "pin"), bin(sealed, "pin")) {
							t.Fatal("the move changed nothing")
						}
						got, err := readers[reader](forged)
						if !errors.Is(err, dynacrypt.ErrIntegrity) {
							t.Errorf("%+v, %v; want ErrIntegrity", got, err)
						}
						if err != nil && (strings.Contains(err.Error(), card.PIN) || strings.Contains(err.Error(), card.Number)) {
							t.Errorf("the error quotes a plaintext: %v", err)
						}
					})
				}
			}
		}
	}
}

// ciphertextMoves are ways of moving ciphertext bytes between the encrypted
// attributes number and pin of one item, in place.
func ciphertextMoves() map[string]func(item map[string]types.AttributeValue) {
	return map[string]func(item map[string]types.AttributeValue){
		"swapped": func(item map[string]types.AttributeValue) { item["number"], item["pin"] = item["pin"], item["number"] },
		"last byte of number to pin": func(item map[string]types.AttributeValue) {
			n := bin(item, "number")
			setBin(item, "pin", cat(n[len(n)-1:], bin(item, "pin")))
			setBin(item, "number", slices.Clone(n[:len(n)-1]))
		},
		"first byte of pin to number": func(item map[string]types.AttributeValue) {
			p := bin(item, "pin")
			setBin(item, "number", cat(bin(item, "number"), p[:1]))
			setBin(item, "pin", slices.Clone(p[1:]))
		},
		"all of pin into number": func(item map[string]types.AttributeValue) {
			setBin(item, "number", cat(bin(item, "number"), bin(item, "pin")))
			setBin(item, "pin", []byte{})
		},
		"all of number into pin": func(item map[string]types.AttributeValue) {
			setBin(item, "pin", cat(bin(item, "number"), bin(item, "pin")))
			setBin(item, "number", []byte{})
		},
		"pin copied over number": func(item map[string]types.AttributeValue) { setBin(item, "number", slices.Clone(bin(item, "pin"))) },
		"number copied over pin": func(item map[string]types.AttributeValue) { setBin(item, "pin", slices.Clone(bin(item, "number"))) },
	}
}

// bin returns the value of item's binary attribute name.
func bin(item map[string]types.AttributeValue, name string) []byte {
	return item[name].(*types.AttributeValueMemberB).Value
}

// setBin sets item's attribute name to the binary v.
func setBin(item map[string]types.AttributeValue, name string, v []byte) {
	item[name] = &types.AttributeValueMemberB{Value: v}
}

// cat returns parts joined, in a new slice.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, []byte{}) }
