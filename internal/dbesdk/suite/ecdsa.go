package suite

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// PublicKeyContextKey is the encryption context key under which a signed
// record carries its verification key.
const PublicKeyContextKey = "aws-crypto-public-key"

// p384Size is the length of a P-384 coordinate or scalar.
const p384Size = 48

// ErrBadPublicKey is returned (wrapped) by DecodePublicKey.
var ErrBadPublicKey = errors.New("malformed ECDSA P-384 verification key")

// GenerateSigningKey returns a fresh ECDSA P-384 key pair from crypto/rand,
// as DB-ESDK makes for every signed record.
func GenerateSigningKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
}

// EncodePublicKey returns the encryption context value of a verification
// key: the standard base64 encoding of its compressed point.
func EncodePublicKey(pub *ecdsa.PublicKey) (string, error) {
	ecdhPub, err := pub.ECDH()
	if err != nil {
		return "", err
	}
	raw := ecdhPub.Bytes() // 0x04 || X || Y
	if len(raw) != 1+2*p384Size {
		return "", fmt.Errorf("suite: verification key is not on P-384")
	}
	var compressed [1 + p384Size]byte
	compressed[0] = 2 | raw[len(raw)-1]&1 // the parity of Y
	copy(compressed[1:], raw[1:1+p384Size])
	return base64.StdEncoding.EncodeToString(compressed[:]), nil
}

// DecodePublicKey parses an encryption context value written by
// EncodePublicKey.
func DecodePublicKey(s string) (*ecdsa.PublicKey, error) {
	compressed, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(compressed) != 1+p384Size {
		return nil, ErrBadPublicKey
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P384(), compressed)
	if x == nil {
		return nil, ErrBadPublicKey
	}
	return &ecdsa.PublicKey{Curve: elliptic.P384(), X: x, Y: y}, nil
}

// Sign returns the ECDSA P-384 signature of a record's canonical hash, in
// DB-ESDK's fixed-length DER encoding.
func Sign(priv *ecdsa.PrivateKey, canonicalHash []byte) ([]byte, error) {
	digest := sha512.Sum384(canonicalHash)
	for {
		sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			return nil, err
		}
		if len(sig) == SignatureSize {
			return sig, nil
		}
		// (r, n-s) is as valid as (r, s); its encoding differs in length
		// when the top bit of one of them is set and of the other not.
		var parsed struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &parsed); err != nil {
			return nil, err
		}
		parsed.S.Sub(priv.Params().N, parsed.S)
		if sig, err = asn1.Marshal(parsed); err != nil {
			return nil, err
		}
		if len(sig) == SignatureSize {
			return sig, nil
		}
	}
}

// Verify reports whether sig is a valid signature of canonicalHash by pub.
// It accepts any valid DER encoding; the footer fixes the length.
func Verify(pub *ecdsa.PublicKey, canonicalHash, sig []byte) bool {
	digest := sha512.Sum384(canonicalHash)
	return ecdsa.VerifyASN1(pub, digest[:], sig)
}
