// Package structure reads and writes DynamoDB items in the format of AWS's
// Database Encryption SDK for DynamoDB (DB-ESDK, "structured encryption"),
// bit for bit, so that Go services share tables with DB-ESDK services in
// Java, .NET, Python or Rust. It does no I/O: keyrings, which may call KMS
// or read a key store, plug in through the Keyring interface.
//
// An Encryptor holds a table's configuration (logical table name, key
// names, crypto actions, signature scope, algorithm suite, keyring), as
// DB-ESDK's item encryptor does. EncryptItem adds the aws_dbe_head and
// aws_dbe_foot attributes and replaces ENCRYPT_AND_SIGN attributes by
// their ciphertexts; DecryptItem verifies and reverses that;
// ResolveActions reads the actions an item was written with. ParseHeader
// and ParseFooter parse the two attributes.
//
// The specification, which this package follows without restating it
// (DB-ESDK's specification/, in ../shared/dbesdk/spec/dbesdk/):
//
//   - structured-encryption/header.md: the header, its encrypt legend,
//     encryption context, encrypted data keys, canonical paths and
//     commitment.
//   - structured-encryption/footer.md: recipient tags, the signature and
//     the canonical hash they cover.
//   - structured-encryption/encrypt-path-structure.md and
//     decrypt-path-structure.md: the steps of encryption and decryption,
//     field keys, terminal encryption, the version 2 encryption context.
//   - structured-encryption/structures.md: crypto actions.
//   - dynamodb-encryption-client/encrypt-item.md, decrypt-item.md and
//     ddb-table-encryption-config.md: the item base context (versions 1 and
//     2), the signature scope, the key attributes' actions.
//   - mpl/framework/default-cmm.md and cmm-interface.md: the per-record
//     ECDSA key pair and the required encryption context, which Encryptor
//     plays in place of the CMMs.
//
// Packages ddbser (attribute serialization), suite (key derivation,
// signatures) and keywrap (raw AES and hierarchical keyrings' EDKs) hold
// the rest.
//
// Choices, each DB-ESDK's own behaviour (its Dafny implementation,
// StructuredEncryption/ and DynamoDbItemEncryptor/) where the specification
// is silent or says otherwise:
//
//   - A canonical path counts the attribute name's length in UTF-16 code
//     units (DB-ESDK's strings are UTF-16 in every runtime), not in bytes.
//   - The canonical hash's context is the header's serialization of the
//     record's full encryption context (count included), while keyrings
//     authenticate the material providers' serialization (no bytes for an
//     empty context).
//   - The header stores only the context entries a reader cannot rebuild
//     from the item: the verification key of a signed record. The base
//     context, the SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT entries and their
//     legend are rebuilt, and must agree with any the header has.
//   - The footer's signature is 103 bytes of DER (footer.md says 96).
//   - A recipient tag matching any of the footer's tags authenticates, as
//     in DB-ESDK; all are compared in constant time.
//   - Format version 2 is written when an action is
//     SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, and the key attributes must
//     then have that action too (SIGN_ONLY in version 1).
//   - Decryption takes the actions from the header's legend and the
//     configuration's signature scope, not from the configured actions,
//     so that items written under an earlier configuration still read.
//
// Where this package is stricter than DB-ESDK, always about input DB-ESDK
// never writes:
//
//   - EncryptItem refuses attributes named "aws_dbe_..." (DB-ESDK's
//     encryptor drops them silently) and names that are empty or not UTF-8.
//   - DecryptItem refuses an encrypted attribute stored as anything but a
//     binary (DB-ESDK would accept a string with the same bytes).
//   - New refuses a logical table name or key name that starts with
//     "aws-crypto-": DB-ESDK accepts the configuration but cannot encrypt
//     with it (it refuses context values with that prefix).
//
// Everything that can be checked without the data key is checked before
// the keyring is asked for it on decrypt, so that malformed or tampered
// items cost no KMS request: the form of the item, and in a signed suite
// the ECDSA signature, which covers the header and every signed attribute
// (DB-ESDK checks it last). Only the commitment and the recipient tags
// need the data key.
package structure
