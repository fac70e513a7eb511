package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// put writes a record as given, as an attacker with write access would.
func (r *rig) put(item map[string]types.AttributeValue) {
	r.t.Helper()
	if _, err := r.raw.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.table, Item: item}); err != nil {
		r.t.Fatal(err)
	}
}

// clone copies an item deeply enough to alter its top-level attributes.
func clone(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		if b, ok := v.(*types.AttributeValueMemberB); ok {
			v = &types.AttributeValueMemberB{Value: bytes.Clone(b.Value)}
		}
		out[k] = v
	}
	return out
}

// moved returns a copy of a record under another key.
func moved(item map[string]types.AttributeValue, id, typ string) map[string]types.AttributeValue {
	c := clone(item)
	c["branch-key-id"], c["type"] = s(id), s(typ)
	return c
}

// forged is a version no Create or Rotate made.
const forged = "0123456789abcdef0123456789abcdef"

// The ways a refusal may come: before any KMS request, from the record
// alone (ErrInvalidRecord), or from KMS, which finds the encryption
// context built from the record not the one the material was wrapped
// under (InvalidCiphertextException).
const (
	beforeKMS = iota
	atKMS
)

// TestTampering: every alteration of the key store that an attacker with
// write access to the table can make is refused, before any KMS request
// where the record shows it, by KMS otherwise; no material of a tampered
// record is ever returned.
func TestTampering(t *testing.T) {
	type fixture struct {
		r          *rig
		v1, v2     string // versions of "acme"; v2 is active
		o1         string // version of "other"
		otherStore string // version of "acme" in a key store of another logical name
		otherTable string
	}
	setup := func(t *testing.T) *fixture {
		r := newRig(t)
		f := &fixture{r: r, v1: r.create("acme")}
		f.v2 = r.rotate("acme")
		f.o1 = r.create("other")
		f.otherTable = dynacrypttest.NewTable(t, r.raw, dynacrypttest.Table{
			PartitionKey: dynacrypttest.S("branch-key-id"), SortKey: dynacrypttest.S("type")})
		ks2, err := keystore.New(r.db, f.otherTable, "another-store", r.kms, testrig.KeyA)
		if err != nil {
			t.Fatal(err)
		}
		if f.otherStore, err = ks2.Create(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
		return f
	}
	version := func(v string) string { return "branch:version:" + v }
	readVersion := func(id, v string) func(*rig) (any, error) {
		return func(r *rig) (any, error) { return r.ks.BranchKeyVersion(context.Background(), id, v) }
	}
	readActive := func(id string) func(*rig) (any, error) {
		return func(r *rig) (any, error) { return r.ks.ActiveBranchKey(context.Background(), id) }
	}
	readBeacon := func(id string) func(*rig) (any, error) {
		return func(r *rig) (any, error) { return r.ks.BeaconKey(context.Background(), id) }
	}

	cases := []struct {
		name   string
		tamper func(*fixture)
		read   func(*fixture) func(*rig) (any, error)
		how    int
	}{
		{"enc swapped between versions", func(f *fixture) {
			rec := f.r.record("acme", version(f.v1))
			rec["enc"] = f.r.record("acme", version(f.v2))["enc"]
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.v1) }, atKMS},
		{"enc swapped between ids", func(f *fixture) {
			rec := f.r.record("other", version(f.o1))
			rec["enc"] = f.r.record("acme", version(f.v1))["enc"]
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("other", f.o1) }, atKMS},
		{"enc swapped between key stores", func(f *fixture) {
			rec := f.r.record("acme", version(f.v1))
			rec["enc"] = otherRecord(f.r, f.otherTable, "acme", version(f.otherStore))["enc"]
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.v1) }, atKMS},
		{"record copied from another key store", func(f *fixture) {
			f.r.put(otherRecord(f.r, f.otherTable, "acme", version(f.otherStore)))
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.otherStore) }, atKMS},
		{"type edited (version attribute left)", func(f *fixture) {
			f.r.put(moved(f.r.record("acme", version(f.v1)), "acme", version(forged)))
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", forged) }, beforeKMS},
		{"type and version edited", func(f *fixture) {
			rec := moved(f.r.record("acme", version(f.v1)), "acme", version(forged))
			rec["version"] = s(forged)
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", forged) }, atKMS},
		{"beacon record made a version", func(f *fixture) {
			rec := moved(f.r.record("acme", "beacon:ACTIVE"), "acme", version(forged))
			rec["version"] = s(forged)
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", forged) }, atKMS},
		{"version record made the beacon (version left)", func(f *fixture) {
			f.r.put(moved(f.r.record("acme", version(f.v1)), "acme", "beacon:ACTIVE"))
		}, func(f *fixture) func(*rig) (any, error) { return readBeacon("acme") }, beforeKMS},
		{"version record made the beacon", func(f *fixture) {
			rec := moved(f.r.record("acme", version(f.v1)), "acme", "beacon:ACTIVE")
			delete(rec, "version")
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readBeacon("acme") }, atKMS},
		{"ACTIVE names a version whose record differs", func(f *fixture) {
			rec := f.r.record("acme", "branch:ACTIVE")
			rec["version"] = s(f.v1) // enc and create-time of v2
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readActive("acme") }, beforeKMS},
		{"ACTIVE holds another version's enc", func(f *fixture) {
			rec := f.r.record("acme", "branch:ACTIVE")
			rec["enc"] = f.r.record("acme", version(f.v1))["enc"]
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readActive("acme") }, beforeKMS},
		{"ACTIVE names a version with no record", func(f *fixture) {
			rec := f.r.record("acme", "branch:ACTIVE")
			rec["version"] = s(forged)
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readActive("acme") }, beforeKMS},
		{"version record copied to another id", func(f *fixture) {
			f.r.put(moved(f.r.record("acme", version(f.v1)), "other", version(f.v1)))
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("other", f.v1) }, atKMS},
		{"ACTIVE and its version copied to another id", func(f *fixture) {
			f.r.put(moved(f.r.record("acme", version(f.v2)), "other", version(f.v2)))
			f.r.put(moved(f.r.record("acme", "branch:ACTIVE"), "other", "branch:ACTIVE"))
		}, func(f *fixture) func(*rig) (any, error) { return readActive("other") }, atKMS},
		{"create-time edited", func(f *fixture) {
			rec := f.r.record("acme", version(f.v1))
			rec["create-time"] = s("2020-01-01T00:00:00.000000Z")
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.v1) }, atKMS},
		{"kms-arn names another key", func(f *fixture) {
			rec := f.r.record("acme", version(f.v1))
			rec["kms-arn"] = s(testrig.KeyARN(testrig.KeyBID))
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.v1) }, beforeKMS},
		{"hierarchy-version edited", func(f *fixture) {
			rec := f.r.record("acme", version(f.v1))
			rec["hierarchy-version"] = &types.AttributeValueMemberN{Value: "2"}
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.v1) }, beforeKMS},
		{"enc removed", func(f *fixture) {
			rec := f.r.record("acme", version(f.v1))
			delete(rec, "enc")
			f.r.put(rec)
		}, func(f *fixture) func(*rig) (any, error) { return readVersion("acme", f.v1) }, beforeKMS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			read := tc.read(f)
			tc.tamper(f)
			_, k0 := f.r.counts()
			got, err := read(f.r)
			_, kmsN := f.r.since(0, k0)
			t.Logf("%v (%d KMS requests)", err, kmsN)
			if !errors.Is(err, dynacrypt.ErrIntegrity) || !isNil(got) {
				t.Fatalf("tampered record read: %v, %v; want an ErrIntegrity and nothing", got, err)
			}
			var invalid *kmstypes.InvalidCiphertextException
			switch tc.how {
			case beforeKMS:
				if !errors.Is(err, keystore.ErrInvalidRecord) || kmsN != 0 {
					t.Errorf("want ErrInvalidRecord before any KMS request; got %d KMS requests", kmsN)
				}
			case atKMS:
				if !errors.As(err, &invalid) || kmsN != 1 {
					t.Errorf("want KMS's InvalidCiphertextException from 1 request; got %d requests", kmsN)
				}
			}
		})
	}
}

