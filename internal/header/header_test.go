package header

import (
	"bytes"
	"errors"
	"testing"
)

func build(t testing.TB, wrapped []byte) []byte {
	salt := bytes.Repeat([]byte{0xa5}, SaltSize)
	b, err := AppendSigned(nil, SuiteV1, salt, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, bytes.Repeat([]byte{0x5a}, MACSize)...)
}

func TestRoundTrip(t *testing.T) {
	wrapped := []byte("wrapped root key")
	b := build(t, wrapped)
	if len(b) != Size(SuiteV1, len(wrapped)) {
		t.Fatalf("encoded %d bytes, Size says %d", len(b), Size(SuiteV1, len(wrapped)))
	}
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Suite != SuiteV1 || !bytes.Equal(h.Wrapped, wrapped) ||
		!bytes.Equal(h.Salt, bytes.Repeat([]byte{0xa5}, SaltSize)) ||
		!bytes.Equal(h.MAC, bytes.Repeat([]byte{0x5a}, MACSize)) {
		t.Fatalf("Parse gave %+v", h)
	}
	if !bytes.Equal(Signed(b), b[:len(b)-MACSize]) {
		t.Fatal("Signed does not stop before the MAC")
	}
	prefix, rest, err := ParseSigned(append(Signed(b), "payload"...))
	if err != nil || string(rest) != "payload" || !bytes.Equal(prefix.Wrapped, wrapped) {
		t.Fatalf("ParseSigned gave %+v, %q, %v", prefix, rest, err)
	}
}

func TestRoundTripV2(t *testing.T) {
	wrapped := []byte("wrapped root key")
	nonce := bytes.Repeat([]byte{0xa5}, NonceSize)
	b, err := AppendSigned(nil, SuiteV2, nonce, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, bytes.Repeat([]byte{0x5a}, TagSize)...)
	if len(b) != Size(SuiteV2, len(wrapped)) {
		t.Fatalf("encoded %d bytes, Size says %d", len(b), Size(SuiteV2, len(wrapped)))
	}
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Suite != SuiteV2 || !bytes.Equal(h.Wrapped, wrapped) || !bytes.Equal(h.Salt, nonce) ||
		!bytes.Equal(h.MAC, bytes.Repeat([]byte{0x5a}, TagSize)) {
		t.Fatalf("Parse gave %+v", h)
	}
	if !bytes.Equal(Signed(b), b[:len(b)-TagSize]) {
		t.Fatal("Signed does not stop before the tag")
	}
	// A suite's random field has its suite's length only.
	if _, err := AppendSigned(nil, SuiteV2, make([]byte, SaltSize), wrapped); err == nil {
		t.Error("AppendSigned took a 16-byte nonce for suite 2")
	}
	if _, err := AppendSigned(nil, SuiteV1, nonce, wrapped); err == nil {
		t.Error("AppendSigned took a 12-byte salt for suite 1")
	}
	// A suite-1 header relabelled suite 2 (and the reverse) does not parse:
	// the authenticator's length no longer matches.
	relabelled := bytes.Clone(b)
	relabelled[1] = SuiteV1
	if _, err := Parse(relabelled); !errors.Is(err, ErrMalformed) {
		t.Errorf("suite 2 header relabelled 1: Parse error %v, want ErrMalformed", err)
	}
	v1 := build(t, wrapped)
	v1[1] = SuiteV2
	if _, err := Parse(v1); !errors.Is(err, ErrMalformed) {
		t.Errorf("suite 1 header relabelled 2: Parse error %v, want ErrMalformed", err)
	}
}

func TestParseRejects(t *testing.T) {
	good := build(t, []byte("wrapped"))
	cases := map[string][]byte{
		"empty":         {},
		"short":         good[:10],
		"truncated MAC": good[:len(good)-1],
		"extra byte":    append(bytes.Clone(good), 0),
		"version":       append([]byte{2}, good[1:]...),
		"suite":         append([]byte{Version, 9}, good[2:]...),
	}
	zeroLen := bytes.Clone(good)
	zeroLen[2+SaltSize], zeroLen[3+SaltSize] = 0, 0
	cases["zero wrapped length"] = zeroLen
	for name, b := range cases {
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse error %v, want ErrMalformed", name, err)
		}
	}
}

func TestAppendSignedRejects(t *testing.T) {
	if _, err := AppendSigned(nil, SuiteV1, make([]byte, 8), []byte("w")); err == nil {
		t.Error("short salt accepted")
	}
	if _, err := AppendSigned(nil, SuiteV1, make([]byte, SaltSize), nil); err == nil {
		t.Error("empty wrapped key accepted")
	}
	if _, err := AppendSigned(nil, SuiteV1, make([]byte, SaltSize), make([]byte, MaxWrappedSize+1)); err == nil {
		t.Error("oversized wrapped key accepted")
	}
}

// FuzzParse checks that Parse never panics and that what it accepts is
// exactly the header those fields encode to.
func FuzzParse(f *testing.F) {
	f.Add(build(f, []byte("wrapped")))
	f.Add(build(f, bytes.Repeat([]byte{1}, 190)))
	f.Add([]byte{Version, SuiteV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		again, err := AppendSigned(nil, h.Suite, h.Salt, h.Wrapped)
		if err != nil {
			t.Fatalf("Parse accepted %x but its fields do not encode: %v", b, err)
		}
		again = append(again, h.MAC...)
		if !bytes.Equal(again, b) {
			t.Fatalf("Parse(%x) re-encodes as %x", b, again)
		}
	})
}
