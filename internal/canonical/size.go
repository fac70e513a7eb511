package canonical

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// SizeHint returns about how many bytes Append appends for av: exactly,
// but for numbers that are not in normal form (normalizing "1E+3" to
// "1000" lengthens it) and for what Append refuses (0 for a nil value, say,
// or the part above MaxDepth). It allocates nothing and reads no string,
// so that a caller can size the buffer it appends a large value to once,
// instead of growing it, a copy at each step.
func SizeHint(av types.AttributeValue) int {
	return sizeHint(av, 0)
}

func sizeHint(av types.AttributeValue, depth int) int {
	if depth > MaxDepth || IsNil(av) {
		return 0
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return 1 + lenPrefixed(len(v.Value))
	case *types.AttributeValueMemberN:
		return 1 + lenPrefixed(len(v.Value))
	case *types.AttributeValueMemberB:
		return 1 + lenPrefixed(len(v.Value))
	case *types.AttributeValueMemberBOOL:
		return 2
	case *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		return stringsHint(v.Value)
	case *types.AttributeValueMemberNS:
		return stringsHint(v.Value)
	case *types.AttributeValueMemberBS:
		n := 1 + uvarintLen(uint64(len(v.Value)))
		for _, m := range v.Value {
			n += lenPrefixed(len(m))
		}
		return n
	case *types.AttributeValueMemberL:
		n := 1 + uvarintLen(uint64(len(v.Value)))
		for _, e := range v.Value {
			n += sizeHint(e, depth+1)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 1 + uvarintLen(uint64(len(v.Value)))
		for k, e := range v.Value {
			n += lenPrefixed(len(k)) + sizeHint(e, depth+1)
		}
		return n
	}
	return 0
}

// lenPrefixed is the size of n bytes after their length.
func lenPrefixed(n int) int { return uvarintLen(uint64(n)) + n }

func stringsHint(members []string) int {
	n := 1 + uvarintLen(uint64(len(members)))
	for _, m := range members {
		n += lenPrefixed(len(m))
	}
	return n
}
