package dynacrypttest_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/keystore"
)

var hexVersion = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestMemoryKeyStoreLifecycle: Create, Rotate and Delete answer as a
// KeyStore's do, and reads tell a version shredded from one never made and
// from a branch key never made.
func TestMemoryKeyStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	ks := dynacrypttest.NewMemoryKeyStore()
	v1, err := ks.Create(ctx, "tenant-a")
	if err != nil || !hexVersion.MatchString(v1) {
		t.Fatalf("Create: %q, %v", v1, err)
	}
	if _, err := ks.Create(ctx, "tenant-a"); !errors.Is(err, keystore.ErrBranchKeyExists) || !errors.Is(err, dynacrypt.ErrExists) {
		t.Errorf("Create of an existing id: %v; want ErrBranchKeyExists", err)
	}
	first, err := ks.ActiveBranchKey(ctx, "tenant-a")
	if err != nil || first.ID != "tenant-a" || first.Version != v1 || bytes.Equal(first.Key(), make([]byte, keystore.KeySize)) {
		t.Fatalf("ActiveBranchKey: %v, %v", first, err)
	}
	beacon, err := ks.BeaconKey(ctx, "tenant-a")
	if err != nil || beacon.ID != "tenant-a" || bytes.Equal(beacon.Key(), first.Key()) {
		t.Fatalf("BeaconKey: %v, %v (it must be a key of its own)", beacon, err)
	}

	v2, err := ks.Rotate(ctx, "tenant-a")
	if err != nil || v2 == v1 || !hexVersion.MatchString(v2) {
		t.Fatalf("Rotate: %q, %v", v2, err)
	}
	second, err := ks.ActiveBranchKey(ctx, "tenant-a")
	if err != nil || second.Version != v2 || !second.CreateTime.After(first.CreateTime) || bytes.Equal(second.Key(), first.Key()) {
		t.Fatalf("after Rotate, ActiveBranchKey: %v (created %v, the first %v), %v", second, second.CreateTime, first.CreateTime, err)
	}
	if old, err := ks.BranchKeyVersion(ctx, "tenant-a", v1); err != nil || !bytes.Equal(old.Key(), first.Key()) {
		t.Errorf("the rotated-away version: %v, %v; want it readable, unchanged", old, err)
	}
	if b, err := ks.BeaconKey(ctx, "tenant-a"); err != nil || !bytes.Equal(b.Key(), beacon.Key()) {
		t.Errorf("the beacon key changed with a rotation: %v", err)
	}
	_, err = ks.BranchKeyVersion(ctx, "tenant-a", "000102030405060708090a0b0c0d0e0f")
	if !errors.Is(err, dynacrypt.ErrIntegrity) || errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("a version the branch key never had: %v; want ErrIntegrity (forged), not ErrBranchKeyNotFound", err)
	}

	if err := ks.Delete(ctx, "tenant-a"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{v1, v2} {
		if _, err := ks.BranchKeyVersion(ctx, "tenant-a", v); !errors.Is(err, keystore.ErrBranchKeyShredded) || !errors.Is(err, dynacrypt.ErrKeyGone) {
			t.Errorf("version %s after Delete: %v; want ErrBranchKeyShredded", v, err)
		}
	}
	for what, err := range map[string]error{
		"ActiveBranchKey":                errOf(ks.ActiveBranchKey(ctx, "tenant-a")),
		"BeaconKey":                      errOf(ks.BeaconKey(ctx, "tenant-a")),
		"Rotate":                         errOf(ks.Rotate(ctx, "tenant-a")),
		"Delete":                         ks.Delete(ctx, "tenant-a"),
		"BranchKeyVersion of another id": errOf(ks.BranchKeyVersion(ctx, "tenant-b", v1)),
	} {
		if !errors.Is(err, keystore.ErrBranchKeyNotFound) || errors.Is(err, keystore.ErrBranchKeyShredded) || errors.Is(err, dynacrypt.ErrIntegrity) {
			t.Errorf("%s after Delete: %v; want ErrBranchKeyNotFound alone", what, err)
		}
	}

	v3, err := ks.Create(ctx, "tenant-a")
	if err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	if _, err := ks.BranchKeyVersion(ctx, "tenant-a", v3); err != nil {
		t.Errorf("the new version: %v", err)
	}
	if _, err := ks.BranchKeyVersion(ctx, "tenant-a", v1); !errors.Is(err, keystore.ErrBranchKeyShredded) {
		t.Errorf("a version of the deleted key, once the id is created again: %v; want ErrBranchKeyShredded", err)
	}
}

// errOf returns the error of a call that returns a value and an error.
func errOf[T any](_ T, err error) error { return err }

