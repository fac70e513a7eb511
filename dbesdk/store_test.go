package dbesdk_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// TestPutGetWritesDBESDKItems: a Store with dbesdk.Format stores DB-ESDK
// items (aws_dbe_head and aws_dbe_foot, the encrypted field a binary, no
// dynacrypt header) and reads them back, in both suites.
func TestPutGetWritesDBESDKItems(t *testing.T) {
	for _, s := range []dbesdk.Suite{dbesdk.SuiteSymSig, dbesdk.SuiteECDSASymSig} {
		t.Run(suiteName(s), func(t *testing.T) {
			db, table := usersTable(t)
			store := mustNew[User](t, db, table, dynacrypt.WithPartitionKey("id"), dynacrypt.WithVersion("version"),
				dbesdk.Format(rawAES(t, newKey(t)), dbesdk.WithSuite(s)))
			ctx := context.Background()
			u := &User{ID: "u1", Username: "ana", Token: "secret"}
			if err := store.Put(ctx, u); err != nil {
				t.Fatal(err)
			}
			raw := testrig.RawGet(t, db, table, "u1")
			if _, ok := raw["aws_dbe_head"].(*types.AttributeValueMemberB); !ok {
				t.Fatalf("stored item has no aws_dbe_head: %v", raw)
			}
			if _, ok := raw["aws_dbe_foot"].(*types.AttributeValueMemberB); !ok {
				t.Fatal("stored item has no aws_dbe_foot")
			}
			if _, ok := raw["_dynacrypt"]; ok {
				t.Fatal("stored item has a dynacrypt header too")
			}
			if _, ok := raw["token"].(*types.AttributeValueMemberB); !ok {
				t.Fatalf("token stored as %T, want its ciphertext", raw["token"])
			}
			got, err := store.Get(ctx, User{ID: "u1"})
			if err != nil {
				t.Fatal(err)
			}
			if *got != *u || got.Version != 1 {
				t.Fatalf("got %+v, want %+v at version 1", got, u)
			}
		})
	}
}

func suiteName(s dbesdk.Suite) string {
	if s == dbesdk.SuiteSymSig {
		return "6700"
	}
	return "6701"
}
