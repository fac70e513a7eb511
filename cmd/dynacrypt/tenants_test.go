package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/header"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
	"github.com/dynacrypt/dynacrypt/keystore"
)

// TestReencryptTenants: a table of 7 tenants, each under its own branch
// key; one tenant's key is rotated with the command, and the walk, given
// -tenant and no -branch-key, leaves every item under its tenant's active
// version, readable by the service.
func TestReencryptTenants(t *testing.T) {
	const n, tenants = 140, 7
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	ks, ksTable := tenantKeyStore(t, db, "t", tenants)
	table := accountsTable(t, db)
	tenantStore := func(c *keystore.Cipher) *dynacrypt.Store[account] {
		return accounts(t, db, table, c, dynacrypt.WithTenantAttribute("tenant"))
	}
	newCipher := func() *keystore.Cipher {
		c, err := keystore.NewCipher(ks, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	service := tenantStore(newCipher())
	for i := 0; i < n; i++ {
		if err := service.Put(ctx, accountOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	runBinary(t, "", append([]string{"keystore", "rotate", "-branch-key", "t3"}, keyStoreFlags(ksTable)...)...).want(t, exitOK, "rotate t3")

	o := runBinary(t, "", append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version",
		"-tenant", "tenant", "-checkpoint", t.TempDir() + "/checkpoint"}, keyStoreFlags(ksTable)...)...).want(t, exitOK, "walk of tenants")
	if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten < n/tenants {
		t.Errorf("walk of tenants: %d scanned, %d rewritten; want every item of t3 rewritten at least", scanned, rewritten)
	}

	// A fresh cipher learns every tenant's active version from a write,
	// then finds every stored item under it.
	reader := newCipher()
	readerStore := tenantStore(reader)
	for i := 0; i < tenants; i++ {
		if err := readerStore.Put(ctx, &account{Tenant: fmt.Sprint("t", i), Seq: -1, Secret: "probe"}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	if err != nil || out.LastEvaluatedKey != nil {
		t.Fatalf("scan: %v (or more than a page)", err)
	}
	for _, item := range out.Items {
		h, err := header.Parse(item[dynacrypt.DefaultHeaderAttribute].(*types.AttributeValueMemberB).Value)
		if err != nil || !reader.UnderCurrentKey(h.Wrapped) {
			t.Errorf("item %v is not under its tenant's active version (%v)", item["seq"], err)
		}
	}
	for i := 0; i < n; i++ {
		want := accountOf(i)
		got, err := readerStore.Get(ctx, account{Tenant: want.Tenant, Seq: i}, dynacrypt.ConsistentRead())
		if err != nil || got.Secret != want.Secret || got.PIN != want.PIN {
			t.Fatalf("account %d after the walk: %+v, %v", i, got, err)
		}
	}
}

// TestReencryptOneTenant: the tenants' branch keys are prefixed, as
// README advises ("clinic-t0" for tenant t0); one is rotated, and the walk
// given -branch-key-prefix and -only-tenant rewrites that tenant's items
// only, under its new version: the other tenants' items keep their
// versions (their clients' ETags). All of them then read.
func TestReencryptOneTenant(t *testing.T) {
	const n, tenants = 35, 7
	ctx := context.Background()
	db := testrig.DynamoDB(t)
	ks, ksTable := tenantKeyStore(t, db, "clinic-t", tenants)
	table := accountsTable(t, db)
	service := func() *dynacrypt.Store[account] {
		c, err := keystore.NewCipher(ks, "", keystore.WithBranchKeyIDSupplier(keystore.PrefixSupplier("clinic-")))
		if err != nil {
			t.Fatal(err)
		}
		return accounts(t, db, table, c, dynacrypt.WithTenantAttribute("tenant"))
	}
	for i := 0; i < n; i++ {
		if err := service().Put(ctx, accountOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	runBinary(t, "", append([]string{"keystore", "rotate", "-branch-key", "clinic-t3"}, keyStoreFlags(ksTable)...)...).want(t, exitOK, "rotate clinic-t3")

	// Walks that differ in -only-tenant or -branch-key-prefix alone
	// refuse each other's checkpoint files, and leave them.
	walk := func(onlyTenant, prefix string) []string {
		args := append([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-tenant", "tenant"}, keyStoreFlags(ksTable)...)
		if onlyTenant != "" {
			args = append(args, "-only-tenant", onlyTenant)
		}
		if prefix != "" {
			args = append(args, "-branch-key-prefix", prefix)
		}
		return args
	}
	savedBy := func(onlyTenant, prefix string) string {
		file := filepath.Join(t.TempDir(), "checkpoint")
		tf := tableFlags{table: table, encrypted: "secret,pin", header: dynacrypt.DefaultHeaderAttribute, tenant: "tenant", onlyTenant: onlyTenant}
		cf := cipherFlags{keystore: keystoreFlags{table: ksTable, kmsKey: testrig.KeyA}, branchKeyPrefix: prefix}
		c := checkpointFile{Table: table, TableIdentity: identityOf(t, db, table), Segments: 4, Flags: walkFlags(tf, cf, dbesdkFlags{}, "version"), Checkpoint: "e30"}
		if err := c.save(file); err != nil {
			t.Fatal(err)
		}
		return file
	}
	for _, c := range []struct{ saver, walker [2]string }{
		{[2]string{"t3", "clinic-"}, [2]string{"", "clinic-"}},
		{[2]string{"", "clinic-"}, [2]string{"t3", "clinic-"}},
		{[2]string{"t3", "clinic-"}, [2]string{"t3", ""}},
		{[2]string{"t3", ""}, [2]string{"t3", "clinic-"}},
	} {
		file := savedBy(c.saver[0], c.saver[1])
		o := runBinary(t, "", append(walk(c.walker[0], c.walker[1]), "-checkpoint", file)...)
		if o.code != exitFailure || !strings.Contains(o.stderr, "the checkpoint file is from a walk of table "+table+" with other flags") || !fileExists(file) {
			t.Errorf("walk with -only-tenant %q -branch-key-prefix %q, from the checkpoint file of one with %q %q: want exit code 3, the file kept: %s",
				c.walker[0], c.walker[1], c.saver[0], c.saver[1], o)
		}
	}

	o := runBinary(t, "", append(walk("t3", "clinic-"), "-checkpoint", t.TempDir()+"/checkpoint")...).want(t, exitOK, "walk of tenant t3")
	if scanned, rewritten, _, failed := counts(t, o); scanned != n/tenants || rewritten != n/tenants || failed != 0 {
		t.Errorf("walk of tenant t3: %d scanned, %d rewritten, %d failed; want t3's %d items, each rewritten", scanned, rewritten, failed, n/tenants)
	}
	seen := 0
	for a, err := range service().Scan(ctx, dynacrypt.ConsistentRead()) {
		if err != nil {
			t.Fatal(err)
		}
		want, version := accountOf(a.Seq), int64(1)
		if a.Tenant == "t3" {
			version = 2
		}
		if a.Secret != want.Secret || a.PIN != want.PIN || a.Version != version {
			t.Errorf("account %d of %s after the walk of t3: %+v; want its secrets at version %d", a.Seq, a.Tenant, a, version)
		}
		seen++
	}
	if seen != n {
		t.Errorf("%d accounts read after the walk, want %d", seen, n)
	}
}

// tenantKeyStore makes a key store table with branch keys prefix0 to
// prefix(tenants-1), and returns it and its name.
func tenantKeyStore(t *testing.T, db *dynamodb.Client, prefix string, tenants int) (*keystore.KeyStore, string) {
	t.Helper()
	ctx := context.Background()
	kmsClient, _ := testrig.KMS(t)
	ksTable := uniqueName("dynacrypt-cli-ks")
	deleteTableAtEnd(t, db, ksTable)
	ks, err := keystore.New(db, ksTable, ksTable, kmsClient, testrig.KeyA)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < tenants; i++ {
		if _, err := ks.Create(ctx, fmt.Sprint(prefix, i)); err != nil {
			t.Fatal(err)
		}
	}
	return ks, ksTable
}
