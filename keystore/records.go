package keystore

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keytable"
	"github.com/dynacrypt/dynacrypt/internal/kmsid"
)

// The table's attributes. The names follow the AWS Cryptographic Material
// Providers key store, so that operators recognise the records; the bytes
// are dynacrypt's own.
const (
	attrID         = keytable.IDAttr     // S, partition key
	attrType       = keytable.TypeAttr   // S, sort key
	attrEnc        = "enc"               // B, the KMS ciphertext of the material
	attrVersion    = "version"           // S, 32 lowercase hex digits
	attrKMSARN     = "kms-arn"           // S, the KMS key that wrapped enc
	attrCreateTime = "create-time"       // S, RFC 3339
	attrHierarchy  = "hierarchy-version" // N, 1
	// attrShredTime marks what Delete leaves of a version record: its
	// version and times, without material (S, RFC 3339).
	attrShredTime = "shred-time"
)

// The record types (sort keys).
const (
	typeActive        = "branch:ACTIVE"
	typeVersionPrefix = "branch:version:"
	typeBeacon        = "beacon:ACTIVE"
)

// hierarchyVersion is the only hierarchy-version this package reads and
// writes.
const hierarchyVersion = "1"

// The keys of the KMS encryption context under which branch keys and beacon
// keys are wrapped. A KMS key policy can match them with condition keys such
// as kms:EncryptionContext:dynacrypt-keystore, to confine a role to one key
// store.
const (
	ContextKeyStore    = "dynacrypt-keystore" // the key store's logical name
	ContextBranchKeyID = "branch-key-id"
	ContextType        = "type" // "branch:version:<version>" or "beacon:ACTIVE"
	ContextCreateTime  = "create-time"
)

// KeySize is the length of branch keys, beacon keys and the root keys the
// Cipher wraps.
const KeySize = 32

// MaxIDLength bounds a branch key id, in bytes.
const MaxIDLength = 1024

// versionLen is the length of a version: 128 random bits in hex.
const versionLen = 32

// timeLayout is how create-time is written: RFC 3339 in UTC, microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// record is one item of the key store table.
type record struct {
	id         string
	typ        string
	version    string // "" for the beacon record
	enc        []byte
	kmsARN     string
	createTime string // as stored: it is bound into the KMS context as is
	created    time.Time
}

func versionType(version string) string { return typeVersionPrefix + version }

// materialType is the type bound into the KMS context of the record's
// material: a branch:ACTIVE record holds its version's material, bound to
// the version's type.
func (r *record) materialType() string {
	if r.typ == typeActive {
		return versionType(r.version)
	}
	return r.typ
}

// encryptionContext is the KMS encryption context of the record's material
// in the key store of the given logical name.
func (r *record) encryptionContext(logical string) map[string]string {
	return map[string]string{
		ContextKeyStore:    logical,
		ContextBranchKeyID: r.id,
		ContextType:        r.materialType(),
		ContextCreateTime:  r.createTime,
	}
}

// as returns a copy of r stored under another type: the branch:ACTIVE
// record of a version.
func (r *record) as(typ string) *record {
	c := *r
	c.typ = typ
	return &c
}

// item returns the record as a DynamoDB item.
func (r *record) item() map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrID:         &types.AttributeValueMemberS{Value: r.id},
		attrType:       &types.AttributeValueMemberS{Value: r.typ},
		attrEnc:        &types.AttributeValueMemberB{Value: r.enc},
		attrKMSARN:     &types.AttributeValueMemberS{Value: r.kmsARN},
		attrCreateTime: &types.AttributeValueMemberS{Value: r.createTime},
		attrHierarchy:  &types.AttributeValueMemberN{Value: hierarchyVersion},
	}
	if r.version != "" {
		item[attrVersion] = &types.AttributeValueMemberS{Value: r.version}
	}
	return item
}

// sameVersion reports whether a branch:ACTIVE record holds what the record
// of its version holds.
func (r *record) sameVersion(v *record) bool {
	return r.version == v.version && r.kmsARN == v.kmsARN && r.createTime == v.createTime &&
		subtle.ConstantTimeCompare(r.enc, v.enc) == 1
}

