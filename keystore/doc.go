// Package keystore keeps branch keys in a DynamoDB table and provides a
// dynacrypt.Cipher that wraps root keys under them: the role of AWS's
// hierarchical keyring, in dynacrypt's format.
//
// A branch key is 32 random bytes, wrapped by KMS in the key store table and
// shared by every process of a fleet. A [Cipher] wraps the Store's root keys
// under it locally (HKDF and AES-GCM), so a process calls KMS about once per
// branch key version and cache TTL however many root keys its writers make,
// and needs only kms:Decrypt. Rotating a branch key makes a new version;
// older versions stay readable. Deleting a branch key (all its versions) is
// crypto-shredding: every item whose root key was wrapped under it becomes
// unreadable, in the table and in every backup or export of it. With one
// branch key per tenant, that is how a tenant's data is erased.
//
// The table (partition key "branch-key-id", sort key "type") holds per
// branch key id:
//
//   - "branch:version:<v>": one record per version, whose material is kept
//     until the branch key is deleted;
//   - "branch:ACTIVE": the active version's record again, its "version"
//     attribute naming it;
//   - "beacon:ACTIVE": the beacon key, 32 bytes from which beacons (lookups
//     on encrypted fields) derive. It does not rotate.
//
// [KeyStore.Delete] leaves of each version a record without material, so
// that items under it read as [ErrBranchKeyShredded] rather than as forged.
//
// Each record's "enc" attribute is its material wrapped by KMS Encrypt
// under the encryption context {"dynacrypt-keystore": logical name,
// "branch-key-id": id, "type": "branch:version:<v>" or "beacon:ACTIVE",
// "create-time": t}. Reading checks every field of a record against that
// context, so material moved to another version, branch key or key store
// does not unwrap; records altered in ways that show without KMS are refused
// before any KMS request ([ErrInvalidRecord]). [FORMAT.md §11] specifies
// the records and the wrapped root keys byte by byte.
//
// Setting up, for a fleet that shares one branch key:
//
//	ks, err := keystore.New(ddb, "branch-keys", "branch-keys", kmsClient, "alias/branch-keys")
//	version, err := ks.Create(ctx, "users-fleet")        // once, by an operator
//	cipher, err := keystore.NewCipher(ks, "users-fleet") // in every process
//	users, err := dynacrypt.New[User](ddb, "users",
//		dynacrypt.WithPartitionKey("id"),
//		dynacrypt.WithCipher(cipher))
//
// With tenants (dynacrypt.WithTenantAttribute), each item's root key is
// wrapped under its tenant's branch key: the encryption context names the
// tenant ([TenantContextKey]) and [WithBranchKeyIDSupplier] maps it to a
// branch key id (by default, the tenant itself; [PrefixSupplier] keeps
// tenants' branch keys apart from the others). A root key wrapped under
// another branch key than the one its tenant maps to is refused before any
// fetch; deleting a tenant's branch key erases that tenant's data alone.
// The mapping is configured once, on the Cipher, and serves the tenants'
// beacon keys too:
//
//	cipher, err := keystore.NewCipher(ks, "orders-service", // its own branch key: cursors
//		keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("tenant-")))
//	orders, err := dynacrypt.New[Order](ddb, "orders",
//		dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
//		dynacrypt.WithTenantAttribute("tenant"),
//		dynacrypt.WithCipher(cipher),
//		dynacrypt.WithTenantBeaconKeys(cipher.TenantBeaconKey))
//
// A tenant the supplier refuses costs no key store or KMS request, on
// writes, lookups and reads alike ([Cipher.CheckTenant]).
//
// The threat model is dynacrypt's: an attacker may read and write every
// table, the key store's included, but cannot use the KMS key. Such an
// attacker can delete branch keys (so can anyone who can delete the items),
// put back records deleted from a backup of the key store (which undoes a
// shredding while the KMS key lives: keep the key store's backups no longer
// than a shredding may take), and put back an older branch:ACTIVE record,
// which makes writers that never read the newer version use the older one.
// A Cipher that has read a newer version (to read an item under it) reads
// the active record again and then refuses to wrap under the older one; it
// never calls a root key under the older version current; and
// Store.Reencrypt reads each branch key's active version afresh before it
// walks its items: so a walk never moves items onto the older version. They
// cannot read or forge material, nor make a reader accept a root key it did
// not wrap.
//
// After an honest rotation elsewhere, a process goes on wrapping under the
// version it cached for up to the cache TTL, unless it reads an item under
// the new version first: then it reads the active record again at its next
// new root key.
//
// [Fleets and tenants] in the repository's docs has the runbooks (set-up,
// rotation and its walk, moving a table from KMSCipher, shredding) and the
// IAM policies; the [security model] says what the key store protects and
// what it does not.
//
// [FORMAT.md §11]: https://github.com/dynacrypt/dynacrypt/blob/main/FORMAT.md#11-key-store-package-keystore
// [Fleets and tenants]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/tenants.md
// [security model]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/security.md
package keystore
