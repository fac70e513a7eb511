// Package ddbser is the serialization of DynamoDB attribute values that AWS's
// Database Encryption SDK for DynamoDB (DB-ESDK) encrypts and signs: a
// two-byte type ID and the value's bytes, nested values length-prefixed.
//
// The bytes are DB-ESDK's, not dynacrypt's (that is internal/canonical).
// They are specified in DB-ESDK's specification, which this package follows
// without restating:
//
//   - dynamodb-encryption-client/ddb-attribute-serialization.md: type IDs
//     (section "Type ID") and the value of each type (section "Value"),
//     including set ordering, map entry ordering and number normalization.
//   - dynamodb-encryption-client/string-ordering.md: the UTF-16 binary order
//     of string set members and map keys.
//   - dynamodb-encryption-client/ddb-item-conversion.md: duplicates are
//     refused when converting back to attribute values.
//
// Choices where the specification leaves room, each the behaviour of
// DB-ESDK's own implementation (DynamoToStruct.dfy, NormalizeNumber.dfy):
//
//   - Numbers are normalized as DynamoDB stores them (no exponent, no
//     leading or trailing zeros, no sign on zero) and refused beyond 38
//     significant digits or outside DynamoDB's range (1E-130 to
//     9.99...E+125 in magnitude). Exponent fields longer than six
//     characters are refused too, though DB-ESDK accepts "0e9999999".
//   - A number set is sorted after normalization and refused if two members
//     normalize alike; string and binary sets with repeated members are
//     refused, not deduplicated.
//   - Lists and maps nest at most MaxDepth levels, the top-level value
//     counting as the first.
//   - Map keys are 1 to 65535 bytes of UTF-8. Strings, set members and map
//     keys that are not valid UTF-8 are refused on both sides.
//   - Decoding accepts members and entries in any order (DB-ESDK does not
//     check the order either: the bytes are authenticated) but refuses
//     repeated set members and map keys, unknown type IDs, booleans other
//     than 0x00 and 0x01, NULL with a value, numbers that do not normalize,
//     and trailing bytes.
package ddbser