// parseRecord checks an item read under the key (id, typ) and returns its
// record. It refuses, with ErrInvalidRecord, anything this package would
// not have written, so that a tampered record costs no KMS request where
// the tampering shows without one. What it cannot see (an enc moved from
// another record, an edited create-time) the KMS encryption context
// catches on unwrap. Attributes it does not know are ignored.
func parseRecord(item map[string]types.AttributeValue, id, typ string) (*record, error) {
	r := &record{}
	var err error
	str := func(name string) string {
		if err != nil {
			return ""
		}
		v, ok := item[name].(*types.AttributeValueMemberS)
		if !ok {
			err = invalidRecord(typ, "attribute %s missing or not a string", name)
			return ""
		}
		return v.Value
	}
	r.id, r.typ = str(attrID), str(attrType)
	r.kmsARN, r.createTime = str(attrKMSARN), str(attrCreateTime)
	if err != nil {
		return nil, err
	}
	if r.id != id || r.typ != typ {
		return nil, invalidRecord(typ, "read under %q but holds %s %q, %s %q", id, attrID, r.id, attrType, r.typ)
	}
	if h, ok := item[attrHierarchy].(*types.AttributeValueMemberN); !ok || h.Value != hierarchyVersion {
		return nil, invalidRecord(typ, "%s missing or not %s", attrHierarchy, hierarchyVersion)
	}
	enc, ok := item[attrEnc].(*types.AttributeValueMemberB)
	if !ok || len(enc.Value) == 0 || len(enc.Value) > kmsid.MaxBlob {
		return nil, invalidRecord(typ, "%s missing, not binary, or not 1 to %d bytes", attrEnc, kmsid.MaxBlob)
	}
	r.enc = enc.Value
	if r.created, err = time.Parse(time.RFC3339Nano, r.createTime); err != nil {
		return nil, invalidRecord(typ, "%s is not an RFC 3339 time", attrCreateTime)
	}
	if _, ok := kmsid.OfARN(r.kmsARN); !ok {
		return nil, invalidRecord(typ, "%s %q is not a KMS key ARN", attrKMSARN, r.kmsARN)
	}
	v, hasVersion := item[attrVersion]
	switch {
	case typ == typeBeacon:
		if hasVersion {
			return nil, invalidRecord(typ, "a beacon key record has no %s", attrVersion)
		}
		return r, nil
	case !hasVersion:
		return nil, invalidRecord(typ, "attribute %s missing", attrVersion)
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok || !validVersion(s.Value) {
		return nil, invalidRecord(typ, "%s is not %d lowercase hex digits", attrVersion, versionLen)
	}
	r.version = s.Value
	if typ != typeActive && typ != versionType(r.version) {
		return nil, invalidRecord(typ, "%s %s does not match the record's type", attrVersion, r.version)
	}
	return r, nil
}

// shreddedItem returns what Delete leaves of a version record: its id,
// type, version and create-time (as far as item has them), and when it was
// shredded, but no material. A read of an item under the version can then
// tell "deleted" (ErrBranchKeyShredded) from "never existed".
func shreddedItem(item map[string]types.AttributeValue, id, typ string, at time.Time) map[string]types.AttributeValue {
	version, _ := parseType(typ)
	out := map[string]types.AttributeValue{
		attrID:        &types.AttributeValueMemberS{Value: id},
		attrType:      &types.AttributeValueMemberS{Value: typ},
		attrVersion:   &types.AttributeValueMemberS{Value: version},
		attrHierarchy: &types.AttributeValueMemberN{Value: hierarchyVersion},
		attrShredTime: &types.AttributeValueMemberS{Value: formatTime(at)},
	}
	if ct, ok := item[attrCreateTime].(*types.AttributeValueMemberS); ok {
		out[attrCreateTime] = ct
	}
	return out
}

// isShredded reports whether a record is what Delete left of a version.
func isShredded(item map[string]types.AttributeValue) bool {
	_, ok := item[attrShredTime]
	return ok
}

// parseShredded checks a shredded version record read under the key (id,
// typ), and returns its version and creation time.
func parseShredded(item map[string]types.AttributeValue, id, typ string) (VersionInfo, error) {
	str := func(name string) (string, bool) {
		v, ok := item[name].(*types.AttributeValueMemberS)
		if !ok {
			return "", false
		}
		return v.Value, true
	}
	gotID, _ := str(attrID)
	gotType, _ := str(attrType)
	version, _ := str(attrVersion)
	shredTime, ok := str(attrShredTime)
	switch _, hasEnc := item[attrEnc]; {
	case gotID != id || gotType != typ || typ != versionType(version) || !validVersion(version):
		return VersionInfo{}, invalidRecord(typ, "a shredded version record that does not match its key")
	case hasEnc:
		return VersionInfo{}, invalidRecord(typ, "a shredded version record that holds material")
	case !ok:
		return VersionInfo{}, invalidRecord(typ, "%s is not a string", attrShredTime)
	}
	if _, err := time.Parse(time.RFC3339Nano, shredTime); err != nil {
		return VersionInfo{}, invalidRecord(typ, "%s is not an RFC 3339 time", attrShredTime)
	}
	info := VersionInfo{Version: version, Shredded: true}
	if ct, ok := str(attrCreateTime); ok {
		info.CreateTime, _ = time.Parse(time.RFC3339Nano, ct)
	}
	return info, nil
}

// parseType returns the version a sort key names, and whether it is a
// version record's.
func parseType(typ string) (string, bool) {
	v, ok := strings.CutPrefix(typ, typeVersionPrefix)
	return v, ok && validVersion(v)
}

// newVersion returns a new version: 128 random bits in lowercase hex.
func newVersion() (string, error) {
	var b [versionLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// validVersion reports whether v is a version as newVersion makes them.
func validVersion(v string) bool {
	if len(v) != versionLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkID refuses a branch key id that cannot be one: empty, longer than
// MaxIDLength, or not valid UTF-8 (DynamoDB would store U+FFFD instead).
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("empty branch key id")
	case len(id) > MaxIDLength:
		return fmt.Errorf("branch key id of %d bytes: at most %d", len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return errors.New("branch key id is not valid UTF-8")
	}
	return nil
}

// formatTime writes a create-time.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
