package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// keyText formats an item's key attributes for a failure report, as a JSON
// object where it can: {"seq":1,"tenant":"t1"}. The values come from the
// table or the export, which an attacker may have written: strings are
// quoted, numbers normalised, and a value that is not what a key holds (a
// number that is not one, another type) is quoted as Go quotes a string;
// a missing attribute is shown as missing. The result may still hold
// characters a terminal acts on (DEL, C1 controls, bidirectional marks):
// print it through printable.
func keyText(key map[string]types.AttributeValue) string {
	var b []byte
	b = append(b, '{')
	for i, name := range canonical.SortedKeys(key) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
		switch v := key[name].(type) {
		case nil:
			b = append(b, "missing"...)
		case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberB:
			if j, err := appendJSONValue(b, v); err == nil {
				b = j
			} else {
				b = append(b, "invalid number "...)
				b = strconv.AppendQuote(b, v.(*types.AttributeValueMemberN).Value) // strings and binaries do not fail
			}
		default:
			b = append(b, "not a key type"...)
		}
	}
	return string(append(b, '}'))
}

// printable returns s with what a terminal would act on rather than show
// escaped as Go escapes it in a quoted string: control characters (C0,
// DEL, C1) line breaks included, line and paragraph separators,
// bidirectional and other format characters, and invalid UTF-8. Failure
// reports go through it, so that values from a table or an export reach
// the operator's terminal as text, never as escape sequences or forged
// report lines.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:]) // two hex digits
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}
