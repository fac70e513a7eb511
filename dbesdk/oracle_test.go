package dbesdk_test

import (
	"context"
	"maps"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// oracleItems is how many generated items go through the oracle each way,
// per suite and format version.
func oracleItems() int {
	if testing.Short() {
		return 25
	}
	return 200
}

// genConfig returns the DB-ESDK configuration of the generated items'
// table, and the Items options that say the same in dynacrypt's terms;
// with tenant, "name" is the tenant attribute
// (SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, format version 2).
func genConfig(key []byte, s dbesdk.Suite, tenant bool) (testrig.OracleConfig, []dynacrypt.Option) {
	cfg := testrig.OracleConfig{
		LogicalTableName: "generated", PartitionKeyName: "pk", SortKeyName: "sk",
		AttributeActionsOnEncrypt: map[string]string{"pk": "SIGN_ONLY", "sk": "SIGN_ONLY"},
		AllowedUnsignedAttributes: genTable.unsigned,
		AlgorithmSuiteID:          suiteName(s),
		Keyring:                   testrig.OracleRawAES("ns", "k", key),
	}
	for _, name := range genTable.encrypted {
		cfg.AttributeActionsOnEncrypt[name] = "ENCRYPT_AND_SIGN"
	}
	for _, name := range genTable.signed {
		cfg.AttributeActionsOnEncrypt[name] = "SIGN_ONLY"
	}
	for _, name := range genTable.unsigned {
		cfg.AttributeActionsOnEncrypt[name] = "DO_NOTHING"
	}
	opts := []dynacrypt.Option{
		dynacrypt.WithPartitionKey("pk"), dynacrypt.WithSortKey("sk"), dynacrypt.WithLogicalTableName("generated"),
		dynacrypt.WithEncryptedAttributes(genTable.encrypted...), dynacrypt.WithUnsignedAttributes(genTable.unsigned...),
	}
	if tenant {
		for _, name := range []string{"pk", "sk", "name"} {
			cfg.AttributeActionsOnEncrypt[name] = "SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT"
		}
		opts = append(opts, dynacrypt.WithTenantAttribute("name"))
	}
	return cfg, opts
}

// genItems returns n generated items; with tenant, each has a string
// "name" (its tenant).
func genItems(seed uint64, n int, tenant bool) []map[string]types.AttributeValue {
	g := newGen(seed)
	items := make([]map[string]types.AttributeValue, n)
	for i := range items {
		items[i] = g.item(i)
		if tenant {
			items[i]["name"] = &types.AttributeValueMemberS{Value: "tenant-" + g.str()}
		}
	}
	return items
}

// TestOracleRoundTrips: items of every type, nested, with unicode names,
// under every action, go through AWS's DB-ESDK (the oracle) and dynacrypt
// both ways, with the raw AES keyring, both suites and both format
// versions: what dynacrypt encrypts DB-ESDK decrypts to the same item,
// and the reverse, with no failure.
func TestOracleRoundTrips(t *testing.T) {
	oracle := testrig.NewOracle(t)
	ctx := context.Background()
	n := oracleItems()
	for _, s := range []dbesdk.Suite{dbesdk.SuiteSymSig, dbesdk.SuiteECDSASymSig} {
		for _, tenant := range []bool{false, true} {
			name := suiteName(s) + "/v1"
			if tenant {
				name = suiteName(s) + "/v2"
			}
			t.Run(name, func(t *testing.T) {
				key := newKey(t)
				cfg, opts := genConfig(key, s, tenant)
				items, err := dynacrypt.NewItems("generated-table", append(opts, dbesdk.Format(rawAES(t, key), dbesdk.WithSuite(s)))...)
				if err != nil {
					t.Fatal(err)
				}
				plain := genItems(uint64(s)+uint64(len(name)), 2*n, tenant)

				// dynacrypt encrypts, DB-ESDK decrypts.
				sealed := make([]map[string]types.AttributeValue, n)
				for i, item := range plain[:n] {
					if sealed[i], err = items.Seal(ctx, item); err != nil {
						t.Fatalf("item %d: %v", i, err)
					}
				}
				failures := 0
				for i, r := range oracle.Decrypt(t, cfg, sealed) {
					if r.Err != nil || !sameItem(t, "DB-ESDK's decryption of dynacrypt's item", r.Item, plain[i]) {
						t.Errorf("item %d: %v", i, r.Err)
						failures++
					}
				}

				// DB-ESDK encrypts, dynacrypt decrypts.
				for i, r := range oracle.Encrypt(t, cfg, plain[n:]) {
					if r.Err != nil {
						t.Errorf("DB-ESDK refused item %d: %v", n+i, r.Err)
						failures++
						continue
					}
					got, err := items.Open(ctx, r.Item)
					if err != nil || !sameItem(t, "dynacrypt's decryption of DB-ESDK's item", got, plain[n+i]) {
						t.Errorf("item %d: %v", n+i, err)
						failures++
					}
				}
				t.Logf("oracle round trips, suite %s: %d items each way, %d failures", name, n, failures)
			})
		}
	}
}

// TestOracleReadsStoreItems: a Store[T] that writes DB-ESDK's format
// through DynamoDB (dynalite) writes items the oracle decrypts to the
// Store's plaintext, and reads the items the oracle encrypted and a
// client put in the table.
func TestOracleReadsStoreItems(t *testing.T) {
	oracle := testrig.NewOracle(t)
	ctx := context.Background()
	for _, s := range []dbesdk.Suite{dbesdk.SuiteSymSig, dbesdk.SuiteECDSASymSig} {
		t.Run(suiteName(s), func(t *testing.T) {
			db, table := usersTable(t)
			key := newKey(t)
			store := mustNew[Profile](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
				dynacrypt.WithUnsignedAttributes("hits"), dbesdk.Format(rawAES(t, key), dbesdk.WithSuite(s)))
			cfg := testrig.OracleConfig{
				LogicalTableName: table, PartitionKeyName: "id", AlgorithmSuiteID: suiteName(s),
				AttributeActionsOnEncrypt: profileActions(), AllowedUnsignedAttributes: []string{"hits"},
				Keyring: testrig.OracleRawAES("ns", "k", key),
			}
			g := newGen(uint64(s))
			var written []*Profile
			var stored []map[string]types.AttributeValue
			for i := range 20 {
				p := newProfile(g, i)
				if err := store.Put(ctx, p); err != nil {
					t.Fatal(err)
				}
				written = append(written, p)
				stored = append(stored, testrig.RawGet(t, db, table, p.ID))
			}
			for i, r := range oracle.Decrypt(t, cfg, stored) {
				if r.Err != nil {
					t.Fatalf("item %d: DB-ESDK: %v", i, r.Err)
				}
				want, err := store.UnmarshalItem(ctx, stored[i])
				if err != nil || !reflect.DeepEqual(want, written[i]) {
					t.Fatalf("item %d: %+v, %v", i, want, err)
				}
				if got := profileOf(t, r.Item); !reflect.DeepEqual(&got, written[i]) {
					t.Fatalf("item %d: DB-ESDK decrypted %+v, want %+v", i, got, *written[i])
				}
			}

			// DB-ESDK's items, put by another client, read by the Store.
			var plain []map[string]types.AttributeValue
			for i := range 20 {
				av, err := marshalProfile(newProfile(g, 100+i))
				if err != nil {
					t.Fatal(err)
				}
				plain = append(plain, av)
			}
			for i, r := range oracle.Encrypt(t, cfg, plain) {
				if r.Err != nil {
					t.Fatalf("item %d: DB-ESDK: %v", i, r.Err)
				}
				testrig.RawPut(t, db, table, r.Item)
				id := plain[i]["id"].(*types.AttributeValueMemberS).Value
				got, err := store.Get(ctx, Profile{ID: id})
				if err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				if want := profileOf(t, maps.Clone(plain[i])); !reflect.DeepEqual(*got, want) {
					t.Fatalf("item %d: read %+v, want %+v", i, *got, want)
				}
			}
		})
	}
}
