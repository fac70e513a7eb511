package structure

import (
	"bytes"
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// Footer is a parsed aws_dbe_foot value (footer.md): a recipient tag per
// encrypted data key and, for a signed suite, the ECDSA signature.
type Footer struct {
	// Tags are the HMAC-SHA-384 recipient tags, in the order of the
	// header's encrypted data keys.
	Tags [][]byte
	// Signature is the DER-encoded ECDSA P-384 signature, or nil.
	Signature []byte
}

// ParseFooter parses a footer attribute's value; signed says whether the
// header's suite signs. The number of tags is checked against the header by
// the decryptor.
func ParseFooter(b []byte, signed bool) (*Footer, error) {
	f := &Footer{}
	if err := parseFooter(f, bytes.Clone(b), signed); err != nil { // the parsed footer holds a copy
		return nil, err
	}
	return f, nil
}

// parseFooter is ParseFooter into f, whose Tags it appends to, aliasing b.
func parseFooter(f *Footer, b []byte, signed bool) error {
	if signed {
		if len(b) < suite.SignatureSize {
			return malformed("footer", "too short for a signature")
		}
		f.Signature = b[len(b)-suite.SignatureSize:]
		b = b[:len(b)-suite.SignatureSize]
	}
	if len(b) == 0 || len(b)%suite.RecipientTagSize != 0 {
		return malformed("footer", fmt.Sprintf("%d bytes of recipient tags, not a positive multiple of %d", len(b), suite.RecipientTagSize))
	}
	for ; len(b) > 0; b = b[suite.RecipientTagSize:] {
		f.Tags = append(f.Tags, b[:suite.RecipientTagSize:suite.RecipientTagSize])
	}
	return nil
}

// Append appends the footer's serialization: the tags, then the signature.
func (f *Footer) Append(dst []byte) []byte {
	for _, t := range f.Tags {
		dst = append(dst, t...)
	}
	return append(dst, f.Signature...)
}