// TestMemoryKeyStoreRefuses: a cancelled context and ids the key store
// could not hold fail, leaving nothing made.
func TestMemoryKeyStoreRefuses(t *testing.T) {
	ks := dynacrypttest.NewMemoryKeyStore()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ks.Create(cancelled, "tenant-a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a cancelled context: %v", err)
	}
	if _, err := ks.Create(context.Background(), ""); err == nil {
		t.Errorf("Create of the empty id: no error")
	}
	for _, id := range []string{"tenant-a", ""} {
		if _, err := ks.ActiveBranchKey(context.Background(), id); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
			t.Errorf("id %q after failed Creates: %v; want ErrBranchKeyNotFound", id, err)
		}
	}
}

// Account is an item of a table shared by tenants, with a beacon.
type Account struct {
	Tenant string `dynamodbav:"tenant"`
	ID     string `dynamodbav:"id"`
	Email  string `dynamodbav:"email" encrypt:"kms,beacon=16"`
	Token  string `dynamodbav:"token" encrypt:"kms"`
}

// accounts opens a tenant Store of accounts over the branch keys of src
// (tenant t's is "tenant-t"). It makes no request: the test marshals
// items as the Store would write them.
func accounts(t *testing.T, src keystore.BranchKeySource) *dynacrypt.Store[Account] {
	t.Helper()
	cipher, err := keystore.NewCipher(src, "accounts-service", keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("tenant-")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := dynacrypt.New[Account](dynamodb.New(dynamodb.Options{Region: "us-east-1"}), "accounts",
		dynacrypt.WithPartitionKey("tenant"), dynacrypt.WithSortKey("id"),
		dynacrypt.WithTenantAttribute("tenant"), dynacrypt.WithCipher(cipher),
		dynacrypt.WithTenantBeaconKeys(cipher.TenantBeaconKey))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMemoryKeyStoreServesTenants: a tenant Store over a keystore.Cipher
// over the memory key store writes each tenant's items under its own
// branch key and beacon key; shredding one tenant's key leaves its items
// unreadable, the other tenant's readable; another memory key store, with
// the same ids but its own random material, reads nothing.
func TestMemoryKeyStoreServesTenants(t *testing.T) {
	ctx := context.Background()
	ks := dynacrypttest.NewMemoryKeyStore()
	for _, id := range []string{"tenant-acme", "tenant-globex"} {
		if _, err := ks.Create(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	writer := accounts(t, ks)
	stored := map[string]map[string]types.AttributeValue{}
	for _, tenant := range []string{"acme", "globex"} {
		av, err := writer.MarshalItem(ctx, &Account{Tenant: tenant, ID: "1", Email: "ana@example.com", Token: tenant + " token"})
		if err != nil {
			t.Fatal(err)
		}
		stored[tenant] = av
	}
	beacon := dynacrypt.BeaconAttribute("email")
	if a, g := stored["acme"][beacon], stored["globex"][beacon]; a == nil || reflect.DeepEqual(a, g) {
		t.Errorf("the same e-mail's beacons under two tenants: %v and %v; want two", a, g)
	}

	if err := ks.Delete(ctx, "tenant-acme"); err != nil {
		t.Fatal(err)
	}
	reader := accounts(t, ks) // a process that starts after the shredding
	_, err := reader.UnmarshalItem(ctx, stored["acme"])
	if !errors.Is(err, keystore.ErrBranchKeyShredded) || !errors.Is(err, dynacrypt.ErrKeyGone) {
		t.Errorf("acme's item after its key was shredded: %v; want ErrBranchKeyShredded", err)
	}
	if a, err := reader.UnmarshalItem(ctx, stored["globex"]); err != nil || a.Token != "globex token" {
		t.Errorf("globex's item after acme's key was shredded: %+v, %v", a, err)
	}

	other := dynacrypttest.NewMemoryKeyStore()
	if _, err := other.Create(ctx, "tenant-globex"); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts(t, other).UnmarshalItem(ctx, stored["globex"]); !errors.Is(err, dynacrypt.ErrIntegrity) {
		t.Errorf("globex's item read with another memory key store's key: %v; want ErrIntegrity", err)
	}
}

// TestMemoryKeyStoreConcurrent: rotations and reads from many goroutines
// (run with -race) leave one active version, readable with all the others.
func TestMemoryKeyStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	ks := dynacrypttest.NewMemoryKeyStore()
	if _, err := ks.Create(ctx, "fleet"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	versions := make([]string, 8)
	for i := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := ks.Rotate(ctx, "fleet")
			if err != nil {
				t.Error(err)
			}
			versions[i] = v
			if _, err := ks.ActiveBranchKey(ctx, "fleet"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	active, err := ks.ActiveBranchKey(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	latest := active.CreateTime
	for _, v := range versions {
		k, err := ks.BranchKeyVersion(ctx, "fleet", v)
		if err != nil {
			t.Fatalf("version %s: %v", v, err)
		}
		if k.CreateTime.After(latest) {
			t.Errorf("version %s was created after the active one", v)
		}
	}
}
