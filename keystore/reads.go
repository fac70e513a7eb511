package keystore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ActiveBranchKey returns the active version of a branch key, unwrapped:
// what a Cipher wraps new root keys under. It reads the branch:ACTIVE record
// and the record of the version it names, and refuses them
// (ErrInvalidRecord), before any KMS request, unless they agree; then it
// unwraps the material with KMS Decrypt. So a writer never wraps under a
// version that readers could not fetch. It costs two GetItem requests and
// one KMS Decrypt. A missing branch key gives ErrBranchKeyNotFound.
func (ks *KeyStore) ActiveBranchKey(ctx context.Context, id string) (*BranchKey, error) {
	version, k, err := ks.activeBranchKey(ctx, id)
	if err != nil {
		return nil, opError("ActiveBranchKey", id, version, err)
	}
	return k, nil
}

// activeBranchKey is ActiveBranchKey; it also returns the version the
// active record names, once read, for the error.
func (ks *KeyStore) activeBranchKey(ctx context.Context, id string) (string, *BranchKey, error) {
	if err := checkID(id); err != nil {
		return "", nil, err
	}
	item, err := ks.records.Get(ctx, id, typeActive)
	if err != nil {
		return "", nil, err
	}
	if item == nil {
		return "", nil, ErrBranchKeyNotFound
	}
	active, err := parseRecord(item, id, typeActive)
	if err != nil {
		return "", nil, err
	}
	typ := versionType(active.version)
	if item, err = ks.records.Get(ctx, id, typ); err != nil {
		return active.version, nil, err
	}
	if item == nil {
		return active.version, nil, invalidRecord(typeActive, "it names version %s, which has no record", active.version)
	}
	r, err := parseRecord(item, id, typ)
	if err == nil && !active.sameVersion(r) {
		err = invalidRecord(typeActive, "it differs from the record of the version it names, %s", active.version)
	}
	if err != nil {
		return active.version, nil, err
	}
	k, err := ks.unwrapBranchKey(ctx, r)
	return active.version, k, err
}

// BranchKeyVersion returns a version of a branch key, unwrapped: what a
// Cipher needs to read root keys wrapped under it. It costs one GetItem
// request and one KMS Decrypt; a record refused (ErrInvalidRecord) costs
// no KMS request.
//
// A version that [KeyStore.Delete] shredded gives ErrBranchKeyShredded
// (after a second GetItem, of branch:ACTIVE, which must not name it). A
// version with no record gives ErrBranchKeyNotFound if the branch key has
// no branch:ACTIVE record either (it was never created, deleted before
// Delete left shredded records, or its records removed by hand), and an
// error wrapping dynacrypt.ErrIntegrity if it has one: the key store never
// removes a version of a live branch key, so the version asked for was
// forged, or its record deleted by someone else. Telling the two apart
// costs a second GetItem.
func (ks *KeyStore) BranchKeyVersion(ctx context.Context, id, version string) (*BranchKey, error) {
	k, err := ks.branchKeyVersion(ctx, id, version)
	if err != nil {
		return nil, &Error{Op: "BranchKeyVersion", ID: id, Version: version, Err: err}
	}
	return k, nil
}

func (ks *KeyStore) branchKeyVersion(ctx context.Context, id, version string) (*BranchKey, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if !validVersion(version) {
		return nil, fmt.Errorf("version %q is not %d lowercase hex digits", version, versionLen)
	}
	typ := versionType(version)
	item, err := ks.records.Get(ctx, id, typ)
	if err != nil {
		return nil, err
	}
	if item == nil {
		active, err := ks.records.Get(ctx, id, typeActive)
		switch {
		case err != nil:
			return nil, fmt.Errorf("version not found, and then: %w", err)
		case active == nil:
			return nil, ErrBranchKeyNotFound
		}
		return nil, integrity("the branch key exists but has no such version: a forged version, or a deleted record")
	}
	if isShredded(item) {
		if _, err := parseShredded(item, id, typ); err != nil {
			return nil, err
		}
		// Delete removes branch:ACTIVE before it shreds: a shredded
		// version that is still active was not shredded by Delete.
		if active, err := ks.activeVersion(ctx, id); err == nil && active == version {
			return nil, invalidRecord(typ, "the version is shredded but branch:ACTIVE still names it")
		} else if err != nil && !errors.Is(err, ErrBranchKeyNotFound) {
			return nil, fmt.Errorf("version shredded, and then: %w", err)
		}
		return nil, ErrBranchKeyShredded
	}
	r, err := parseRecord(item, id, typ)
	if err != nil {
		return nil, err
	}
	return ks.unwrapBranchKey(ctx, r)
}

