package dbesdk

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// The attributes of a key store record (branch-key-store.md, "Record
// Format"), and the entry of the KMS encryption context that holds the
// logical key store name.
const (
	attrID         = keytable.IDAttr     // S, partition key
	attrType       = keytable.TypeAttr   // S, sort key
	attrEnc        = "enc"               // B, the KMS ciphertext of the key
	attrVersion    = "version"           // S, "branch:version:<uuid>", in branch:ACTIVE only
	attrKMSARN     = "kms-arn"           // S
	attrCreateTime = "create-time"       // S, ISO 8601
	attrHierarchy  = "hierarchy-version" // N, 1
	contextTable   = "tablename"         // the logical key store name, in the KMS context only
)

// CustomContextPrefix starts the name of the record attribute, and of the
// KMS encryption context key, that holds each entry of a branch key's custom
// encryption context (see [KeyStore.Create]).
const CustomContextPrefix = "aws-crypto-ec:"

// The record types (sort keys).
const (
	typeActive        = "branch:ACTIVE"
	typeVersionPrefix = "branch:version:"
	typeBeacon        = "beacon:ACTIVE"
)

// hierarchyVersion is the only hierarchy-version DB-ESDK writes and reads.
const hierarchyVersion = "1"

// timeLayout is how DB-ESDK writes create-time: ISO 8601 in UTC, to the
// microsecond.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// record is a key store record, checked.
type record struct {
	id, typ string
	version string // the branch key version (a UUID); "" for the beacon key
	enc     []byte
	created time.Time
	// ec is the KMS encryption context of enc: every attribute but enc, as
	// strings, and the logical key store name.
	ec map[string]string
}

func versionType(version string) string { return typeVersionPrefix + version }

// parseRecord checks an item read under the key (id, typ) of the key
// store, and returns its record. It refuses, with ErrInvalidRecord,
// anything DB-ESDK would not have written or would not accept, so that a
// tampered record costs no KMS request where the tampering shows without
// one: a key or type other than asked for, an attribute missing or of the
// wrong type, a kms-arn other than the key store's, a version that is not
// a UUID, and any attribute DB-ESDK does not write (DB-ESDK would bind it
// into the KMS encryption context, where it would fail). What it cannot
// see (an enc moved from another record, an edited create-time or custom
// context) the KMS encryption context catches on unwrap.
func (ks *KeyStore) parseRecord(item map[string]types.AttributeValue, id, typ string) (*record, error) {
	r := &record{id: id, typ: typ, ec: make(map[string]string, len(item))}
	for name, av := range item {
		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			if name != attrID && name != attrType && name != attrVersion && name != attrKMSARN &&
				name != attrCreateTime && !strings.HasPrefix(name, CustomContextPrefix) {
				return nil, invalidRecord(typ, "attribute %q is not one DB-ESDK writes", name)
			}
			r.ec[name] = v.Value
		case *types.AttributeValueMemberN:
			if name != attrHierarchy || v.Value != hierarchyVersion {
				return nil, invalidRecord(typ, "attribute %q is a number; only %s is, and it must be %s", name, attrHierarchy, hierarchyVersion)
			}
			r.ec[name] = v.Value
		case *types.AttributeValueMemberB:
			if name != attrEnc || len(v.Value) == 0 || len(v.Value) > kmsid.MaxBlob {
				return nil, invalidRecord(typ, "attribute %q is a binary; only %s is, of 1 to %d bytes", name, attrEnc, kmsid.MaxBlob)
			}
			r.enc = v.Value
		default:
			return nil, invalidRecord(typ, "attribute %q is of a type DB-ESDK does not write", name)
		}
	}
	for _, name := range []string{attrID, attrType, attrKMSARN, attrCreateTime, attrHierarchy} {
		if _, ok := r.ec[name]; !ok {
			return nil, invalidRecord(typ, "attribute %s missing or of the wrong type", name)
		}
	}
	if r.enc == nil {
		return nil, invalidRecord(typ, "attribute %s missing or of the wrong type", attrEnc)
	}
	r.ec[contextTable] = ks.logical
	if r.ec[attrID] != id || r.ec[attrType] != typ {
		return nil, invalidRecord(typ, "read under branch key %q but holds %s %q, %s %q", id, attrID, r.ec[attrID], attrType, r.ec[attrType])
	}
	if r.ec[attrKMSARN] != ks.arn {
		return nil, invalidRecord(typ, "%s names %q, not the key store's KMS key %s", attrKMSARN, r.ec[attrKMSARN], ks.arn)
	}
	var err error
	if r.created, err = time.Parse(time.RFC3339Nano, r.ec[attrCreateTime]); err != nil {
		return nil, invalidRecord(typ, "%s is not an ISO 8601 time", attrCreateTime)
	}
	named, hasVersion := r.ec[attrVersion]
	switch {
	case typ == typeActive:
		v, ok := strings.CutPrefix(named, typeVersionPrefix)
		if !hasVersion || !ok || !isUUID(v) {
			return nil, invalidRecord(typ, "%s is not %q and a UUID", attrVersion, typeVersionPrefix)
		}
		r.version = v
	case hasVersion:
		return nil, invalidRecord(typ, "only the %s record has a %s attribute", typeActive, attrVersion)
	case typ != typeBeacon:
		v, ok := strings.CutPrefix(typ, typeVersionPrefix)
		if !ok || !isUUID(v) {
			return nil, invalidRecord(typ, "not a type of record DB-ESDK writes")
		}
		r.version = v
	}
	return r, nil
}

