package dbesdk

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestKeyStoreRefusesTamperedRecords: a record of the key store altered by
// someone who can write the table is refused: before any KMS request when
// the alteration shows without one (ErrInvalidRecord), by KMS through the
// record's encryption context otherwise (ErrIntegrity); either way once per
// version within the failure TTL. Reads (a version record) and writes (the
// branch:ACTIVE record) alike.
func TestKeyStoreRefusesTamperedRecords(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	cases := []struct {
		name   string
		active bool // tamper with branch:ACTIVE (a write), else the version record (a read)
		edit   func(rec, other map[string]types.AttributeValue)
		local  bool // refused before any KMS request
	}{
		{"kms-arn of another key", false, func(rec, _ map[string]types.AttributeValue) { rec[attrKMSARN] = s(keyB) }, true},
		{"kms-arn missing", false, func(rec, _ map[string]types.AttributeValue) { delete(rec, attrKMSARN) }, true},
		{"an attribute DB-ESDK does not write", false, func(rec, _ map[string]types.AttributeValue) { rec["owner"] = s("mallory") }, true},
		{"a tablename attribute", false, func(rec, _ map[string]types.AttributeValue) { rec[contextTable] = s("other-store") }, true},
		{"hierarchy-version 2", false, func(rec, _ map[string]types.AttributeValue) {
			rec[attrHierarchy] = &types.AttributeValueMemberN{Value: "2"}
		}, true},
		{"hierarchy-version a string", false, func(rec, _ map[string]types.AttributeValue) { rec[attrHierarchy] = s("1") }, true},
		{"enc a string", false, func(rec, _ map[string]types.AttributeValue) { rec[attrEnc] = s("AAAA") }, true},
		{"enc longer than KMS makes", false, func(rec, _ map[string]types.AttributeValue) {
			rec[attrEnc] = &types.AttributeValueMemberB{Value: make([]byte, 6145)}
		}, true},
		{"create-time not a time", false, func(rec, _ map[string]types.AttributeValue) { rec[attrCreateTime] = s("yesterday") }, true},
		{"a version attribute in a version record", false, func(rec, other map[string]types.AttributeValue) { rec[attrVersion] = other[attrType] }, true},
		{"create-time moved", false, func(rec, _ map[string]types.AttributeValue) { rec[attrCreateTime] = s("2020-01-01T00:00:00.000000Z") }, false},
		{"custom encryption context changed", false, func(rec, _ map[string]types.AttributeValue) { rec[CustomContextPrefix+"department"] = s("finance") }, false},
		{"custom encryption context removed", false, func(rec, _ map[string]types.AttributeValue) { delete(rec, CustomContextPrefix+"department") }, false},
		{"enc of another version", false, func(rec, other map[string]types.AttributeValue) { rec[attrEnc] = other[attrEnc] }, false},
		{"branch:ACTIVE naming another version", true, func(rec, other map[string]types.AttributeValue) { rec[attrVersion] = other[attrType] }, false},
		{"branch:ACTIVE naming no UUID", true, func(rec, _ map[string]types.AttributeValue) { rec[attrVersion] = s("branch:version:1") }, true},
		{"branch:ACTIVE without a version", true, func(rec, _ map[string]types.AttributeValue) { delete(rec, attrVersion) }, true},
		{"branch:ACTIVE of another key store's KMS key", true, func(rec, _ map[string]types.AttributeValue) { rec[attrKMSARN] = s(keyB) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			id := r.create("", map[string]string{"department": "admin"})
			first := activeVersion(t, r, id)
			item := encryptAll(t, encryptor(t, r.hierarchical(id), suite.SymSig, testActions), 1, "")[0]
			otherVersion := r.rotate(id)
			typ := versionType(first)
			if c.active {
				typ = typeActive
			}
			// The other record: the second version's, or for branch:ACTIVE
			// (which names the second version) the first version's.
			rec, other := r.record(id, typ), r.record(id, versionType(otherVersion))
			if c.active {
				other = r.record(id, versionType(first))
			}
			c.edit(rec, other)
			r.putRecord(rec)

			e := encryptor(t, r.hierarchical(id), suite.SymSig, testActions)
			use := func() error {
				if c.active {
					_, err := e.EncryptItem(context.Background(), variedItem(1, ""))
					return err
				}
				_, err := e.DecryptItem(context.Background(), item)
				return err
			}
			_, k0 := r.counts()
			err := use()
			_, k := r.since(0, k0)
			switch {
			case !isIntegrity(err):
				t.Fatalf("%v, want ErrIntegrity", err)
			case c.local && (k != 0 || !errors.Is(err, ErrInvalidRecord)):
				t.Errorf("%v after %d KMS requests, want ErrInvalidRecord and none", err, k)
			case !c.local && k != 1:
				t.Errorf("%v after %d KMS requests, want 1", err, k)
			}
			g0, k0 := r.counts()
			if err := use(); !isIntegrity(err) {
				t.Fatalf("again: %v, want ErrIntegrity", err)
			}
			if g, k := r.since(g0, k0); g != 0 || k != 0 {
				t.Errorf("again within the failure TTL: %d GetItem and %d KMS requests, want none", g, k)
			}
		})
	}
}

