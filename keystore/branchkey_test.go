package keystore_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dynacrypt/dynacrypt/keystore"
)

// TestKeysFromOtherSources: NewBranchKey and NewBeaconKey, for sources other
// than a KeyStore, refuse an id the key store could not hold and material
// of the wrong size, copy what they are given, and never show it.
func TestKeysFromOtherSources(t *testing.T) {
	const version = "000102030405060708090a0b0c0d0e0f"
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	material := bytes.Repeat([]byte("k"), keystore.KeySize)
	type key interface {
		Key() []byte
		String() string
	}
	build := map[string]func(id string, material []byte) (key, error){
		"NewBranchKey": func(id string, material []byte) (key, error) {
			return keystore.NewBranchKey(id, version, at, material)
		},
		"NewBeaconKey": func(id string, material []byte) (key, error) {
			return keystore.NewBeaconKey(id, at, material)
		},
	}
	for name, newKey := range build {
		t.Run(name, func(t *testing.T) {
			for _, bad := range []struct {
				id  string
				key []byte
			}{
				{"", material},
				{strings.Repeat("x", keystore.MaxIDLength+1), material},
				{"\xff", material},
				{"tenant-a", material[:31]},
				{"tenant-a", append(bytes.Clone(material), 0)},
				{"tenant-a", nil},
			} {
				if k, err := newKey(bad.id, bad.key); err == nil {
					t.Errorf("id %q, %d-byte key: %v, no error", bad.id, len(bad.key), k)
				}
			}
			given := bytes.Clone(material)
			k, err := newKey("tenant-a", given)
			if err != nil {
				t.Fatal(err)
			}
			clear(given)
			if !bytes.Equal(k.Key(), material) {
				t.Errorf("the key changed with the slice it was made from")
			}
			if s := k.String(); !strings.Contains(s, "tenant-a") || strings.Contains(s, string(material[:8])) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}
