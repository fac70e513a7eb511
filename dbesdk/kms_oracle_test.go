package dbesdk

import (
	"testing"

	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestKMSKeyringOracle: items DB-ESDK encrypts under a KMS key decrypt with
// our KMS keyring, and the reverse, in both suites.
func TestKMSKeyringOracle(t *testing.T) {
	o := testrig.NewOracle(t)
	client, _ := testrig.KMS(t)
	kr := newKMSKeyring(t, client, keyA)
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			cfg := testConfig(s.id, testActions, testrig.OracleKMS(keyA))
			roundTripWithOracle(t, o, cfg, encryptor(t, kr, s.id, testActions), "")
		})
	}
}