// TestKeyStoreCreateRefusesExisting: Create never overwrites a branch key,
// and says so before any KMS request.
func TestKeyStoreCreateRefusesExisting(t *testing.T) {
	r := newRig(t)
	r.create("fleet", nil)
	_, k0 := r.counts()
	if _, err := r.ks.Create(context.Background(), "fleet", nil); !errors.Is(err, ErrBranchKeyExists) || !errors.Is(err, dynacrypt.ErrExists) {
		t.Errorf("Create of an existing id: %v, want ErrBranchKeyExists", err)
	}
	if _, k := r.since(0, k0); k != 0 {
		t.Errorf("%d KMS requests, want none", k)
	}
	if _, err := r.ks.Rotate(context.Background(), "never-created"); !errors.Is(err, ErrBranchKeyNotFound) {
		t.Errorf("Rotate of an id never created: %v, want ErrBranchKeyNotFound", err)
	}
}

// rivalDB runs a rival once, just before the first conditional replace of
// a branch:ACTIVE record.
type rivalDB struct {
	*countingDB
	rival func()
}

func (d *rivalDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if rival := d.rival; rival != nil && in.ExpressionAttributeValues[":old"] != nil {
		d.rival = nil
		rival()
	}
	return d.countingDB.PutItem(ctx, in, opts...)
}

// TestKeyStoreRotateConflict: of two rotations racing, the one that finds
// branch:ACTIVE replaced since it read it fails with ErrRotateConflict and
// leaves no version behind; the winner's version is active.
func TestKeyStoreRotateConflict(t *testing.T) {
	r := newRig(t)
	id := r.create("", nil)
	var winner string
	db := &rivalDB{countingDB: r.db, rival: func() { winner = r.rotate(id) }}
	ks, err := NewKeyStore(db, r.table, logicalName, r.kms, keyA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ks.Rotate(context.Background(), id)
	if !errors.Is(err, ErrRotateConflict) || !errors.Is(err, dynacrypt.ErrConflict) {
		t.Fatalf("the losing rotation: %v, want ErrRotateConflict", err)
	}
	if got := activeVersion(t, r, id); got != winner {
		t.Errorf("branch:ACTIVE names %s, want the winner's %s", got, winner)
	}
	out, err := r.raw.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 &r.table,
		KeyConditionExpression:    aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#id": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 4 { // two versions, branch:ACTIVE, beacon:ACTIVE
		t.Errorf("%d records, want 4: the loser's version must be removed", len(out.Items))
	}
}

// TestNewKeyStoreRefusesBadConfig: a key store needs clients, names and a
// KMS key ARN, as DB-ESDK's does.
func TestNewKeyStoreRefusesBadConfig(t *testing.T) {
	r := newRig(t)
	for name, make := range map[string]func() (*KeyStore, error){
		"no DB":         func() (*KeyStore, error) { return NewKeyStore(nil, "t", "l", r.kms, keyA) },
		"nil DB":        func() (*KeyStore, error) { return NewKeyStore((*dynamodb.Client)(nil), "t", "l", r.kms, keyA) },
		"no KMS":        func() (*KeyStore, error) { return NewKeyStore(r.db, "t", "l", nil, keyA) },
		"no table":      func() (*KeyStore, error) { return NewKeyStore(r.db, "", "l", r.kms, keyA) },
		"no logical":    func() (*KeyStore, error) { return NewKeyStore(r.db, "t", "", r.kms, keyA) },
		"an alias":      func() (*KeyStore, error) { return NewKeyStore(r.db, "t", "l", r.kms, testrig.KeyA) },
		"a bare key ID": func() (*KeyStore, error) { return NewKeyStore(r.db, "t", "l", r.kms, testrig.KeyAID) },
	} {
		if _, err := make(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestKeyStoreVersions: Versions lists a branch key's versions oldest
// first, the active one marked, with no KMS request (DB-ESDK's own branch
// keys: TestHierarchicalOracleKeyStore); a record not as DB-ESDK writes it,
// or a branch:ACTIVE record naming a version without one, is refused, and
// a branch key without records is not found.
func TestKeyStoreVersions(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	id := r.create("", nil)
	made := []string{activeVersion(t, r, id), r.rotate(id), r.rotate(id)}
	_, kms0 := r.counts()
	vs, err := r.ks.Versions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, n := r.since(0, kms0); n != 0 {
		t.Errorf("Versions made %d KMS requests", n)
	}
	if len(vs) != len(made) {
		t.Fatalf("Versions: %+v, want %d versions", vs, len(made))
	}
	for i, v := range vs {
		if v.Version != made[i] || v.Active != (i == len(made)-1) || (i > 0 && !v.CreateTime.After(vs[i-1].CreateTime)) {
			t.Errorf("version %d: %+v, want %s (active: %t), after the one before", i, v, made[i], i == len(made)-1)
		}
	}

	if _, err := r.ks.Versions(ctx, "never-made"); !errors.Is(err, ErrBranchKeyNotFound) {
		t.Errorf("Versions of a branch key without records: %v, want ErrBranchKeyNotFound", err)
	}
	rec := r.record(id, versionType(made[1]))
	rec["owner"] = &types.AttributeValueMemberS{Value: "mallory"}
	r.putRecord(rec)
	if _, err := r.ks.Versions(ctx, id); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Versions with a record DB-ESDK does not write: %v, want ErrInvalidRecord", err)
	}
	r.removeRecord(id, versionType(made[1]))
	r.removeRecord(id, versionType(made[2]))
	if _, err := r.ks.Versions(ctx, id); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Versions with branch:ACTIVE naming a version without a record: %v, want ErrInvalidRecord", err)
	}
}
