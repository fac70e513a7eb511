// Package dbesdk lets a dynacrypt Store read and write items in the format of
// AWS's Database Encryption SDK for DynamoDB (DB-ESDK), so that Go services
// share tables with services that use DB-ESDK in Java, .NET, Python or Rust.
//
// Its keyrings wrap and unwrap each item's data key, as DB-ESDK's do: a raw
// AES key ([RawAESKeyring]).
package dbesdk
