// Package suite is the cryptography of the two algorithm suites AWS's
// Database Encryption SDK for DynamoDB (DB-ESDK) writes: 0x6700
// (AES-256-GCM, HKDF-SHA-512, key commitment, HMAC-SHA-384 recipient tags)
// and 0x6701 (the same and an ECDSA P-384 signature). It derives the commit
// key and the per-field keys of a record from its data key, and signs and
// verifies with ECDSA P-384 in DB-ESDK's encoding. It does no I/O.
//
// The specification it follows, without restating it:
//
//   - mpl/framework/algorithm-suites.md: the suites' settings (sections
//     "Supported Algorithm Suites", "Algorithm Suites Encryption Key
//     Derivation Settings", "... Commit Key Derivation Settings", "...
//     Signature Settings").
//   - dbesdk/structured-encryption/header.md, section "Header Commitment":
//     the commit key and the commitment.
//   - dbesdk/structured-encryption/encrypt-path-structure.md, sections
//     "Calculate Info" and "Calculate Cipherkey and Nonce": the field root
//     key and each field's key and nonce.
//   - mpl/framework/transitive-requirements.md, section "ECDSA", and
//     mpl/framework/default-cmm.md: the signature and the public key
//     encoding.
//
// Choices, each DB-ESDK's own behaviour where the specification differs or
// is silent (AWS's Dafny implementation, StructuredEncryption/src/Header.dfy,
// Crypt.dfy, Footer.dfy, and the material providers' primitives):
//
//   - The header commitment is HMAC-SHA-512 (the hash of the suite's
//     commit key derivation) truncated to 32 bytes, not HMAC-SHA-384 as
//     header.md says; AWS's test vectors confirm it.
//   - HKDF without a salt uses RFC 5869's default: HashLen zero bytes.
//   - The ECDSA signature is over SHA-384 of the canonical hash (itself a
//     SHA-384 digest): the primitive hashes its message. It is DER-encoded
//     and always 103 bytes, as the footer's fixed size requires: where a
//     signature's encoding is shorter or longer, s is replaced by n-s (an
//     equally valid signature), and failing that the message is signed
//     again, as AWS's Java runtime does.
//   - The verification key travels in the encryption context under
//     "aws-crypto-public-key" as the standard base64 encoding of the
//     compressed point (SEC 1, section 2.3.3); decoding refuses any other
//     point encoding.
package suite
