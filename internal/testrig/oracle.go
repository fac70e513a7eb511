package testrig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
)

// OracleVar names the DB-ESDK oracle's path (../shared/dbesdk/oracle:
// AWS's DB-ESDK for Go as a command), by default
// ../shared/dbesdk/oracle/oracle from the repository's root.
const OracleVar = "DYNACRYPT_DBESDK_ORACLE"

// Oracle runs the DB-ESDK oracle, which encrypts and decrypts items as
// AWS's Database Encryption SDK does.
type Oracle struct{ path string }

// NewOracle returns the oracle, or skips tb if it is absent; under CI it
// fails instead (SharedPath).
func NewOracle(tb testing.TB) *Oracle {
	tb.Helper()
	path := SharedPath(tb, "the DB-ESDK oracle", OracleVar, "dbesdk", "oracle", "oracle")
	return &Oracle{path: path}
}

// OracleConfig is the oracle's CONFIG.json: DB-ESDK's item encryptor
// configuration, under DB-ESDK's own names.
type OracleConfig struct {
	LogicalTableName               string            `json:"logicalTableName"`
	PartitionKeyName               string            `json:"partitionKeyName"`
	SortKeyName                    string            `json:"sortKeyName,omitempty"`
	AttributeActionsOnEncrypt      map[string]string `json:"attributeActionsOnEncrypt"`
	AllowedUnsignedAttributes      []string          `json:"allowedUnsignedAttributes,omitempty"`
	AllowedUnsignedAttributePrefix string            `json:"allowedUnsignedAttributePrefix,omitempty"`
	AlgorithmSuiteID               string            `json:"algorithmSuiteId,omitempty"`
	Keyring                        map[string]any    `json:"keyring"`
}

// OracleRawAES is the oracle's raw AES keyring of namespace, name and key.
func OracleRawAES(namespace, name string, key []byte) map[string]any {
	return map[string]any{"type": "raw-aes", "namespace": namespace, "name": name, "key": base64.StdEncoding.EncodeToString(key)}
}

// OracleKMS is the oracle's AWS KMS keyring over a key ARN.
func OracleKMS(keyARN string) map[string]any {
	return map[string]any{"type": "kms", "keyId": keyARN}
}

// OracleHierarchy is the oracle's hierarchical keyring over the DB-ESDK key
// store in table, of logical name logical and KMS key kmsARN, with branch
// key branchKeyID ("" for KeyStoreCreate to make one).
func OracleHierarchy(table, logical, kmsARN, branchKeyID string) map[string]any {
	return map[string]any{"type": "hierarchy", "keyStoreTable": table, "logicalKeyStoreName": logical,
		"kmsKeyArn": kmsARN, "branchKeyId": branchKeyID, "ttlSeconds": 600}
}

// OracleResult is the oracle's answer for one item: the item it made, or
// DB-ESDK's error.
type OracleResult struct {
	Item map[string]types.AttributeValue
	Err  error
}

// Encrypt has the oracle encrypt items under cfg, and returns its answer
// for each.
func (o *Oracle) Encrypt(tb testing.TB, cfg OracleConfig, items []map[string]types.AttributeValue) []OracleResult {
	tb.Helper()
	return o.results(tb, "encrypt", cfg, items)
}

// Decrypt has the oracle decrypt items under cfg, and returns its answer
// for each.
func (o *Oracle) Decrypt(tb testing.TB, cfg OracleConfig, items []map[string]types.AttributeValue) []OracleResult {
	tb.Helper()
	return o.results(tb, "decrypt", cfg, items)
}

// EncryptAll has the oracle encrypt items under cfg, and fails tb unless
// every item encrypted.
func (o *Oracle) EncryptAll(tb testing.TB, cfg OracleConfig, items []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	tb.Helper()
	return all(tb, "encrypt", o.results(tb, "encrypt", cfg, items))
}

// DecryptAll has the oracle decrypt items under cfg, and fails tb unless
// every item decrypted.
func (o *Oracle) DecryptAll(tb testing.TB, cfg OracleConfig, items []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	tb.Helper()
	return all(tb, "decrypt", o.results(tb, "decrypt", cfg, items))
}

