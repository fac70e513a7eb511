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
	"runtime"
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

// NewOracle returns the oracle, or skips tb if it is absent; under CI (CI
// set) it fails instead, as a missing server does.
func NewOracle(tb testing.TB) *Oracle {
	tb.Helper()
	path := os.Getenv(OracleVar)
	if path == "" {
		_, file, _, _ := runtime.Caller(0) // internal/testrig/oracle.go
		path = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "dbesdk", "oracle", "oracle")
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("the DB-ESDK oracle is not at %s (set %s to its path): %v", path, OracleVar, err)
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s; CI is set, and this test must not pass without it", msg)
		}
		tb.Skip(msg)
	}
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
	Keyring                        map[string]string `json:"keyring"`
}

// OracleRawAES is the oracle's raw AES keyring of namespace, name and key.
func OracleRawAES(namespace, name string, key []byte) map[string]string {
	return map[string]string{"type": "raw-aes", "namespace": namespace, "name": name, "key": base64.StdEncoding.EncodeToString(key)}
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
	return o.run(tb, "encrypt", cfg, items)
}

// Decrypt has the oracle decrypt items under cfg, and returns its answer
// for each.
func (o *Oracle) Decrypt(tb testing.TB, cfg OracleConfig, items []map[string]types.AttributeValue) []OracleResult {
	tb.Helper()
	return o.run(tb, "decrypt", cfg, items)
}

func (o *Oracle) run(tb testing.TB, command string, cfg OracleConfig, items []map[string]types.AttributeValue) []OracleResult {
	tb.Helper()
	conf, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "config.json")
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		tb.Fatal(err)
	}
	var in []byte
	for _, item := range items {
		if in, err = appendItemLine(in, item); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.Command(o.path, command, "-config", file)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: some item failed
		tb.Fatalf("oracle %s: %v: %s", command, err, stderr.String())
	}
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != len(items) || len(items) == 0 {
		tb.Fatalf("oracle %s: %d lines for %d items: %s", command, len(lines), len(items), stderr.String())
	}
	results := make([]OracleResult, len(lines))
	for i, line := range lines {
		results[i] = parseOracleLine(line)
	}
	return results
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
