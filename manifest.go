package dynacrypt

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/itemcrypt"
	"github.com/dynacrypt/dynacrypt/internal/keyring"
)

// digestSize is the length of a legacy item's digest in a manifest: 128
// bits, so that finding another item with the digest of a listed one (a
// second preimage) takes about 2^128 work.
const digestSize = 16

// digestLabel starts every legacy item digest.
const digestLabel = "dynacrypt/v1 legacy item"

// LegacySnapshot scans the whole table, with consistent reads, and returns
// a manifest of its legacy items (items without a header: legacy per-field
// KMS items, or plaintext items): for each, a digest of every attribute as
// stored (except unsigned ones), signed with a root key of this Store's
// Cipher. Give it to [LegacyManifest]: the Store then reads and migrates
// only those items, unchanged, and refuses any other item without a header
// before any KMS request.
//
// The manifest vouches for what the scan saw, so take it when the table is
// trusted: before a migration starts, once nothing writes items without a
// header any more, from a trusted network, or check it against a backup.
// It is about 16 bytes per legacy item plus 100 or so; store it where the
// service can read it (a file deployed with the service, S3, SSM). It is
// bound to the Store's logical table name and Cipher. LegacySnapshot also
// returns the number of legacy items listed.
func (s *Store[T]) LegacySnapshot(ctx context.Context) ([]byte, int, error) {
	b, n, err := snapshot(ctx, s.db, s.table, &s.codec)
	if err != nil {
		return nil, 0, s.fail("LegacySnapshot", err)
	}
	return b, n, nil
}

// LegacySnapshot is [Store.LegacySnapshot] for a table without a Go type,
// through db: a manifest of the table's items without a header, for
// LegacyManifest, which a Store and Items of the same table, logical name
// and Cipher take alike.
func (it *Items) LegacySnapshot(ctx context.Context, db DB) ([]byte, int, error) {
	if db == nil || isNilPointer(db) {
		return nil, 0, newOpError("LegacySnapshot", it.table, errors.New("nil DB"))
	}
	b, n, err := snapshot(ctx, db, it.table, &it.codec)
	if err != nil {
		return nil, 0, newOpError("LegacySnapshot", it.table, err)
	}
	return b, n, nil
}

// snapshot scans table and returns the manifest of its items without a
// header, and how many it lists.
func snapshot(ctx context.Context, db DB, table string, c *codec) ([]byte, int, error) {
	if c.ring == nil {
		return nil, 0, errors.New("a manifest is signed with the Cipher's root keys: use WithCipher")
	}
	var digests [][digestSize]byte
	in := &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)}
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return nil, 0, err
		}
		for _, item := range out.Items {
			if c.hasHeader(item) {
				continue
			}
			d, err := legacyDigest(c, item)
			if err != nil {
				return nil, 0, err
			}
			digests = append(digests, d)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.SortFunc(digests, func(a, b [digestSize]byte) int { return bytes.Compare(a[:], b[:]) })
	digests = slices.Compact(digests)
	b, err := sealManifest(ctx, c, digests)
	if err != nil {
		return nil, 0, err
	}
	return b, len(digests), nil
}

// legacyDigest is the digest a manifest lists for a legacy item: SHA-256 of
// a label, the logical table name and the canonical encoding of the item as
// a map, unsigned attributes left out, cut to digestSize bytes.
func legacyDigest(c *codec, item map[string]types.AttributeValue) ([digestSize]byte, error) {
	signed := item
	if len(c.unsigned) > 0 {
		signed = make(map[string]types.AttributeValue, len(item))
		for name, v := range item {
			if !c.unsigned[name] {
				signed[name] = v
			}
		}
	}
	b := append([]byte(digestLabel), 0)
	b = canonical.AppendName(b, c.logical)
	b, err := canonical.Append(b, &types.AttributeValueMemberM{Value: signed})
	if err != nil {
		return [digestSize]byte{}, err
	}
	sum := sha256.Sum256(b)
	return [digestSize]byte(sum[:digestSize]), nil
}

