package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dynacrypttest"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// TestCreateTable makes the table as documented: branch-key-id and type,
// both strings.
func TestCreateTable(t *testing.T) {
	db := dynacrypttest.DynamoDB(t)
	client, _ := testrig.KMS(t)
	table := "keystore-create-table-" + time.Now().Format("150405.000000")
	ks, err := keystore.New(db, table, logicalName, client, testrig.KeyA)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ks.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table}) })
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, k := range out.Table.KeySchema {
		keys[aws.ToString(k.AttributeName)] = string(k.KeyType)
	}
	if keys["branch-key-id"] != "HASH" || keys["type"] != "RANGE" || len(keys) != 2 {
		t.Errorf("key schema %v", keys)
	}
	if _, err := ks.Create(ctx, "fleet"); err != nil {
		t.Fatal(err)
	}
}

// TestCreate: the three records as FORMAT.md §11 lists them, material that
// unwraps, and a second Create of the id refused before any KMS request.
func TestCreate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	g0, k0 := r.counts()
	v := r.create("fleet")
	gets, kmsN := r.since(g0, k0)
	t.Logf("Create: %d GetItem, %d KMS requests (two Encrypts: the version and the beacon key)", gets, kmsN)
	if kmsN != 2 {
		t.Errorf("Create made %d KMS requests, want 2", kmsN)
	}

	version := r.record("fleet", "branch:version:"+v)
	active := r.record("fleet", "branch:ACTIVE")
	beacon := r.record("fleet", "beacon:ACTIVE")
	for name, item := range map[string]map[string]types.AttributeValue{"version": version, "active": active, "beacon": beacon} {
		if h, ok := item["hierarchy-version"].(*types.AttributeValueMemberN); !ok || h.Value != "1" {
			t.Errorf("%s record: hierarchy-version %v", name, item["hierarchy-version"])
		}
		if arn := item["kms-arn"].(*types.AttributeValueMemberS).Value; arn != testrig.KeyARN(testrig.KeyAID) {
			t.Errorf("%s record: kms-arn %s, want %s", name, arn, testrig.KeyARN(testrig.KeyAID))
		}
		if _, err := time.Parse(time.RFC3339, item["create-time"].(*types.AttributeValueMemberS).Value); err != nil {
			t.Errorf("%s record: create-time: %v", name, err)
		}
		if _, ok := item["enc"].(*types.AttributeValueMemberB); !ok {
			t.Errorf("%s record: enc is not binary", name)
		}
	}
	if got := active["version"].(*types.AttributeValueMemberS).Value; got != v {
		t.Errorf("ACTIVE names version %s, want %s", got, v)
	}
	if !bytes.Equal(active["enc"].(*types.AttributeValueMemberB).Value, version["enc"].(*types.AttributeValueMemberB).Value) {
		t.Error("ACTIVE does not hold the version's material")
	}
	if _, ok := beacon["version"]; ok {
		t.Error("the beacon record has a version")
	}

	bk, err := r.ks.ActiveBranchKey(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	same, err := r.ks.BranchKeyVersion(ctx, "fleet", v)
	if err != nil {
		t.Fatal(err)
	}
	beaconKey, err := r.ks.BeaconKey(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	if bk.Version != v || !bytes.Equal(bk.Key(), same.Key()) || len(bk.Key()) != 32 {
		t.Error("the active branch key is not its version")
	}
	if bytes.Equal(bk.Key(), beaconKey.Key()) || bytes.Equal(bk.Key(), make([]byte, 32)) {
		t.Error("branch key and beacon key are equal, or zero")
	}

	g0, k0 = r.counts()
	_, err = r.ks.Create(ctx, "fleet")
	gets, kmsN = r.since(g0, k0)
	if !errors.Is(err, keystore.ErrBranchKeyExists) || !errors.Is(err, dynacrypt.ErrExists) || kmsN != 0 {
		t.Errorf("second Create: %v, %d KMS requests; want ErrBranchKeyExists (and dynacrypt.ErrExists) and none", err, kmsN)
	}
	t.Logf("second Create: %v (%d GetItem, %d KMS requests)", err, gets, kmsN)
	if n := r.recordCount("fleet"); n != 3 {
		t.Errorf("%d records after a refused Create, want 3", n)
	}
	if _, err := r.ks.Create(ctx, ""); err == nil {
		t.Error("Create of an empty id succeeded")
	}
}

// TestCreateHalfMade: an id whose Create stopped after its beacon record
// (no ACTIVE) is reported as existing, and the second Create leaves no
// record of its own behind.
func TestCreateHalfMade(t *testing.T) {
	r := newRig(t)
	r.create("half")
	r.remove("half", "branch:ACTIVE")
	_, err := r.ks.Create(context.Background(), "half")
	if !errors.Is(err, keystore.ErrBranchKeyExists) || !errors.Is(err, dynacrypt.ErrExists) {
		t.Fatalf("Create over a half-made id: %v, want ErrBranchKeyExists (and dynacrypt.ErrExists)", err)
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Errorf("error does not wrap the condition failure: %v", err)
	}
	if n := r.recordCount("half"); n != 2 {
		t.Errorf("%d records, want the 2 of the first Create", n)
	}
}

// TestRotate: each rotation adds a version and makes it active; every
// version stays readable; the beacon key does not change.
func TestRotate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	versions := []string{r.create("fleet")}
	beacon, err := r.ks.BeaconKey(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		g0, k0 := r.counts()
		versions = append(versions, r.rotate("fleet"))
		if gets, kmsN := r.since(g0, k0); kmsN != 1 || gets != 1 {
			t.Errorf("Rotate: %d GetItem, %d KMS requests; want 1 and 1 (one Encrypt)", gets, kmsN)
		}
	}
	list, err := r.ks.Versions(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for i, v := range list {
		listed = append(listed, v.Version)
		if v.Active != (v.Version == versions[3]) {
			t.Errorf("version %d %s: Active %v", i, v.Version, v.Active)
		}
		if i > 0 && v.CreateTime.Before(list[i-1].CreateTime) {
			t.Error("Versions not oldest first")
		}
	}
	if !slices.Equal(listed, versions) {
		t.Errorf("Versions lists %v, want %v", listed, versions)
	}
	keys := map[string]bool{}
	for _, v := range versions {
		k, err := r.ks.BranchKeyVersion(ctx, "fleet", v)
		if err != nil {
			t.Fatalf("version %s: %v", v, err)
		}
		keys[string(k.Key())] = true
	}
	if len(keys) != 4 {
		t.Errorf("%d distinct materials for 4 versions", len(keys))
	}
	active, err := r.ks.ActiveBranchKey(ctx, "fleet")
	if err != nil || active.Version != versions[3] {
		t.Fatalf("active: %v, %v", active, err)
	}
	after, err := r.ks.BeaconKey(ctx, "fleet")
	if err != nil || !bytes.Equal(after.Key(), beacon.Key()) {
		t.Errorf("the beacon key changed with a rotation (%v)", err)
	}
	if _, err := r.ks.Rotate(ctx, "nobody"); !errors.Is(err, keystore.ErrBranchKeyNotFound) {
		t.Errorf("Rotate of a missing id: %v, want ErrBranchKeyNotFound", err)
	}
}

// TestConcurrentRotate: 16 goroutines rotate one branch key at once. Every
// rotation's version is kept, exactly one is active, and every version
// unwraps. Losers of the race retry with the version they wrote, so the
// rotations cost one KMS Encrypt each, however often they retry.
func TestConcurrentRotate(t *testing.T) {
	const n = 16
	r := newRig(t)
	ctx := context.Background()
	first := r.create("fleet")
	_, k0 := r.counts()
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = r.ks.Rotate(ctx, "fleet")
		}()
	}
	close(start)
	wg.Wait()
	_, kmsN := r.since(0, k0)
	for i, err := range errs {
		if err != nil {
			t.Errorf("rotation %d: %v", i, err)
		}
	}
	lost := r.db.lost.Load()
	t.Logf("%d concurrent rotations: %d KMS requests, %d lost races retried", n, kmsN, lost)
	if lost == 0 {
		t.Error("no rotation lost a race: the test did not exercise the condition")
	}
	if kmsN != n {
		t.Errorf("%d concurrent rotations made %d KMS requests, want %d", n, kmsN, n)
	}

	list, err := r.ks.Versions(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{first}, got...)
	var listed []string
	var actives []string
	for _, v := range list {
		listed = append(listed, v.Version)
		if v.Active {
			actives = append(actives, v.Version)
		}
	}
	slices.Sort(want)
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("versions after the rotations: %d listed, want the %d made", len(listed), len(want))
	}
	if len(actives) != 1 || !slices.Contains(got, actives[0]) {
		t.Fatalf("active versions %v, want one of the rotations'", actives)
	}
	active, err := r.ks.ActiveBranchKey(ctx, "fleet")
	if err != nil || active.Version != actives[0] {
		t.Fatalf("ActiveBranchKey: %v, %v", active, err)
	}
	for _, v := range want {
		if _, err := r.ks.BranchKeyVersion(ctx, "fleet", v); err != nil {
			t.Errorf("version %s does not read: %v", v, err)
		}
	}
}

