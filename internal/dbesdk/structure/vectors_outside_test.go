package structure_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// vectorsEnv names a folder of DB-ESDK test vector manifests kept outside
// the repository (decrypt or encrypt manifests and the keys.json they name),
// e.g. those of another DB-ESDK runtime or release; by default
// ../shared/dbesdk/vectors beside the repository.
const vectorsEnv = "DYNACRYPT_DBESDK_VECTORS"

// TestVectorsOutsideRepository runs every manifest in the folder
// DYNACRYPT_DBESDK_VECTORS names: each positive vector must give its
// plaintext, each negative one be refused, and the folder must hold at
// least one test. Without the folder it fails under CI, as the oracle's
// tests do, and skips elsewhere.
func TestVectorsOutsideRepository(t *testing.T) {
	dir := testrig.SharedPath(t, "a folder of DB-ESDK test vectors", vectorsEnv, "dbesdk", "vectors")
	ran := runVectorFolder(t, dir)
	if ran == 0 {
		t.Fatalf("%s=%s holds no DB-ESDK test vector manifest", vectorsEnv, dir)
	}
}

// runVectorFolder runs every manifest of DB-ESDK's test vectors in dir and
// returns how many tests it ran.
func runVectorFolder(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, file := range files {
		var head manifestHead
		readJSON(t, file, &head)
		if head.Manifest.Type != "aws-dbesdk-decrypt" && head.Manifest.Type != "aws-dbesdk-encrypt" {
			continue // keys.json and other files
		}
		n := runVectorManifest(t, file)
		t.Logf("%s: %v", filepath.Base(file), n)
		for _, k := range n {
			ran += k
		}
	}
	return ran
}

// TestVectorFolderRunner checks the runner on a folder like one kept
// outside the repository: an encrypt manifest under a raw AES key with
// a sort key and another logical table name, its positive, negative and
// changed-configuration tests, and a decrypt manifest copied from ours.
func TestVectorFolderRunner(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(vectorDir, "keys.json"), filepath.Join(dir, "keys.json"))
	copyFile(t, filepath.Join(vectorDir, "decrypt_java_33.json"), filepath.Join(dir, "decrypt_java_33.json"))
	key := json.RawMessage(`{"type": "raw", "encryption-algorithm": "aes", "provider-id": "aws-raw-vectors-persistent", "key": "aes-256"}`)
	config := func(actions map[string]string) vectorConfig {
		return vectorConfig{LogicalTableName: "Orders", PartitionKeyName: "pk", SortKeyName: "sk", Key: key, Actions: actions,
			Suite: "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384"}
	}
	basic := config(map[string]string{"pk": "SIGN_ONLY", "sk": "SIGN_ONLY", "secret": "ENCRYPT_AND_SIGN", "note": "SIGN_ONLY"})
	signOnly := config(map[string]string{"pk": "SIGN_ONLY", "sk": "SIGN_ONLY", "secret": "SIGN_ONLY", "note": "SIGN_ONLY"})
	nothing := config(map[string]string{"pk": "SIGN_ONLY", "sk": "SIGN_ONLY", "secret": "DO_NOTHING", "note": "SIGN_ONLY"})
	nothing.Unsigned = []string{"secret"}
	record := json.RawMessage(`{"pk": "p1", "sk": 7, "secret": "s3cr3t", "note": {"L": ["a", 1]}}`)
	manifest := map[string]any{
		"manifest": map[string]string{"type": "aws-dbesdk-encrypt", "version": "1"},
		"keys":     "file://keys.json",
		"tests": map[string]vectorTest{
			"1": {Type: "positive-encrypt", Description: "basic", Config: basic, Record: record},
			"2": {Type: "positive-encrypt", Description: "read with SIGN_ONLY changed to ENCRYPT_AND_SIGN", Config: signOnly, DecryptConfig: &basic, Record: record},
			"3": {Type: "negative-decrypt", Description: "read with ENCRYPT_AND_SIGN changed to DO_NOTHING", Config: basic, DecryptConfig: &nothing, Record: record},
			"4": {Type: "negative-encrypt", Description: "lacks the sort key", Config: basic, Record: json.RawMessage(`{"pk": "p1", "secret": "x"}`)},
		},
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "encrypt.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if ran := runVectorFolder(t, dir); ran != 4+12 {
		t.Errorf("ran %d tests, want 16", ran)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}