// item returns a record as DB-ESDK stores it: its encryption context but
// the logical name, hierarchy-version as a number, and enc.
func recordItem(ec map[string]string, enc []byte) map[string]types.AttributeValue {
	item := make(map[string]types.AttributeValue, len(ec)+1)
	for name, v := range ec {
		switch name {
		case contextTable:
		case attrHierarchy:
			item[name] = &types.AttributeValueMemberN{Value: v}
		default:
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	item[attrEnc] = &types.AttributeValueMemberB{Value: enc}
	return item
}

// versionContext returns the KMS encryption context of a new branch key
// version's record (DECRYPT_ONLY): custom holds the custom encryption
// context, its keys prefixed already.
func (ks *KeyStore) versionContext(id, version string, created time.Time, custom map[string]string) map[string]string {
	ec := map[string]string{
		attrID:         id,
		attrType:       versionType(version),
		attrCreateTime: created.UTC().Format(timeLayout),
		contextTable:   ks.logical,
		attrKMSARN:     ks.arn,
		attrHierarchy:  hierarchyVersion,
	}
	for k, v := range custom {
		ec[k] = v
	}
	return ec
}

// activeContext returns the KMS encryption context of the branch:ACTIVE
// record of a version, given its version record's.
func activeContext(versionEC map[string]string) map[string]string {
	return withEntries(versionEC, map[string]string{attrType: typeActive, attrVersion: versionEC[attrType]})
}

// beaconContext returns the KMS encryption context of the beacon key
// record of a branch key, given the version record's of its first version.
func beaconContext(versionEC map[string]string) map[string]string {
	return withEntries(versionEC, map[string]string{attrType: typeBeacon})
}

// withEntries returns a copy of ec with entries set.
func withEntries(ec, entries map[string]string) map[string]string {
	out := make(map[string]string, len(ec)+len(entries))
	for k, v := range ec {
		out[k] = v
	}
	for k, v := range entries {
		out[k] = v
	}
	return out
}

// customContext checks a branch key's custom encryption context and
// returns it with its keys prefixed, as records and the KMS context hold
// it.
func customContext(ec map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(ec))
	for k, v := range ec {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("custom encryption context key %q is empty or not valid UTF-8, or its value is not", k)
		}
		out[CustomContextPrefix+k] = v
	}
	return out, nil
}

// checkID refuses a branch key id that cannot be one: empty, or not valid
// UTF-8 (DynamoDB would store U+FFFD instead, and the EDKs would name
// another id).
func checkID(id string) error {
	if id == "" || !utf8.ValidString(id) {
		return fmt.Errorf("branch key id %q is empty or not valid UTF-8", id)
	}
	return nil
}

// isUUID reports whether s is a UUID as DB-ESDK writes branch key versions:
// 8-4-4-4-12 lowercase hex digits. Encrypted data keys carry a version's
// 16 bytes, which read back in that form only.
func isUUID(s string) bool {
	return len(s) == 36 && kmsid.IsKeyID(s) // a KMS key ID is such a UUID
}

// newUUID returns a version 4 UUID, as DB-ESDK makes branch key versions
// and ids.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
