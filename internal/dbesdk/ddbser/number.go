package ddbser

import (
	"errors"
	"strings"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// DynamoDB's number limits, which DB-ESDK enforces when it normalizes.
const (
	maxDigits = 38   // significant digits
	maxExp    = 126  // the value is below 10^126
	minExp    = -129 // the value is at least 10^-130
)

var (
	errNumberSyntax    = errors.New("not a number")
	errNumberPrecision = errors.New("number has more than 38 significant digits")
	errNumberRange     = errors.New("number magnitude outside DynamoDB's range")
)

// NormalizeNumber returns a DynamoDB number as DB-ESDK serializes it: the
// form DynamoDB stores ("0800.000e0" is "800", "-0" is "0", "1.2e-3" is
// "0.0012"). It refuses strings that are not numbers and numbers DynamoDB
// cannot store: more than 38 significant digits, or a magnitude from 10^126
// up or below 10^-130. Its errors never quote the number.
func NormalizeNumber(s string) (string, error) {
	n, err := canonical.NormalizeNumber(s)
	if err != nil {
		return "", errNumberSyntax
	}
	if err := checkLimits(n); err != nil {
		return "", err
	}
	return n, nil
}

// checkLimits applies DynamoDB's precision and range to a normalized
// number: -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?
func checkLimits(n string) error {
	n = strings.TrimPrefix(n, "-")
	if n == "0" {
		return nil
	}
	intPart, frac, _ := strings.Cut(n, ".")
	var digits, exp int // the value is 0.d1d2...d(digits) × 10^exp
	if intPart == "0" {
		sig := strings.TrimLeft(frac, "0")
		digits, exp = len(sig), -(len(frac) - len(sig))
	} else if frac == "" {
		digits, exp = len(strings.TrimRight(intPart, "0")), len(intPart)
	} else {
		digits, exp = len(intPart)+len(frac), len(intPart)
	}
	switch {
	case digits > maxDigits:
		return errNumberPrecision
	case exp > maxExp || exp < minExp:
		return errNumberRange
	}
	return nil
}