// Headers has the oracle encrypt items under cfg and returns, for each,
// DB-ESDK's parsed header (encrypt -header): its algorithm suite, actions,
// encrypted data keys, encryption context and the context a branch key id
// supplier is given. Any failure fails tb.
func (o *Oracle) Headers(tb testing.TB, cfg OracleConfig, items []map[string]types.AttributeValue) []json.RawMessage {
	tb.Helper()
	lines := o.lines(tb, o.run(tb, cfg, itemLines(tb, items), false, "encrypt", "-header"), len(items))
	headers := make([]json.RawMessage, len(lines))
	for i, line := range lines {
		var out struct{ Header json.RawMessage }
		if err := json.Unmarshal(line, &out); err != nil || out.Header == nil {
			tb.Fatalf("oracle encrypt -header, item %d: %q (%v)", i, line, err)
		}
		headers[i] = out.Header
	}
	return headers
}

// KeyStoreCreate has the oracle create, as DB-ESDK does, the key store
// table that cfg's hierarchical keyring (OracleHierarchy) names, if it is
// absent, and a branch key in it: of the keyring's branch key id if it
// names one, else of a new id. It returns the id.
func (o *Oracle) KeyStoreCreate(tb testing.TB, cfg OracleConfig) string {
	tb.Helper()
	return string(bytes.TrimSpace(o.run(tb, cfg, nil, false, "keystore-create")))
}

// results runs command on items and parses the oracle's answer for each.
func (o *Oracle) results(tb testing.TB, command string, cfg OracleConfig, items []map[string]types.AttributeValue) []OracleResult {
	tb.Helper()
	lines := o.lines(tb, o.run(tb, cfg, itemLines(tb, items), true, command), len(items))
	results := make([]OracleResult, len(lines))
	for i, line := range lines {
		results[i] = parseOracleLine(line)
	}
	return results
}

// run runs the oracle with cfg as its configuration file and stdin as its
// standard input, and returns its standard output. Exit code 1 (some item
// failed) is an answer when itemsMayFail; any other failure fails tb.
func (o *Oracle) run(tb testing.TB, cfg OracleConfig, stdin []byte, itemsMayFail bool, args ...string) []byte {
	tb.Helper()
	conf, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(o.path, append(args, "-config", file)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(itemsMayFail && errors.As(err, &exit) && exit.ExitCode() == 1) {
		tb.Fatalf("oracle %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// lines splits the oracle's output into its n lines, one an item, or fails
// tb.
func (o *Oracle) lines(tb testing.TB, out []byte, n int) [][]byte {
	tb.Helper()
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != n || n == 0 {
		tb.Fatalf("oracle: %d lines for %d items", len(lines), n)
	}
	return lines
}

// all returns the items of results, or fails tb at the first error.
func all(tb testing.TB, command string, results []OracleResult) []map[string]types.AttributeValue {
	tb.Helper()
	items := make([]map[string]types.AttributeValue, len(results))
	for i, r := range results {
		if r.Err != nil {
			tb.Fatalf("oracle %s, item %d: %v", command, i, r.Err)
		}
		items[i] = r.Item
	}
	return items
}

// itemLines returns items as the oracle reads them, one a line.
func itemLines(tb testing.TB, items []map[string]types.AttributeValue) []byte {
	tb.Helper()
	var in []byte
	for _, item := range items {
		var err error
		if in, err = appendItemLine(in, item); err != nil {
			tb.Fatal(err)
		}
	}
	return in
}

// appendItemLine appends item as one line of DynamoDB JSON, as the oracle
// reads it: {"name": {"S": "..."}, ...}.
func appendItemLine(dst []byte, item map[string]types.AttributeValue) ([]byte, error) {
	m, err := export.AppendValue(nil, &types.AttributeValueMemberM{Value: item})
	if err != nil {
		return nil, err
	}
	m = bytes.TrimSuffix(bytes.TrimPrefix(m, []byte(`{"M":`)), []byte("}")) // the map itself
	return append(append(dst, m...), '\n'), nil
}

func parseOracleLine(line []byte) OracleResult {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return OracleResult{Err: fmt.Errorf("oracle line %q: %w", line, err)}
	}
	if msg, ok := fields["error"]; ok && len(fields) == 1 {
		var s string
		_ = json.Unmarshal(msg, &s)
		return OracleResult{Err: errors.New("DB-ESDK: " + s)}
	}
	item := make(map[string]types.AttributeValue, len(fields))
	for name, raw := range fields {
		v, err := export.ParseValue(raw)
		if err != nil {
			return OracleResult{Err: fmt.Errorf("oracle item, attribute %q: %w", name, err)}
		}
		item[name] = v
	}
	return OracleResult{Item: item}
}
