package structure_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// seeds returns headers and footers of both suites and versions, ours with
// two EDKs and AWS's, and whether each footer is signed.
func seeds(tb testing.TB) (headers, footers [][]byte, signed []bool) {
	tb.Helper()
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		item, actions := testItem(id == suite.ECDSASymSig)
		e := newEncryptor(tb, actions, id, multi{rawAESKeyring(tb, 1), &keywrap.StaticBranchKey{Key: staticBranchKey(tb)}})
		enc, err := e.EncryptItem(context.Background(), item)
		if err != nil {
			tb.Fatal(err)
		}
		headers = append(headers, binaryOf(tb, enc, structure.HeaderAttr))
		footers = append(footers, binaryOf(tb, enc, structure.FooterAttr))
		signed = append(signed, id.Signed())
	}
	var manifest struct {
		Tests map[string]vectorTest `json:"tests"`
	}
	readJSON(tb, filepath.Join(vectorDir, "decrypt_java_33.json"), &manifest)
	for _, id := range []string{"7", "11"} { // unsigned v1, signed v2
		enc := ddbJSONItem(tb, manifest.Tests[id].Encrypted)
		headers = append(headers, binaryOf(tb, enc, structure.HeaderAttr))
		footers = append(footers, binaryOf(tb, enc, structure.FooterAttr))
		signed = append(signed, id == "11")
	}
	return headers, footers, signed
}

// TestParseAWSHeader reads the header DB-ESDK for Java wrote for vector 1.
func TestParseAWSHeader(t *testing.T) {
	var manifest struct {
		Tests map[string]vectorTest `json:"tests"`
	}
	readJSON(t, filepath.Join(vectorDir, "decrypt_java_33.json"), &manifest)
	h, err := structure.ParseHeader(binaryOf(t, ddbJSONItem(t, manifest.Tests["1"].Encrypted), structure.HeaderAttr))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || h.Suite != suite.ECDSASymSig || string(h.Legend) != "ees" {
		t.Errorf("version %d, suite %v, legend %q; want 1, 6701, \"ees\"", h.Version, h.Suite, h.Legend)
	}
	if _, ok := h.Context.Get(suite.PublicKeyContextKey); !ok || len(h.Context) != 1 {
		t.Errorf("stored context %v, want the verification key alone", h.Context)
	}
	if len(h.EDKs) != 1 || h.EDKs[0].ProviderID != keywrap.HierarchyProviderID ||
		string(h.EDKs[0].ProviderInfo) != staticBranchKey(t).ID || len(h.EDKs[0].Ciphertext) != 140 {
		t.Errorf("EDKs %+v", h.EDKs)
	}
	named, err := keywrap.ParseHierarchyEDK(h.EDKs[0])
	if err != nil || named.Version != staticBranchKey(t).Version {
		t.Errorf("EDK names %+v, %v; want version %s", named, err, staticBranchKey(t).Version)
	}
}

