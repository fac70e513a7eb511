// Package keytext formats an item's key attributes for error messages.
package keytext

import (
	"encoding/base64"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// String formats key attributes as {"name":value,...}, names sorted:
// strings and binaries (in base64) quoted as Go quotes a string, numbers
// normalised. Key values come from the table or an export, which an
// attacker may have written: every character a terminal or a log would act
// on (control characters, line breaks, bidirectional marks) comes out
// escaped. A number that is not one, a missing attribute and a value of
// another type are named, not shown.
func String(key map[string]types.AttributeValue) string {
	b := []byte{'{'}
	for i, name := range canonical.SortedKeys(key) {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, name)
		b = append(b, ':')
		switch v := key[name].(type) {
		case nil:
			b = append(b, "missing"...)
		case *types.AttributeValueMemberS:
			b = strconv.AppendQuote(b, v.Value)
		case *types.AttributeValueMemberN:
			if n, err := canonical.NormalizeNumber(v.Value); err == nil {
				b = append(b, n...)
			} else {
				b = append(b, "not a number"...)
			}
		case *types.AttributeValueMemberB:
			b = strconv.AppendQuote(b, base64.StdEncoding.EncodeToString(v.Value))
		default:
			b = append(b, "not a key type"...)
		}
	}
	return string(append(b, '}'))
}
