package canonical

import (
	"errors"
	"strconv"
	"strings"
)

// maxNumberExponent bounds the decimal exponent NormalizeNumber accepts.
// DynamoDB's own range is 1E-130 to 9.99E+125; the margin keeps every number
// DynamoDB can store while refusing inputs such as "1e999999999" whose plain
// decimal form would be enormous.
const maxNumberExponent = 160

var errBadNumber = errors.New("invalid number")

// NormalizeNumber returns the canonical form of a DynamoDB number: plain
// decimal notation with no exponent, no sign on zero, no "+", no leading zeros
// in the integer part and no trailing zeros in the fraction. Two strings that
// DynamoDB treats as the same number ("1.50" and "1.5", "1E+2" and "100",
// "-0" and "0") normalize to the same string, which is also one that strconv
// and math/big parse.
//
// When s is already canonical it is returned as it is, without allocating.
func NormalizeNumber(s string) (string, error) {
	if isCanonical(s) {
		return s, nil
	}
	neg, digits, exp, err := parseNumber(s)
	if err != nil {
		return "", err
	}
	if digits == "" {
		return "0", nil
	}
	// The value is 0.digits × 10^exp with digits free of leading and
	// trailing zeros; exp counts the digits before the decimal point.
	if exp > maxNumberExponent || exp < -maxNumberExponent {
		return "", errBadNumber
	}
	var b strings.Builder
	b.Grow(len(digits) + 4)
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp <= 0:
		b.WriteString("0.")
		for i := exp; i < 0; i++ {
			b.WriteByte('0')
		}
		b.WriteString(digits)
	case exp >= len(digits):
		b.WriteString(digits)
		for i := len(digits); i < exp; i++ {
			b.WriteByte('0')
		}
	default:
		b.WriteString(digits[:exp])
		b.WriteByte('.')
		b.WriteString(digits[exp:])
	}
	return b.String(), nil
}

// isCanonical reports whether s is already in normal form:
// -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])? with no sign on zero and an exponent in
// range. It lets the common case skip parsing and allocation.
func isCanonical(s string) bool {
	i := 0
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') || len(intPart) > maxNumberExponent {
		return false
	}
	if i == len(s) {
		return !(neg && intPart == "0")
	}
	if s[i] != '.' {
		return false
	}
	frac := s[i+1:]
	if frac == "" || frac[len(frac)-1] == '0' {
		return false
	}
	leadingZeros := 0
	for j := 0; j < len(frac); j++ {
		switch {
		case frac[j] < '0' || frac[j] > '9':
			return false
		case frac[j] == '0' && leadingZeros == j:
			leadingZeros++
		}
	}
	return intPart != "0" || leadingZeros <= maxNumberExponent
}

// parseNumber splits a number into its sign, significant digits (no leading
// or trailing zeros; empty for zero) and the exponent e such that the value
// is 0.digits × 10^e.
func parseNumber(s string) (neg bool, digits string, exp int, err error) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	var fracPart string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracPart = s[fs:i]
	}
	if intPart == "" && fracPart == "" {
		return false, "", 0, errBadNumber
	}
	e := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if i == len(s) || i-es > 6 {
			return false, "", 0, errBadNumber
		}
		v, perr := strconv.Atoi(s[es:])
		if perr != nil {
			return false, "", 0, errBadNumber
		}
		e = v
		i = len(s)
	}
	if i != len(s) {
		return false, "", 0, errBadNumber
	}

	// Significant digits without leading zeros; the exponent moves by one
	// for every integer digit kept and every fraction zero dropped.
	intPart = strings.TrimLeft(intPart, "0")
	exp = len(intPart) + e
	var all string
	if intPart != "" {
		all = intPart + fracPart
	} else {
		trimmed := strings.TrimLeft(fracPart, "0")
		exp -= len(fracPart) - len(trimmed)
		all = trimmed
	}
	all = strings.TrimRight(all, "0")
	if all == "" {
		return false, "", 0, nil
	}
	return neg, all, exp, nil
}