func isNil(v any) bool {
	switch k := v.(type) {
	case *keystore.BranchKey:
		return k == nil
	case *keystore.BeaconKey:
		return k == nil
	}
	return v == nil
}

// otherRecord reads a record of another key store table.
func otherRecord(r *rig, table, id, typ string) map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &table, Key: recordKey(id, typ), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		r.t.Fatalf("record %s of %s in %s: %v", typ, id, table, err)
	}
	return out.Item
}

// TestTamperedKMSARNUnresolved: a key store configured by an alias it has
// not resolved yet cannot tell before KMS that a record's kms-arn is not its
// key; KMS's answer tells, and the material is not used.
func TestTamperedKMSARNUnresolved(t *testing.T) {
	r := newRig(t)
	v := r.create("acme")
	rec := r.record("acme", "branch:version:"+v)
	rec["kms-arn"] = s(testrig.KeyARN(testrig.KeyBID))
	r.put(rec)
	fresh := r.keyStore(logicalName, r.kms, testrig.KeyA)
	_, k0 := r.counts()
	k, err := fresh.BranchKeyVersion(context.Background(), "acme", v)
	_, kmsN := r.since(0, k0)
	if k != nil || !errors.Is(err, keystore.ErrInvalidRecord) || kmsN != 1 {
		t.Errorf("kms-arn edited, alias unresolved: %v, %v, %d KMS requests; want ErrInvalidRecord after 1", k, err, kmsN)
	}
	// Now resolved, the next read is refused before KMS.
	_, k0 = r.counts()
	_, err = fresh.BranchKeyVersion(context.Background(), "acme", v)
	if _, kmsN := r.since(0, k0); !errors.Is(err, keystore.ErrInvalidRecord) || kmsN != 0 {
		t.Errorf("second read: %v, %d KMS requests; want ErrInvalidRecord and none", err, kmsN)
	}
}

