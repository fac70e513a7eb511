// Package dbesdk lets a dynacrypt Store read and write items in the format of
// AWS's Database Encryption SDK for DynamoDB (DB-ESDK), so that Go services
// share tables with services that use DB-ESDK in Java, .NET, Python or Rust.
//
// Its keyrings wrap and unwrap each item's data key, as DB-ESDK's do, and
// read and write DB-ESDK's encrypted data keys byte for byte:
//
//   - [RawAESKeyring]: a local AES key; no requests.
//   - [KMSKeyring]: an AWS KMS key; one KMS request per item written and
//     per item read.
//   - [HierarchicalKeyring]: branch keys from a DB-ESDK key store
//     ([KeyStore]), unwrapped by KMS about once per version and cache TTL;
//     one branch key per tenant with [WithBranchKeyIDSupplier].
//   - [MultiKeyring]: several of the above at once.
//
// A [KeyStore] also creates and rotates branch keys that DB-ESDK services
// use.
package dbesdk