// TestParseHeaderRefuses damages a valid header field by field.
func TestParseHeaderRefuses(t *testing.T) {
	headers, _, _ := seeds(t)
	valid := headers[1] // signed: its context has an entry
	h, err := structure.ParseHeader(valid)
	if err != nil {
		t.Fatal(err)
	}
	legendAt := 2 + suite.MessageIDSize
	contextAt := legendAt + 2 + len(h.Legend)
	edksAt := len(valid) - suite.CommitmentSize
	for _, k := range h.EDKs {
		edksAt -= 6 + len(k.ProviderID) + len(k.ProviderInfo) + len(k.Ciphertext)
	}
	edksAt-- // the count
	set := func(i int, b byte) []byte { out := bytes.Clone(valid); out[i] = b; return out }
	tests := map[string][]byte{
		"empty":                  nil,
		"version 0":              set(0, 0),
		"version 3":              set(0, 3),
		"flavor 2":               set(1, 2),
		"legend byte 'x'":        set(legendAt+2, 'x'),
		"legend longer than all": set(legendAt, 0xff),
		"no EDKs":                set(edksAt, 0),
		"one EDK fewer":          set(edksAt, byte(len(h.EDKs)-1)),
		"one EDK more":           set(edksAt, byte(len(h.EDKs)+1)),
		"context count 0":        append(append(bytes.Clone(valid[:contextAt]), 0, 0), valid[contextAt+2:]...),
		"context count 2":        append(append(bytes.Clone(valid[:contextAt]), 0, 2), valid[contextAt+2:]...),
		"truncated":              valid[:len(valid)-1],
		"extended":               append(bytes.Clone(valid), 0),
		"no commitment":          valid[:len(valid)-suite.CommitmentSize],
	}
	// Context entries repeated, out of order, and not UTF-8.
	twoPairs := func(k1, k2 string) []byte {
		c := binary.BigEndian.AppendUint16(nil, 2)
		for _, k := range []string{k1, k2} {
			c = binary.BigEndian.AppendUint16(c, uint16(len(k)))
			c = append(c, k...)
			c = binary.BigEndian.AppendUint16(c, 1)
			c = append(c, 'v')
		}
		pairLen := 2 + 2 + len(h.Context[0].Key) + 2 + len(h.Context[0].Value)
		return append(append(bytes.Clone(valid[:contextAt]), c...), valid[contextAt+pairLen:]...)
	}
	tests["context keys repeated"] = twoPairs("a", "a")
	tests["context keys out of order"] = twoPairs("b", "a")
	tests["context key not UTF-8"] = twoPairs("a", "\xff")
	for name, b := range tests {
		if _, err := structure.ParseHeader(b); !errors.Is(err, structure.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	if _, err := structure.ParseHeader(twoPairs("a", "b")); err != nil {
		t.Errorf("two ordered context entries must parse: %v", err)
	}
}

func TestParseFooterRefuses(t *testing.T) {
	tag, sig := bytes.Repeat([]byte{1}, suite.RecipientTagSize), bytes.Repeat([]byte{2}, suite.SignatureSize)
	tests := []struct {
		name   string
		b      []byte
		signed bool
	}{
		{"empty", nil, false},
		{"no tags", nil, true},
		{"signature alone", sig, true},
		{"partial tag", tag[:47], false},
		{"tag and a byte", append(bytes.Clone(tag), 0), false},
		{"signature short", append(bytes.Clone(tag), sig[1:]...), true},
	}
	for _, tc := range tests {
		if _, err := structure.ParseFooter(tc.b, tc.signed); !errors.Is(err, structure.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", tc.name, err)
		}
	}
	f, err := structure.ParseFooter(append(append(bytes.Clone(tag), tag...), sig...), true)
	if err != nil || len(f.Tags) != 2 || !bytes.Equal(f.Signature, sig) {
		t.Errorf("two tags and a signature: %+v, %v", f, err)
	}
}

// FuzzParseHeader checks ParseHeader never panics, refuses with
// ErrMalformed, and accepts only headers that serialize back to their bytes.
func FuzzParseHeader(f *testing.F) {
	headers, _, _ := seeds(f)
	for _, h := range headers {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := structure.ParseHeader(b)
		if err != nil {
			if !errors.Is(err, structure.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := h.Append(nil)
		if err != nil {
			t.Fatalf("accepted header does not serialize: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("accepted header serializes to other bytes")
		}
	})
}

// FuzzParseFooter checks ParseFooter never panics, refuses with
// ErrMalformed, and accepts only footers that serialize back to their bytes.
func FuzzParseFooter(f *testing.F) {
	_, footers, signed := seeds(f)
	for i := range footers {
		f.Add(footers[i], signed[i])
	}
	f.Fuzz(func(t *testing.T, b []byte, signed bool) {
		ft, err := structure.ParseFooter(b, signed)
		if err != nil {
			if !errors.Is(err, structure.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if (ft.Signature != nil) != signed || len(ft.Tags) == 0 {
			t.Fatalf("footer with %d tags, signature %v, for signed=%v", len(ft.Tags), ft.Signature != nil, signed)
		}
		if !bytes.Equal(ft.Append(nil), b) {
			t.Fatal("accepted footer serializes to other bytes")
		}
	})
}
