package dbesdk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// OracleVar names the DB-ESDK oracle (AWS's DB-ESDK for Go built as a
// command, ../shared/dbesdk/oracle/README.md) for the interop tests.
const oracleVar = "DYNACRYPT_DBESDK_ORACLE"

// oracle runs AWS's DB-ESDK for Go as a command, against the same servers
// as the tests (it reads the same AWS_ENDPOINT_URL_* variables).
type oracle struct {
	t    testing.TB
	path string
}

// findOracle returns the oracle named by DYNACRYPT_DBESDK_ORACLE, by default
// ../shared/dbesdk/oracle/oracle from the repository's root. When it is
// absent the test fails under CI and is skipped elsewhere.
func findOracle(t testing.TB) *oracle {
	t.Helper()
	path := os.Getenv(oracleVar)
	if path == "" {
		path = filepath.Join("..", "..", "shared", "dbesdk", "oracle", "oracle")
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("the DB-ESDK oracle is not at %s (%v): set %s to its path (see ../shared/dbesdk/oracle/README.md)", path, err, oracleVar)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return &oracle{t: t, path: path}
}

// oracleConfig is the oracle's CONFIG.json: DB-ESDK's item encryptor
// configuration.
type oracleConfig struct {
	LogicalTableName          string            `json:"logicalTableName"`
	PartitionKeyName          string            `json:"partitionKeyName"`
	SortKeyName               string            `json:"sortKeyName,omitempty"`
	AttributeActionsOnEncrypt map[string]string `json:"attributeActionsOnEncrypt"`
	AllowedUnsignedAttributes []string          `json:"allowedUnsignedAttributes,omitempty"`
	AlgorithmSuiteID          string            `json:"algorithmSuiteId,omitempty"`
	Keyring                   map[string]any    `json:"keyring"`
}

// testConfig returns the oracle's configuration of the test table's layout
// (see encryptor) with a keyring.
func testConfig(s suite.ID, actions map[string]structure.Action, keyring map[string]any) oracleConfig {
	names := make(map[string]string, len(actions))
	for name, a := range actions {
		names[name] = a.String()
	}
	return oracleConfig{
		LogicalTableName: "T", PartitionKeyName: "pk", SortKeyName: "sk",
		AttributeActionsOnEncrypt: names, AllowedUnsignedAttributes: []string{"hits"},
		AlgorithmSuiteID: fmt.Sprintf("%04x", uint16(s)), Keyring: keyring,
	}
}

// hierarchyKeyring is the oracle's keyring over a DB-ESDK key store.
func hierarchyKeyring(table, logical, kmsARN, branchKeyID string) map[string]any {
	return map[string]any{"type": "hierarchy", "keyStoreTable": table, "logicalKeyStoreName": logical,
		"kmsKeyArn": kmsARN, "branchKeyId": branchKeyID, "ttlSeconds": 600}
}

// run runs the oracle with a configuration file and returns its standard
// output; any failure fails the test.
func (o *oracle) run(cfg oracleConfig, stdin []byte, args ...string) []byte {
	o.t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		o.t.Fatal(err)
	}
	path := filepath.Join(o.t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		o.t.Fatal(err)
	}
	cmd := exec.Command(o.path, append(args, "-config", path)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		o.t.Fatalf("oracle %s: %v\n%s\n%s", strings.Join(args, " "), err, stderr.Bytes(), firstLines(out, 3))
	}
	return out
}

// keystoreCreate has DB-ESDK create a key store table (if absent) and a
// branch key, and returns its id.
func (o *oracle) keystoreCreate(table, logical, kmsARN string) string {
	o.t.Helper()
	cfg := testConfig(suite.SymSig, testActions, hierarchyKeyring(table, logical, kmsARN, ""))
	return strings.TrimSpace(string(o.run(cfg, nil, "keystore-create")))
}

// encrypt has DB-ESDK encrypt items.
func (o *oracle) encrypt(cfg oracleConfig, items []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	o.t.Helper()
	return o.parseItems(o.run(cfg, o.itemLines(items), "encrypt"))
}

// decrypt has DB-ESDK decrypt items.
func (o *oracle) decrypt(cfg oracleConfig, items []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	o.t.Helper()
	return o.parseItems(o.run(cfg, o.itemLines(items), "decrypt"))
}

// itemLines returns items in DynamoDB JSON, one a line.
func (o *oracle) itemLines(items []map[string]types.AttributeValue) []byte {
	o.t.Helper()
	var buf []byte
	for _, item := range items {
		line, err := export.AppendValue(nil, &types.AttributeValueMemberM{Value: item})
		if err != nil {
			o.t.Fatal(err)
		}
		// {"M":{...}} without its type key is the item.
		buf = append(append(buf, line[len(`{"M":`):len(line)-1]...), '\n')
	}
	return buf
}

// parseItems parses the oracle's output, one item a line.
func (o *oracle) parseItems(out []byte) []map[string]types.AttributeValue {
	o.t.Helper()
	var items []map[string]types.AttributeValue
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		av, err := export.ParseValue(append(append([]byte(`{"M":`), sc.Bytes()...), '}'))
		if err != nil {
			o.t.Fatalf("oracle output %q: %v", firstLines(sc.Bytes(), 1), err)
		}
		items = append(items, av.(*types.AttributeValueMemberM).Value)
	}
	return items
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
