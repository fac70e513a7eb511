package dbesdk

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/export"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// interopItems returns how many items each oracle round trip moves each
// way: 200, or 50 under -short.
func interopItems() int {
	if testing.Short() {
		return 50
	}
	return 200
}

// roundTripWithOracle checks both directions between DB-ESDK (the oracle,
// configured by cfg) and our encryptor e: what either encrypts, the other
// decrypts to the plaintext. It returns what each encrypted.
func roundTripWithOracle(t *testing.T, o *testrig.Oracle, cfg testrig.OracleConfig, e *structure.Encryptor, tenant string) (theirs, ours []map[string]types.AttributeValue) {
	t.Helper()
	ctx := context.Background()
	items := make([]map[string]types.AttributeValue, interopItems())
	for i := range items {
		items[i] = variedItem(i, tenant)
	}
	theirs = o.EncryptAll(t, cfg, items)
	if len(theirs) != len(items) {
		t.Fatalf("the oracle encrypted %d items of %d", len(theirs), len(items))
	}
	for i, enc := range theirs {
		dec, err := e.DecryptItem(ctx, enc)
		if err != nil {
			t.Fatalf("item %d that DB-ESDK encrypted: %v", i, err)
		}
		sameItem(t, fmt.Sprintf("item %d that DB-ESDK encrypted", i), dec, items[i])
	}
	ours = make([]map[string]types.AttributeValue, len(items))
	for i, item := range items {
		var err error
		if ours[i], err = e.EncryptItem(ctx, item); err != nil {
			t.Fatal(err)
		}
	}
	back := o.DecryptAll(t, cfg, ours)
	if len(back) != len(items) {
		t.Fatalf("the oracle decrypted %d items of %d", len(back), len(items))
	}
	for i := range back {
		sameItem(t, fmt.Sprintf("item %d that we encrypted, as DB-ESDK decrypted it", i), back[i], items[i])
	}
	t.Logf("%d items DB-ESDK encrypted read here, %d items written here read by DB-ESDK, 0 failures", len(theirs), len(back))
	return theirs, ours
}

// TestHierarchicalOracleKeyStore: a key store and branch key that DB-ESDK
// created serve our hierarchical keyring: items DB-ESDK encrypts under the
// branch key decrypt with ours, and the reverse, in both suites.
func TestHierarchicalOracleKeyStore(t *testing.T) {
	o := testrig.NewOracle(t)
	r := newRig(t)
	id := o.KeyStoreCreate(t, testConfig(suite.SymSig, testActions, testrig.OracleHierarchy(r.table, logicalName, keyA, "")))
	for _, typ := range []string{typeActive, typeBeacon} {
		b, _ := export.AppendValue(nil, &types.AttributeValueMemberM{Value: r.record(id, typ)})
		t.Logf("%s: %s", typ, b)
	}
	if vs, err := r.ks.Versions(context.Background(), id); err != nil || len(vs) != 1 || !vs[0].Active || vs[0].Version != activeVersion(t, r, id) {
		t.Errorf("Versions of the branch key DB-ESDK made: %+v, %v", vs, err)
	}
	kr := r.hierarchical(id)
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			cfg := testConfig(s.id, testActions, testrig.OracleHierarchy(r.table, logicalName, keyA, id))
			roundTripWithOracle(t, o, cfg, encryptor(t, kr, s.id, testActions), "")
		})
	}
}