// TestDelete: every record of the id goes, through pages of 2 and batches
// of 25; what read it says it is gone (not tampered with); other ids stay.
func TestDelete(t *testing.T) {
	r := newRig(t)
	r.db.pageLimit = 2
	ctx := context.Background()
	versions := []string{r.create("gone")}
	for range 30 {
		versions = append(versions, r.rotate("gone"))
	}
	other := r.create("kept")
	if n := r.recordCount("gone"); n != 33 {
		t.Fatalf("%d records before Delete, want 33", n)
	}
	if err := r.ks.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if n, m := r.recordCount("gone"), r.materialCount("gone"); n != 31 || m != 0 {
		t.Errorf("%d records left after Delete, %d with material; want the 31 versions shredded", n, m)
	}
	if vs, err := r.ks.Versions(ctx, "gone"); err != nil || len(vs) != 31 || !vs[0].Shredded || vs[0].Active {
		t.Errorf("Versions after Delete: %d versions, %v; want 31, shredded", len(vs), err)
	}
	for name, err := range map[string]error{
		"Active":  func() error { _, err := r.ks.ActiveBranchKey(ctx, "gone"); return err }(),
		"Version": func() error { _, err := r.ks.BranchKeyVersion(ctx, "gone", versions[3]); return err }(),
		"Beacon":  func() error { _, err := r.ks.BeaconKey(ctx, "gone"); return err }(),
		"Rotate":  func() error { _, err := r.ks.Rotate(ctx, "gone"); return err }(),
		"Delete":  r.ks.Delete(ctx, "gone"),
	} {
		if !errors.Is(err, keystore.ErrBranchKeyNotFound) || isIntegrity(err) {
			t.Errorf("%s after Delete: %v; want ErrBranchKeyNotFound, not ErrIntegrity", name, err)
		}
	}
	var e *keystore.Error
	_, err := r.ks.BranchKeyVersion(ctx, "gone", versions[3])
	if !errors.As(err, &e) || e.ID != "gone" || e.Version != versions[3] || e.Op != "BranchKeyVersion" {
		t.Errorf("error %#v does not say which key", e)
	}
	if _, err := r.ks.BranchKeyVersion(ctx, "kept", other); err != nil {
		t.Errorf("another branch key: %v", err)
	}
}