// unwrapBranchKey unwraps the material of a checked version record.
func (ks *KeyStore) unwrapBranchKey(ctx context.Context, r *record) (*BranchKey, error) {
	material, err := ks.unwrapMaterial(ctx, r)
	if err != nil {
		return nil, err
	}
	k := newBranchKey(r.id, r.version, r.created, r.kmsARN)
	copy(k.key[:], material)
	clear(material)
	return k, nil
}

// BeaconKey returns the beacon key of a branch key id, unwrapped: the key
// that beacons (lookups on encrypted fields) derive from. It costs one
// GetItem request and one KMS Decrypt; callers should cache it.
func (ks *KeyStore) BeaconKey(ctx context.Context, id string) (*BeaconKey, error) {
	k, err := ks.beaconKey(ctx, id)
	if err != nil {
		return nil, &Error{Op: "BeaconKey", ID: id, Err: err}
	}
	return k, nil
}

func (ks *KeyStore) beaconKey(ctx context.Context, id string) (*BeaconKey, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	item, err := ks.records.Get(ctx, id, typeBeacon)
	if err != nil {
		return nil, err
	}
	if item == nil {
		return nil, ErrBranchKeyNotFound
	}
	r, err := parseRecord(item, id, typeBeacon)
	if err != nil {
		return nil, err
	}
	material, err := ks.unwrapMaterial(ctx, r)
	if err != nil {
		return nil, err
	}
	k := newBeaconKey(r.id, r.created, r.kmsARN)
	copy(k.key[:], material)
	clear(material)
	return k, nil
}

// VersionInfo describes a version of a branch key.
type VersionInfo struct {
	Version    string
	CreateTime time.Time
	Active     bool // the version branch:ACTIVE names: the one new root keys are wrapped under
	// Shredded is set for a version [KeyStore.Delete] deleted: its record
	// remains, without material, so that items under it read as
	// ErrBranchKeyShredded.
	Shredded bool
}

// Versions lists the versions of a branch key, oldest first, and says which
// is active. It reads the records with Query, page by page, and unwraps
// nothing (no KMS request). Versions that lost a race of concurrent
// rotations are listed too, never active, and so are versions that
// [KeyStore.Delete] shredded (Shredded set). A record that is not as the key
// store writes it fails the listing with ErrInvalidRecord; an id with no
// record, with ErrBranchKeyNotFound.
func (ks *KeyStore) Versions(ctx context.Context, id string) ([]VersionInfo, error) {
	vs, err := ks.versions(ctx, id)
	if err != nil {
		return nil, &Error{Op: "Versions", ID: id, Err: err}
	}
	return vs, nil
}

func (ks *KeyStore) versions(ctx context.Context, id string) ([]VersionInfo, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var (
		vs     []VersionInfo
		active *record
		seen   bool
	)
	for page, err := range ks.query(ctx, id) {
		if err != nil {
			return nil, err
		}
		for _, item := range page {
			seen = true
			r, shredded, err := parseListed(item, id)
			if err != nil {
				return nil, err
			}
			switch {
			case r == nil:
				vs = append(vs, shredded)
			case r.typ == typeActive:
				active = r
			case r.typ != typeBeacon:
				vs = append(vs, VersionInfo{Version: r.version, CreateTime: r.created})
			}
		}
	}
	if !seen {
		return nil, ErrBranchKeyNotFound
	}
	if active != nil {
		i := slices.IndexFunc(vs, func(v VersionInfo) bool { return v.Version == active.version })
		if i < 0 {
			return nil, invalidRecord(typeActive, "it names version %s, which has no record", active.version)
		}
		vs[i].Active = true
	}
	slices.SortFunc(vs, func(a, b VersionInfo) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return vs, nil
}

// parseListed checks a record of id found by Query, whatever its type: a
// record, or (r nil) a shredded version.
func parseListed(item map[string]types.AttributeValue, id string) (r *record, shredded VersionInfo, err error) {
	s, ok := item[attrType].(*types.AttributeValueMemberS)
	if !ok {
		return nil, shredded, invalidRecord("a", "attribute %s missing or not a string", attrType)
	}
	_, isVersion := parseType(s.Value)
	switch {
	case !isVersion && s.Value != typeActive && s.Value != typeBeacon:
		return nil, shredded, invalidRecord(fmt.Sprintf("%q", s.Value), "not a type of record the key store writes")
	case isVersion && isShredded(item):
		shredded, err = parseShredded(item, id, s.Value)
		return nil, shredded, err
	}
	r, err = parseRecord(item, id, s.Value)
	return r, shredded, err
}
