// Package dbesdk lets a dynacrypt Store read and write items in the format of
// AWS's Database Encryption SDK for DynamoDB (DB-ESDK), so that Go services
// share tables with services that use DB-ESDK in Java, .NET, Python or Rust.
//
// [Format] is the Store's option: a Store (dynacrypt.New) or Items
// (dynacrypt.NewItems) with it writes items in DB-ESDK's format and reads
// items of both formats on one table, so that a re-encryption walk moves a
// table either way; [ReadOnly] keeps writing dynacrypt's. The Store's
// schema is the DB-ESDK configuration (see Format), the algorithm suite
// DB-ESDK's default, 0x6701, unless [WithSuite] says 0x6700.
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
//
// DB-ESDK's beacons (searchable encryption) are not read or written yet; a
// Store's own beacons are written as SIGN_ONLY attributes. The repository's
// docs/dbesdk.md has the whole picture: the configuration in DB-ESDK's terms,
// what works, moving a table.
package dbesdk