// TestKMSFailures: KMS failures that are no verdict on a record (a disabled
// key, throttling) wrap KMS's error and not ErrIntegrity.
func TestKMSFailures(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()

	throttled, throttler := testrig.ThrottledKMS(t, 1)
	reader := r.keyStore(logicalName, throttled, testrig.KeyA)
	v := r.create("fleet")
	throttler.Throttle(1)
	_, err := reader.BranchKeyVersion(ctx, "fleet", v)
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" || isIntegrity(err) {
		t.Errorf("throttled: %v; want ThrottlingException, not ErrIntegrity", err)
	}
	if _, err := reader.BranchKeyVersion(ctx, "fleet", v); err != nil {
		t.Errorf("after the throttling: %v", err)
	}

	ks := r.keyStore(logicalName, r.kms, testrig.KeystoreDisabled)
	dv, err := ks.Create(ctx, "disabled")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(testrig.KeystoreDisabledID)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(testrig.KeystoreDisabledID)}) })
	_, err = ks.BranchKeyVersion(ctx, "disabled", dv)
	var disabled *kmstypes.DisabledException
	if !errors.As(err, &disabled) || isIntegrity(err) {
		t.Errorf("disabled key: %v; want DisabledException, not ErrIntegrity", err)
	}
	t.Logf("disabled key: %v", err)
	if _, err := ks.Rotate(ctx, "disabled"); !errors.As(err, &disabled) || isIntegrity(err) {
		t.Errorf("Rotate under a disabled key: %v; want DisabledException, not ErrIntegrity", err)
	}
}

// TestEncryptDenied: a key store whose KMS client may not Encrypt reads
// branch keys and beacon keys; only Create and Rotate need Encrypt.
func TestEncryptDenied(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	v := r.create("fleet")
	reader := r.keyStore(logicalName, denyEncrypt{r.kms}, testrig.KeyA)
	if _, err := reader.ActiveBranchKey(ctx, "fleet"); err != nil {
		t.Error(err)
	}
	if _, err := reader.BranchKeyVersion(ctx, "fleet", v); err != nil {
		t.Error(err)
	}
	if _, err := reader.BeaconKey(ctx, "fleet"); err != nil {
		t.Error(err)
	}
	_, err := reader.Rotate(ctx, "fleet")
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || isIntegrity(err) {
		t.Errorf("Rotate without kms:Encrypt: %v; want AccessDeniedException, not ErrIntegrity", err)
	}
}

// denyEncrypt is a KMS client whose role may Decrypt but not Encrypt.
type denyEncrypt struct{ *kms.Client }

func (denyEncrypt) Encrypt(context.Context, *kms.EncryptInput, ...func(*kms.Options)) (*kms.EncryptOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform kms:Encrypt"}
}

// TestDeleteDuringRotations: a Delete while rotations of the same branch
// key run leaves no record behind: rotations that lose to it remove the
// version they wrote.
func TestDeleteDuringRotations(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.create("fleet")
	var wg sync.WaitGroup
	rotated := make(chan struct{}, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := r.ks.Rotate(ctx, "fleet")
				if errors.Is(err, keystore.ErrBranchKeyNotFound) {
					return
				}
				if err != nil && !errors.Is(err, keystore.ErrRotateConflict) {
					t.Errorf("Rotate: %v", err)
					return
				}
				select {
				case rotated <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 8 {
		<-rotated
	}
	if err := r.ks.Delete(ctx, "fleet"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := r.materialCount("fleet"); n != 0 {
		t.Errorf("%d records with material left after a Delete during rotations", n)
	}
}
