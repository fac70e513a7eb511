package ddbser

import (
	"cmp"
	"strings"
	"unicode/utf8"
)

// CompareUTF16 compares a and b in UTF-16 binary order, the order DB-ESDK
// sorts string set members and map keys in: code unit by code unit of their
// UTF-16 encodings. It differs from Go's byte order (code point order) only
// where one string has a character from U+E000 to U+FFFF and the other one
// above U+FFFF at the first difference: the surrogate pair sorts first.
func CompareUTF16(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	// The strings agree before i, so they share the start of the
	// character that differs.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	if c := cmp.Compare(firstUnit(ra), firstUnit(rb)); c != 0 {
		return c
	}
	if ra != rb {
		// Same high surrogate: the low surrogates follow code point order.
		return cmp.Compare(ra, rb)
	}
	return strings.Compare(a[i:], b[i:]) // invalid UTF-8: any total order
}

// firstUnit returns the first UTF-16 code unit of r.
func firstUnit(r rune) rune {
	if r < 0x10000 {
		return r
	}
	return 0xD800 + (r-0x10000)>>10
}
