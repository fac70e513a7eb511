package structure

import (
	"encoding/binary"
	"unicode/utf8"
)

// appendPath appends the canonical path of a top-level attribute
// (header.md, "Canonical Path"): the table name, the depth (1) and, for the
// attribute, '$', the length of its name and the name. DB-ESDK counts the
// name's length in UTF-16 code units (nameLen, from utf16Len), as its
// strings are UTF-16 in every runtime; for ASCII names that is the byte
// length.
func appendPath(dst []byte, table, name string, nameLen int) []byte {
	dst = append(dst, table...)
	dst = binary.BigEndian.AppendUint64(dst, 1)
	dst = append(dst, '$')
	dst = binary.BigEndian.AppendUint64(dst, uint64(nameLen))
	return append(dst, name...)
}

// utf16Len returns the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 && r <= utf8.MaxRune {
			n++ // a surrogate pair
		}
	}
	return n
}
