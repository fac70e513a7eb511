// Package dynacrypt stores Go structs in DynamoDB with chosen fields
// encrypted and every item signed, so that a table dump, a backup or an admin
// console shows only ciphertext while the service reads and writes plain
// structs.
//
// # Use
//
// Tag the secret fields and open a Store over the table:
//
//	type User struct {
//		ID       string `dynamodbav:"id"`
//		Username string `dynamodbav:"username"`
//		Token    string `dynamodbav:"token" encrypt:"kms"`
//		Version  int64  `dynamodbav:"version"`
//	}
//
//	users, err := dynacrypt.New[User](ddb, "users",
//		dynacrypt.WithPartitionKey("id"),
//		dynacrypt.WithVersion("version"),
//		dynacrypt.WithCipher(dynacrypt.NewKMSCipher(kmsClient, "alias/users")))
//
// Store.Put, Store.Get, Store.Delete and Store.Update then work on User
// values. Fields are marshalled by attributevalue, so any type it handles can
// be encrypted (strings, numbers, []byte, time.Time, slices, maps, nested
// structs, sets), and comes back with its type. New checks the type once and
// reports what cannot work, naming the field.
//
// # Optimistic locking
//
// With WithVersion, Put of version 0 creates the item, Put of version v
// replaces it only if it is still at version v, and both store v+1; a failed
// condition is ErrConflict. Update does read-modify-write with those
// conditions and retries on conflict, so concurrent updates are never lost.
// A write whose answer was lost, which the SDK retried, is recognised by its
// item's header (unique to the write) and reported done; when the Store
// cannot tell whether it landed, it returns [ErrOutcomeUnknown], which is
// not a conflict: Update does not apply fn again.
//
// # Many items
//
// Store.Query and Store.Scan return iterators (iter.Seq2) that fetch pages
// as the loop asks; Store.QueryPage and Store.ScanPage return pages with
// signed, opaque cursors for APIs. A listing ends at the first item that
// fails verification; with ReportFailures it reports that item, by key, as
// an *ItemError, and goes on. Store.BatchGet, Store.BatchPut and
// Store.BatchDelete chunk to DynamoDB's limits and retry unprocessed items.
// Transact commits Store.TxPut, Store.TxDelete and Store.TxCheck actions of
// several stores atomically; TransactGet reads with Store.TxGet.
//
// # Lookups on encrypted fields
//
// A field tagged encrypt:"kms,beacon=N" (with lower and trim to normalise
// strings first) is stored with a beacon beside its ciphertext: the low N
// bits of an HMAC of its plaintext, in the S attribute [BeaconAttribute]
// names, under a key derived from [WithBeaconKey]. [Store.Lookup] and
// [Store.LookupPage] find items by the field's value through a global index
// on that attribute ([WithIndex]): they query it with the beacon of the value
// asked for, then verify, decrypt and compare every candidate, so that the
// false positives a short beacon admits never reach the caller.
// [WithCompoundBeacon] joins several fields into one beacon, for lookups on
// all of them at once. Beacons show which items share a value, up to
// truncation; [Lookups on encrypted fields] says how to choose N and what
// beacons reveal, and [FORMAT.md] specifies them.
//
// # Encryption
//
// Each Store makes a random 256-bit root key, has its Cipher wrap it (one KMS
// Encrypt), and uses it for many writes; readers cache unwrapped root keys,
// so KMS is called about once per root key, not once per field or item. Each
// write seals all of the item's encrypted fields in one AES-256-GCM call,
// under a key derived once per root key with HKDF-SHA-256 and bound to the
// table, with a random nonce; the associated data is the item's other
// attributes, its key values included, and each encrypted field's name and
// length. The GCM tag so signs the whole item, and it is checked before
// anything is decrypted. A header attribute holds the nonce, the wrapped
// root key and the tag. Moving a value to another attribute, item or table,
// or changing, adding or removing any signed attribute, gives ErrIntegrity.
// This is suite 2 of the format; items of suite 1 (a key per item and an
// HMAC-SHA-256 signature, written by earlier versions and with
// [WithWriteSuite]) are read too. [FORMAT.md] specifies the bytes.
//
// Ciphers: KMSCipher (AWS KMS, with the encryption context
// {"dynacrypt-table": table} that key policies can match), AESCipher (a local
// key), the fake in package dynacrypttest for tests, and keystore.Cipher,
// which wraps root keys under branch keys kept in a DynamoDB table, so that
// each process of a fleet calls KMS about once per branch key version and
// cache TTL, where with KMSCipher every reader unwraps every writer's root
// keys ([Fleets and tenants]).
//
// # Tenants
//
// [WithTenantAttribute] names the field that holds each item's tenant. Root
// keys are then wrapped under a context that names the tenant
// ([TenantContextKey]), which keystore.Cipher maps to the tenant's branch
// key: each tenant's items are under its own key, an item moved to another
// tenant fails verification, and deleting a tenant's branch key makes its
// items unreadable ([ErrKeyGone]) while the others' read on. The Cipher's
// mapping serves the tenant's beacon keys too ([WithTenantBeaconKeys] with
// keystore.Cipher's TenantBeaconKey), and a tenant it refuses costs no key
// fetch ([TenantChecker]). A tenant without a branch key holds no items:
// reads find nothing, writes fail with ErrKeyGone. [ReencryptOptions].Tenant
// walks one tenant's items.
//
// # Adoption and rotation
//
// [WithLegacyKMS] reads items of the legacy per-field KMS format (each secret
// field a raw KMS ciphertext blob, no signature) and [Store.Reencrypt] walks
// a table to rewrite them in this format, and to rewrap root keys under a new
// KMS key after a rotation ([KMSCipher.WithPreviousKeys] keeps old items
// readable meanwhile). Since legacy items can be forged by anyone who can
// write the table, legacy mode ends at a date ([LegacyUntil]) and reads only
// what a signed snapshot taken beforehand ([Store.LegacySnapshot],
// [LegacyManifest]) lists, unless told to trust any legacy item without ever
// migrating one ([LegacyUnverified]). [WithPlaintextItems] does the same for
// a table of plaintext items, in the three phases of a rolling deployment
// ([WritePlaintext], [ReadPlaintext], [RefusePlaintext]).
//
// # AWS DB-ESDK's item format
//
// [WithItemFormat] adds a second item format, which a Store reads beside
// its own, telling them apart by their header attributes, and may write
// instead. Package dbesdk's Format makes the one of AWS's Database
// Encryption SDK for DynamoDB, so that Go services share tables with
// DB-ESDK services in other languages, and a walk moves a table between
// the formats. Versions, conditions, cursors, tenants, beacons and the
// unwrap limit stay the Store's, on both formats.
//
// # Threat model
//
// The attacker can read and write the table, its backups and its streams, but
// cannot use the KMS key; API clients hold the page cursors. Against them the
// encrypted fields stay secret and every signed attribute keeps its integrity;
// forged cursors and headers are refused, and cost a handful of KMS requests
// at most ([WithUnwrapLimit]).
//
// Not protected: key attribute values and attribute names are stored in
// plaintext, as DynamoDB needs them. Item and field sizes are visible.
// Attributes declared with [WithUnsignedAttributes] can be changed
// undetected. Someone with write access to the table can restore an older,
// validly signed version of an item. A role that can decrypt root keys can
// also forge items, so a key policy cannot split writers from readers. The
// [Security model] has the whole list, and [Threats] the tests that defend
// against each threat.
//
// New refuses what would leave a secret in plaintext: encrypt tags on fields
// it would not encrypt (inside nested structs or elements), misspelled tag
// keys, item types that marshal themselves. Writes refuse strings that are
// not valid UTF-8, which DynamoDB would silently change.
//
// # Errors
//
// Store methods return an [*OpError], which names the operation and the table
// and wraps the cause, so errors.Is finds the kind ([ErrNotFound],
// [ErrConflict], [ErrIntegrity], [ErrInvalidCursor], [ErrUnwrapLimited]) and
// errors.As finds the SDK's or KMS's exception; its Kind field holds the
// kind. Messages never contain plaintext of encrypted fields.
//
// Throttling is left to the SDK client's retryer, which retries throttled
// requests with backoff as configured (retry.Standard: 3 attempts). When it
// gives up, the error wraps the exception, such as
// *types.ProvisionedThroughputExceededException, nothing was written, and
// Update does not retry it as a conflict: raise the client's RetryMaxAttempts
// for tables that throttle often. Batches report the items not done, and
// those of unknown outcome, in a *BatchError. [Errors] says what each kind
// means, and what a write's result means after a fault.
//
// # Documentation
//
// The repository's documents go further than this page:
//
//   - [README]: what dynacrypt is and why, the quick start, the concepts
//   - [Errors]: the error kinds, and errors after a fault
//   - [Queries]: Query, Scan, pages, batches and transactions
//   - [Lookups on encrypted fields]: beacons, their length, what they reveal
//   - [Fleets and tenants]: the key store, tenants, rotation, shredding, IAM
//   - [Security model] and [Threats]: what is protected, and the tests that
//     defend each threat
//   - [Operations]: the operator's command, walks (across machines too),
//     rotation, migrations, suites
//   - [Streams and exports]: items outside Store calls, exports, streams
//   - [Options]: every option with its default
//   - [Testing]: the test servers and package dynacrypttest
//   - [FORMAT.md]: the stored format, byte by byte
//
// [README]: https://github.com/dynacrypt/dynacrypt/blob/main/README.md
// [Errors]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/errors.md
// [Queries]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/queries.md
// [Lookups on encrypted fields]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/beacons.md
// [Fleets and tenants]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/tenants.md
// [Security model]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/security.md
// [Threats]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/threats.md
// [Operations]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/operations.md
// [Streams and exports]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/streams-exports.md
// [Options]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/options.md
// [Testing]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/testing.md
// [FORMAT.md]: https://github.com/dynacrypt/dynacrypt/blob/main/FORMAT.md
package dynacrypt
