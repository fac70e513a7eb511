package dbesdk

import "github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"

// KeyringOf returns a Keyring over k: for tests of keyrings this package
// does not make, such as one that stands for a key service.
func KeyringOf(k structure.Keyring) *Keyring { return &Keyring{k: k, kind: "test keyring"} }
