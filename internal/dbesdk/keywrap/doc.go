// Package keywrap is the keyring cryptography that needs no service: the
// material providers' intermediate key wrapping, which both DB-ESDK suites
// require, the raw AES keyring, and the hierarchical keyring's encrypted
// data keys given a branch key's material. Keyrings that call AWS KMS or
// read a key store build on it; it does no I/O.
//
// The specification it follows, without restating it (mpl/framework/):
//
//   - algorithm-suites.md, section "Intermediate Key Wrapping": the data
//     key sealed under a key derived from a per-recipient intermediate key,
//     and the recipient's symmetric signing key derived from it too.
//   - raw-aes-keyring.md: key provider information (key name, tag length in
//     bits, IV length, IV) and ciphertext (ciphertext, then tag), with the
//     serialized encryption context as AAD.
//   - aws-kms/aws-kms-hierarchical-keyring.md, sections "Ciphertext",
//     "Branch Key Wrapping", "Branch Key Unwrapping" and "Branch Key
//     Wrapping and Unwrapping AAD": provider ID "aws-kms-hierarchy",
//     provider information the branch key ID, ciphertext salt, IV, branch
//     key version (16 bytes of its UUID), wrapped key and tag.
//
// Choices, each the behaviour of the material providers' implementation
// (IntermediateKeyWrapping.dfy, RawAESKeyring.dfy,
// AwsKmsHierarchicalKeyring.dfy, KdfCtr.dfy) where the specification is
// loose:
//
//   - The intermediate key derivations are HKDF-SHA-512 (the suite's commit
//     key KDF) without salt, 32 bytes each, with infos
//     "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC" and "..._MAC"; the data key is
//     sealed with AES-256-GCM under a zero IV (each key encrypts once), so
//     it takes 48 bytes, not the "key length + 12" the table says.
//   - In an intermediate-wrapped EDK the keyring's wrapping applies to the
//     intermediate key, which a keyring generates (32 random bytes) for
//     every EDK.
//   - The hierarchical wrapping key is NIST SP 800-108 KDF in counter mode
//     with HMAC-SHA-256: HMAC(branch key, uint32(1) || "aws-kms-hierarchy"
//     || 0x00 || salt || uint32(256)).
//   - Branch key versions are UUID strings; in EDKs their 16 bytes. A
//     version that is not a UUID is refused.
//   - The raw AES keyring refuses the key namespace "aws-kms", and on
//     decrypt skips EDKs whose provider ID, key name, tag length (128 bits)
//     or IV length (12) differ, trying the next.
package keywrap