// TestTamperedWrappedRoot: an item whose wrapped root key names another
// branch key is refused with no request at all; one that names another
// version of the right branch key fetches it and does not open.
func TestTamperedWrappedRoot(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.usersTable()
	v1 := r.create("acme")
	r.create("acmf")
	if err := r.users(table, r.cipher("acme")).Put(ctx, &User{ID: "u1", Token: "secret"}); err != nil {
		t.Fatal(err)
	}
	item := r.itemOf(table, "u1")

	edit := func(old, new string) {
		t.Helper()
		c := clone(item)
		h := c[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB)
		if !bytes.Contains(h.Value, []byte(old)) {
			t.Fatalf("the header does not hold %q", old)
		}
		h.Value = bytes.Replace(h.Value, []byte(old), []byte(new), 1)
		if _, err := r.raw.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: c}); err != nil {
			t.Fatal(err)
		}
	}

	edit("acme", "acmf") // another branch key, which exists
	g0, k0 := r.counts()
	_, err := r.users(table, r.cipher("acme")).Get(ctx, User{ID: "u1"})
	gets, kmsN := r.since(g0, k0)
	t.Logf("branch id edited: %v (%d GetItem, %d KMS requests)", err, gets, kmsN)
	if !errors.Is(err, dynacrypt.ErrIntegrity) || gets != 0 || kmsN != 0 {
		t.Errorf("branch id edited: %v, %d GetItem, %d KMS requests; want ErrIntegrity and none", err, gets, kmsN)
	}

	v2 := r.rotate("acme")
	edit(v1, v2) // another version of the same branch key
	g0, k0 = r.counts()
	_, err = r.users(table, r.cipher("acme")).Get(ctx, User{ID: "u1"})
	gets, kmsN = r.since(g0, k0)
	t.Logf("version edited: %v (%d GetItem, %d KMS requests)", err, gets, kmsN)
	if !errors.Is(err, dynacrypt.ErrIntegrity) || errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("version edited: %v, want ErrIntegrity", err)
	}

	edit(v1, forged) // a version the branch key never had
	_, err = r.users(table, r.cipher("acme")).Get(ctx, User{ID: "u1"})
	if !errors.Is(err, dynacrypt.ErrIntegrity) || errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("version forged: %v, want ErrIntegrity (the branch key exists), not ErrBranchKeyNotFound", err)
	}

	edit("acme", "acmf")
	_, err = r.users(table, r.cipher("acmf")).Get(ctx, User{ID: "u1"})
	if !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("read by acmf's cipher: %v, want ErrIntegrity", err)
	}
}

// itemOf reads a stored item as it is.
func (r *rig) itemOf(table, id string) map[string]types.AttributeValue {
	r.t.Helper()
	out, err := r.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: &table, Key: map[string]types.AttributeValue{"id": s(id)}, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		r.t.Fatalf("item %s: %v", id, err)
	}
	return out.Item
}

// TestTamperedBeaconRecordRefusalRemembered: someone who writes the key
// store edits the create-time of a tenant's beacon:ACTIVE record, a change
// only KMS can see. Every Lookup probe an API client sends for that tenant,
// and every write, needs the tenant's beacon key; if each cost a failing
// KMS Decrypt, a stream of probes would throttle the cold reads of every
// tenant (KMS quotas are per account and region). The refusal
// (ErrIntegrity) is remembered, so 20 probes and 20 writes cost at most 2
// KMS requests each.
func TestTamperedBeaconRecordRefusalRemembered(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	table := r.accountsTable()
	r.create("acme")
	svc := r.accounts(table, r.cipher(""), nil) // the tenant's BeaconKey, as WithTenantBeaconKeys advises

	rec := r.record("acme", "beacon:ACTIVE")
	rec["create-time"] = s("2020-01-01T00:00:00.000000Z")
	r.put(rec)

	const probes = 20
	_, k0 := r.counts()
	for i := range probes {
		for _, err := range svc.Lookup(ctx, Account{Tenant: "acme", Email: fmt.Sprintf("probe%d@example.com", i)}, "by-email") {
			if err == nil || !errors.Is(err, dynacrypt.ErrIntegrity) {
				t.Fatalf("probe %d: %v, want ErrIntegrity", i, err)
			}
			break
		}
	}
	_, kmsN := r.since(0, k0)
	t.Logf("%d lookups of a tenant with a tampered beacon record made %d KMS requests", probes, kmsN)
	if kmsN > 2 {
		t.Errorf("%d lookup probes made %d KMS Decrypt requests, want at most 2: the refusal was not remembered", probes, kmsN)
	}
	// Writes of the tenant too.
	_, k0 = r.counts()
	for i := range probes {
		if err := svc.Put(ctx, &Account{Tenant: "acme", ID: fmt.Sprint(i), Email: "a@b"}); err == nil {
			t.Fatal("a write with a tampered beacon key succeeded")
		}
	}
	if _, kmsN := r.since(0, k0); kmsN > 2 {
		t.Errorf("%d writes made %d KMS Decrypt requests, want at most 2: the refusal was not remembered", probes, kmsN)
	}
}
