package dynacrypt

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/beacon"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// beaconVectorItem is the item type of FORMAT.md's beacon vector.
type beaconVectorItem struct {
	ID     string `dynamodbav:"id"`
	Tenant string `dynamodbav:"tenant"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=16,lower,trim"`
}

// beaconValues reads the `beacon_nN = hex` and `beacon_compound = text`
// lines of FORMAT.md §12, which formatVectors leaves out: their names hold
// digits, and beacon values may have an odd number of hex digits.
func beaconValues(t *testing.T) map[string]string {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^beacon_(n[0-9]+|compound) = (\S+)$`).FindAllSubmatch(doc, -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

// TestBeaconVectors checks FORMAT.md §12's beacon vector against the
// implementation, from the struct tag to the stored attributes, and
// recomputes it from the document's steps with the standard library alone.
func TestBeaconVectors(t *testing.T) {
	v := formatVectors(t)
	values := beaconValues(t)
	for _, name := range []string{"beacon_key", "beacon_info", "beacon_kb", "beacon_input", "beacon_mac"} {
		if v[name] == nil {
			t.Fatalf("FORMAT.md has no %q vector", name)
		}
	}
	for _, name := range []string{"n16", "n12", "n5", "n63", "compound"} {
		if values[name] == "" {
			t.Fatalf("FORMAT.md has no beacon_%s vector", name)
		}
	}
	if !bytes.Equal(v["beacon_key"], seq(0x60, 32)) {
		t.Fatal("FORMAT.md's beacon key differs from the test's")
	}

	// The implementation: what a Store of table "users" stores for the item.
	sch, err := schema.Parse(reflect.TypeFor[beaconVectorItem]())
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	WithBeaconKey(v["beacon_key"])(&cfg)
	WithCompoundBeacon("tenant_email", ".", BeaconPart{Prefix: "T-", Attr: "tenant"}, BeaconPart{Prefix: "E-", Attr: "email"})(&cfg)
	b, err := newBeacons(sch, &cfg, "users")
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]types.AttributeValue{
		"id":     &types.AttributeValueMemberS{Value: "u1"},
		"tenant": &types.AttributeValueMemberS{Value: "acme"},
		"email":  &types.AttributeValueMemberS{Value: " Ana@Example.com "},
	}
	if err := b.add(context.Background(), item, ""); err != nil {
		t.Fatal(err)
	}
	attr := BeaconAttribute("email")
	if attr != "_dynacrypt_b_email" {
		t.Errorf("BeaconAttribute(\"email\") = %q", attr)
	}
	for name, want := range map[string]string{attr: values["n16"], "tenant_email": values["compound"]} {
		if got, ok := item[name].(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("%s: got %#v, want S %q", name, item[name], want)
		}
	}
	kb, err := beacon.Key(v["beacon_key"], "users", attr, "")
	if err != nil || !bytes.Equal(kb, v["beacon_kb"]) {
		t.Fatalf("beacon_kb:\n got %x (%v)\nwant %x", kb, err, v["beacon_kb"])
	}
	for _, bits := range []int{16, 12, 5, 63} {
		bb, err := beacon.New(kb, bits)
		if err != nil {
			t.Fatal(err)
		}
		got, err := bb.Value(beacon.Normalize(item["email"], true, true))
		if want := values[fmt.Sprintf("n%d", bits)]; err != nil || got != want {
			t.Errorf("beacon_n%d: got %q (%v), want %q", bits, got, err, want)
		}
	}

	// The document's steps, by hand.
	lp := func(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }
	info := append([]byte("dynacrypt beacon v1"), lp("users")...)
	info = append(info, lp("_dynacrypt_b_email")...)
	if !bytes.Equal(info, v["beacon_info"]) {
		t.Errorf("beacon_info:\n got %x\nwant %x", info, v["beacon_info"])
	}
	kb, err = hkdf.Key(sha256.New, v["beacon_key"], nil, string(info), 32)
	if err != nil || !bytes.Equal(kb, v["beacon_kb"]) {
		t.Fatalf("beacon_kb by hand:\n got %x (%v)\nwant %x", kb, err, v["beacon_kb"])
	}
	input := []byte("\x01\x0fana@example.com") // canonical(S "ana@example.com"), §5
	if !bytes.Equal(input, v["beacon_input"]) {
		t.Errorf("beacon_input:\n got %x\nwant %x", input, v["beacon_input"])
	}
	mac := hmac.New(sha256.New, kb)
	mac.Write(input)
	sum := mac.Sum(nil)
	if !bytes.Equal(sum, v["beacon_mac"]) {
		t.Fatalf("beacon_mac by hand:\n got %x\nwant %x", sum, v["beacon_mac"])
	}
	for _, bits := range []int{16, 12, 5, 63} {
		n := binary.BigEndian.Uint64(sum[:8]) & (1<<bits - 1)
		got := fmt.Sprintf("%0*x", (bits+3)/4, n)
		if want := values[fmt.Sprintf("n%d", bits)]; got != want {
			t.Errorf("beacon_n%d by hand: got %q, want %q", bits, got, want)
		}
	}
	if want := "T-acme.E-" + values["n16"]; values["compound"] != want {
		t.Errorf("beacon_compound: FORMAT.md has %q, the layout gives %q", values["compound"], want)
	}
}
