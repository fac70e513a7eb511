package dbesdk_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// gen makes items of varied types, deterministically from a seed, so that
// a failure can be replayed.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, 21))} }

// strings the generator draws from: ASCII, accents, CJK, an emoji (a
// surrogate pair in UTF-16, which DB-ESDK's paths count in), the empty
// string.
var genStrings = []string{"", "a", "héllo", "名前", "\U0001F600x", "ｱ", "line\nbreak", "quote\"s", "\x00nul"}

func (g *gen) str() string {
	s := genStrings[g.r.IntN(len(genStrings))]
	return s + strconv.Itoa(g.r.IntN(1000))
}

// number returns a number as a writer might spell it: DB-ESDK signs it as
// written and returns encrypted ones normalised.
func (g *gen) number() string {
	switch g.r.IntN(6) {
	case 0:
		return strconv.Itoa(g.r.IntN(2_000_001) - 1_000_000)
	case 1:
		return strconv.FormatFloat(g.r.Float64()*1e6-5e5, 'f', -1, 64)
	case 2:
		return fmt.Sprintf("%de%d", g.r.IntN(999)+1, g.r.IntN(60)-30)
	case 3:
		return "0800.000e0"
	case 4:
		return "99999999999999999999999999999999999999" // 38 digits, DynamoDB's most
	}
	return "-0.000001"
}

func (g *gen) bytes() []byte {
	b := make([]byte, g.r.IntN(40))
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

// value returns a random value, nested up to depth more levels.
func (g *gen) value(depth int) types.AttributeValue {
	kinds := 8
	if depth > 0 {
		kinds = 10
	}
	switch g.r.IntN(kinds) {
	case 0:
		return &types.AttributeValueMemberS{Value: g.str()}
	case 1:
		return &types.AttributeValueMemberN{Value: g.number()}
	case 2:
		return &types.AttributeValueMemberB{Value: g.bytes()}
	case 3:
		return &types.AttributeValueMemberBOOL{Value: g.r.IntN(2) == 0}
	case 4:
		return &types.AttributeValueMemberNULL{Value: true}
	case 5:
		seen := map[string]bool{}
		var ss []string
		for range 1 + g.r.IntN(4) {
			if s := g.str(); !seen[s] {
				seen[s] = true
				ss = append(ss, s)
			}
		}
		return &types.AttributeValueMemberSS{Value: ss}
	case 6:
		var ns []string
		for i := range 1 + g.r.IntN(4) {
			ns = append(ns, strconv.Itoa(i*7-g.r.IntN(7))+"."+strconv.Itoa(g.r.IntN(9)+1)) // distinct once normalised
		}
		return &types.AttributeValueMemberNS{Value: ns}
	case 7:
		var bs [][]byte
		for range 1 + g.r.IntN(4) {
			b := g.bytes()
			if !containsBytes(bs, b) {
				bs = append(bs, b)
			}
		}
		return &types.AttributeValueMemberBS{Value: bs}
	case 8:
		l := make([]types.AttributeValue, g.r.IntN(4))
		for i := range l {
			l[i] = g.value(depth - 1)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	m := map[string]types.AttributeValue{}
	for range g.r.IntN(4) {
		m[g.str()] = g.value(depth - 1)
	}
	return &types.AttributeValueMemberM{Value: m}
}

func containsBytes(set [][]byte, b []byte) bool {
	for _, m := range set {
		if bytes.Equal(m, b) {
			return true
		}
	}
	return false
}

// genTable is the table of generated items: its keys and attribute names
// under each action, unicode names among them.
var genTable = struct {
	encrypted, signed, unsigned []string
}{
	encrypted: []string{"secret", "card", "名前", "\U0001F600e"},
	signed:    []string{"name", "tags", "Ärger", "z"},
	unsigned:  []string{"hits"},
}

// item returns a generated item with key pk (S) and sk (N) and a random
// subset of the table's other attributes.
func (g *gen) item(i int) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("item-%04d-%s", i, g.str())},
		"sk": &types.AttributeValueMemberN{Value: strconv.Itoa(i)},
	}
	for _, names := range [][]string{genTable.encrypted, genTable.signed, genTable.unsigned} {
		for _, name := range names {
			if g.r.IntN(5) > 0 {
				item[name] = g.value(3)
			}
		}
	}
	return item
}

// sameItem fails unless got and want hold the same attributes with the
// same values as DynamoDB stores them (numbers normalised, sets in any
// order: canonical's encoding).
func sameItem(t testing.TB, what string, got, want map[string]types.AttributeValue) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d attributes, want %d: got %v", what, len(got), len(want), keysOf(got))
		return false
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: attribute %q missing", what, name)
			return false
		}
		gb, err1 := canonical.Append(nil, g)
		wb, err2 := canonical.Append(nil, w)
		if err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
			t.Errorf("%s: attribute %q is %#v, want %#v (%v, %v)", what, name, g, w, err1, err2)
			return false
		}
	}
	return true
}

func keysOf(m map[string]types.AttributeValue) []string {
	var names []string
	for name := range m {
		names = append(names, name)
	}
	return names
}
