package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestReencryptWithDBESDKOracle: a table that AWS's DB-ESDK (the oracle)
// wrote under its AWS KMS keyring, or its hierarchical keyring over a key
// store and branch keys that dbesdk-keystore made (one branch key, or one
// per tenant), moves to dynacrypt's format with reencrypt -to dynacrypt and
// the -dbesdk-* flags of that keyring, and back with -to dbesdk; DB-ESDK
// then decrypts every item the walk wrote, with the walk's changes.
func TestReencryptWithDBESDKOracle(t *testing.T) {
	const n = 21
	oracle := testrig.NewOracle(t)
	db := testrig.DynamoDB(t)
	kmsClient, _ := testrig.KMS(t)
	tenantKeys := make([]string, 7)
	for i := range tenantKeys {
		tenantKeys[i] = fmt.Sprint("tenant-t", i)
	}
	ksTable, _ := dbesdkKeyStore(t, db, append(tenantKeys, "fleet")...)
	hierarchy := func(branchKey string) map[string]any {
		return testrig.OracleHierarchy(ksTable, ksTable, keyARNA, branchKey)
	}
	signOnly := map[string]string{"tenant": "SIGN_ONLY", "seq": "SIGN_ONLY", "secret": "ENCRYPT_AND_SIGN", "pin": "ENCRYPT_AND_SIGN",
		"note": "SIGN_ONLY", "version": "SIGN_ONLY"}
	inContext := map[string]string{"tenant": "SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT", "seq": "SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT",
		"secret": "ENCRYPT_AND_SIGN", "pin": "ENCRYPT_AND_SIGN", "note": "SIGN_ONLY", "version": "SIGN_ONLY"}

	for _, c := range []struct {
		name    string
		suite   string
		actions map[string]string
		keyring func(tenant string) map[string]any // the oracle's, for a tenant's items
		flags   []string                           // the command's
	}{
		{"AWS KMS keyring", "6701", signOnly, func(string) map[string]any { return testrig.OracleKMS(keyARNB) },
			[]string{"-dbesdk-kms-key", keyARNB}},
		{"hierarchical keyring", "6700", signOnly, func(string) map[string]any { return hierarchy("fleet") },
			slices.Concat([]string{"-dbesdk-branch-key", "fleet"}, dbesdkKeyStoreFlags(ksTable))},
		{"hierarchical keyring, a branch key per tenant", "6701", inContext, func(tenant string) map[string]any { return hierarchy("tenant-" + tenant) },
			slices.Concat([]string{"-tenant", "tenant", "-dbesdk-branch-key-prefix", "tenant-"}, dbesdkKeyStoreFlags(ksTable))},
	} {
		t.Run(c.name, func(t *testing.T) {
			table := accountsTable(t, db)
			config := func(tenant string) testrig.OracleConfig {
				return testrig.OracleConfig{LogicalTableName: table, PartitionKeyName: "tenant", SortKeyName: "seq",
					AttributeActionsOnEncrypt: c.actions, AlgorithmSuiteID: c.suite, Keyring: c.keyring(tenant)}
			}
			byTenant := map[string][]map[string]types.AttributeValue{}
			for i := range n {
				a := accountOf(i)
				a.Version = 1
				item, err := attributevalue.MarshalMap(a)
				if err != nil {
					t.Fatal(err)
				}
				byTenant[a.Tenant] = append(byTenant[a.Tenant], item)
			}
			for tenant, items := range byTenant {
				for _, item := range oracle.EncryptAll(t, config(tenant), items) {
					if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
						t.Fatal(err)
					}
				}
			}

			walk := slices.Concat([]string{"reencrypt", "-table", table, "-encrypted", "secret,pin", "-version", "version", "-key", testrig.KeyA,
				"-dbesdk-suite", c.suite}, c.flags)
			var tenantOpts []dynacrypt.Option
			if c.actions["tenant"] != "SIGN_ONLY" {
				walk = append(walk, "-tenant", "tenant")
				tenantOpts = append(tenantOpts, dynacrypt.WithTenantAttribute("tenant"))
			}
			o := runBinary(t, "", append(walk, "-to", "dynacrypt")...).want(t, exitOK, "the walk of DB-ESDK's items to dynacrypt's format")
			if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
				t.Fatalf("the walk to dynacrypt's format: %s", o)
			}
			checkAccounts(t, accounts(t, db, table, dynacrypt.NewKMSCipher(kmsClient, testrig.KeyA), tenantOpts...), n, 2)
			o = runBinary(t, "", append(walk, "-to", "dbesdk")...).want(t, exitOK, "the walk back to DB-ESDK's format")
			if scanned, rewritten, _, _ := counts(t, o); scanned != n || rewritten != n {
				t.Fatalf("the walk to DB-ESDK's format: %s", o)
			}

			stored := map[string][]map[string]types.AttributeValue{}
			for _, item := range scanAll(t, db, table) {
				tenant := item["tenant"].(*types.AttributeValueMemberS).Value
				stored[tenant] = append(stored[tenant], item)
			}
			decrypted := 0
			for tenant, items := range stored {
				for _, item := range oracle.DecryptAll(t, config(tenant), items) {
					var got account
					if err := attributevalue.UnmarshalMap(item, &got); err != nil {
						t.Fatal(err)
					}
					want := *accountOf(got.Seq)
					want.Version = 3
					if got != want {
						t.Fatalf("DB-ESDK decrypted %+v, want %+v", got, want)
					}
					decrypted++
				}
			}
			if decrypted != n {
				t.Fatalf("DB-ESDK decrypted %d items, want %d", decrypted, n)
			}
		})
	}
}