// sealManifest encodes digests (sorted, unique) as a signed manifest: the
// signed part of a header (format version, suite, salt, wrapped root key),
// the count as a uvarint, the digests, then an HMAC-SHA-256 over all of it
// under a key derived from the root key, the salt and the logical table
// name.
func sealManifest(ctx context.Context, c *codec, digests [][digestSize]byte) ([]byte, error) {
	root, err := c.ring.ForWrite(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("wrapping root key: %w", err)
	}
	var salt [header.SaltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	b, err := sealManifestWith(c.logical, root.Key(), root.Wrapped(), salt[:], digests)
	runtime.KeepAlive(root)
	return b, err
}

// sealManifestWith is sealManifest with the root key and salt given: the
// deterministic part, which FORMAT.md's test vectors check.
func sealManifestWith(logical string, root, wrapped, salt []byte, digests [][digestSize]byte) ([]byte, error) {
	b, err := header.AppendSigned(nil, header.SuiteV1, salt, wrapped)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(digests)))
	for _, d := range digests {
		b = append(b, d[:]...)
	}
	keys, err := itemcrypt.Derive(root, salt, itemcrypt.ManifestInfo(logical))
	if err != nil {
		return nil, err
	}
	defer keys.Release()
	return append(b, keys.MAC(b)...), nil
}

// manifest is a parsed legacy manifest. Its signature is checked once, at
// the first legacy item it vouches for.
type manifest struct {
	hdr      header.Header
	signed   []byte // every byte before the MAC
	mac      []byte
	digests  []byte // sorted, digestSize bytes each
	verified atomic.Bool
}

var errManifest = errors.New("malformed manifest: not from Store.LegacySnapshot")

// parseManifest checks a manifest's structure; its signature needs the
// Cipher, so it is checked later.
func parseManifest(b []byte) (*manifest, error) {
	if len(b) < header.MACSize {
		return nil, errManifest
	}
	b = bytes.Clone(b) // the caller's slice may change
	signed, mac := b[:len(b)-header.MACSize], b[len(b)-header.MACSize:]
	h, rest, err := header.ParseSigned(signed)
	if err != nil {
		return nil, errManifest
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest))/digestSize || uint64(len(rest)-k) != n*digestSize {
		return nil, errManifest
	}
	m := &manifest{hdr: h, signed: signed, mac: mac, digests: rest[k:]}
	for i := digestSize; i < len(m.digests); i += digestSize {
		if bytes.Compare(m.digests[i-digestSize:i], m.digests[i:i+digestSize]) >= 0 {
			return nil, errManifest
		}
	}
	return m, nil
}

// vouch returns nil if the manifest lists item as it is, and an error
// wrapping ErrIntegrity otherwise. An item it does not list is refused
// without a Cipher call.
func (m *manifest) vouch(ctx context.Context, c *codec, item map[string]types.AttributeValue) error {
	d, err := legacyDigest(c, item)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	n := len(m.digests) / digestSize
	i := sort.Search(n, func(i int) bool { return bytes.Compare(m.digests[i*digestSize:(i+1)*digestSize], d[:]) >= 0 })
	if i == n || !bytes.Equal(m.digests[i*digestSize:(i+1)*digestSize], d[:]) {
		return integrity("legacy item is not in the manifest, or changed since the snapshot")
	}
	return m.verify(ctx, c)
}

// verify checks the manifest's signature, once.
func (m *manifest) verify(ctx context.Context, c *codec) error {
	if m.verified.Load() {
		return nil
	}
	root, hold, err := c.ring.ForRead(ctx, m.hdr.Wrapped, "", keyring.Items)
	if err != nil {
		return fmt.Errorf("legacy manifest: unwrapping its root key: %w", err)
	}
	keys, err := derive(root, m.hdr.Salt, itemcrypt.ManifestInfo(c.logical))
	if err != nil {
		hold.Settle(true)
		return err
	}
	defer keys.Release()
	genuine := hmac.Equal(keys.MAC(m.signed), m.mac)
	hold.Settle(genuine)
	if !genuine {
		return integrity("the legacy manifest's signature does not match: altered, or made for another table")
	}
	m.verified.Store(true)
	return nil
}
