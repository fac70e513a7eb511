package main

import (
	"context"
	"fmt"
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
		if _, err := ks.Create(ctx, fmt.Sprint("t", i)); err != nil {
			t.Fatal(err)
		}
	}
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