// TestHierarchicalOracleUsesOurBranchKeys: a branch key our KeyStore
// creates (with a custom encryption context) serves DB-ESDK both ways, and
// once we rotate it, DB-ESDK wraps under the new version, which we read,
// while items under the first version still read on both sides.
func TestHierarchicalOracleUsesOurBranchKeys(t *testing.T) {
	o := testrig.NewOracle(t)
	r := newRig(t)
	id := r.create("", map[string]string{"department": "admin"})
	first := activeVersion(t, r, id)
	var before [][]map[string]types.AttributeValue
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			cfg := testConfig(s.id, testActions, testrig.OracleHierarchy(r.table, logicalName, keyA, id))
			theirs, ours := roundTripWithOracle(t, o, cfg, encryptor(t, r.hierarchical(id), s.id, testActions), "")
			checkVersion(t, "DB-ESDK", theirs, id, first)
			checkVersion(t, "our keyring", ours, id, first)
			before = append(before, theirs, ours)
		})
	}
	second := r.rotate(id)
	if second == first || activeVersion(t, r, id) != second {
		t.Fatalf("rotated to %s from %s, branch:ACTIVE names %s", second, first, activeVersion(t, r, id))
	}
	for _, s := range suites {
		t.Run("rotated/"+s.name, func(t *testing.T) {
			cfg := testConfig(s.id, testActions, testrig.OracleHierarchy(r.table, logicalName, keyA, id))
			e := encryptor(t, r.hierarchical(id), s.id, testActions)
			theirs, ours := roundTripWithOracle(t, o, cfg, e, "")
			checkVersion(t, "DB-ESDK after the rotation", theirs, id, second)
			checkVersion(t, "our keyring after the rotation", ours, id, second)
			for _, items := range before {
				o.DecryptAll(t, cfg, items[:10])
				for _, item := range items[:10] {
					if _, err := e.DecryptItem(context.Background(), item); err != nil {
						t.Fatalf("an item under the first version, after the rotation: %v", err)
					}
				}
			}
		})
	}
}

// checkVersion fails the test unless every item's EDK names the branch key
// version.
func checkVersion(t *testing.T, who string, items []map[string]types.AttributeValue, id, version string) {
	t.Helper()
	for i, item := range items {
		edks := headerEDKs(t, item)
		named, err := keywrap.ParseHierarchyEDK(edks[0])
		if err != nil || len(edks) != 1 || named.BranchKeyID != id || named.Version != version {
			t.Fatalf("%s wrapped item %d under %+v (%v), want branch key %q version %s", who, i, named, err, id, version)
		}
	}
}

// activeVersion returns the version the branch:ACTIVE record names.
func activeVersion(t *testing.T, r *rig, id string) string {
	t.Helper()
	v := r.record(id, typeActive)[attrVersion].(*types.AttributeValueMemberS).Value
	return strings.TrimPrefix(v, typeVersionPrefix)
}

// TestKeyStoreWritesDBESDKRecords: the records our KeyStore writes have the
// attributes, types and formats of those DB-ESDK writes.
func TestKeyStoreWritesDBESDKRecords(t *testing.T) {
	o := testrig.NewOracle(t)
	r := newRig(t)
	theirs := o.KeyStoreCreate(t, testConfig(suite.SymSig, testActions, testrig.OracleHierarchy(r.table, logicalName, keyA, "")))
	ours := r.create("", nil)
	if !isUUID(ours) {
		t.Errorf("branch key id %q is not a UUID, as DB-ESDK makes them", ours)
	}
	shape := func(item map[string]types.AttributeValue) map[string]string {
		s := make(map[string]string, len(item))
		for name, av := range item {
			s[name] = fmt.Sprintf("%T", av)
		}
		return s
	}
	timeFormat := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	versionFormat := regexp.MustCompile(`^branch:version:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, typ := range []string{typeActive, typeBeacon, versionType(activeVersion(t, r, ours))} {
		theirType := typ
		if typ != typeActive && typ != typeBeacon {
			theirType = versionType(activeVersion(t, r, theirs))
		}
		want := r.record(theirs, theirType)
		got := r.record(ours, typ)
		if !maps.Equal(shape(got), shape(want)) {
			t.Errorf("%s: our record has attributes %v, DB-ESDK's %v", typ, shape(got), shape(want))
		}
		if ct := got[attrCreateTime].(*types.AttributeValueMemberS).Value; !timeFormat.MatchString(ct) {
			t.Errorf("%s: create-time %q", typ, ct)
		}
		for _, name := range []string{attrKMSARN, attrHierarchy} {
			if !reflect.DeepEqual(got[name], want[name]) {
				t.Errorf("%s: %s is %v, DB-ESDK's %v", typ, name, got[name], want[name])
			}
		}
	}
	if v := r.record(ours, typeActive)[attrVersion].(*types.AttributeValueMemberS).Value; !versionFormat.MatchString(v) {
		t.Errorf("branch:ACTIVE names %q, not a version 4 UUID", v)
	}
}
