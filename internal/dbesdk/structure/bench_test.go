package structure_test

import (
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/dynacrypt/dynacrypt/internal/benchitem"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/keywrap"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/structure"
	"github.com/dynacrypt/dynacrypt/internal/dbesdk/suite"
)

// BenchmarkItemRoundTrip encrypts and decrypts the project's 1 KB benchmark
// item (package benchitem: three encrypted fields, the others signed) in
// DB-ESDK's format, as the root package's BenchmarkItemRoundTrip does in
// dynacrypt's: a raw AES keyring (a fresh data key per item, as in
// DB-ESDK) and a branch key already in hand (the hierarchical keyring with
// its cache warm).
func BenchmarkItemRoundTrip(b *testing.B) {
	plain, err := attributevalue.MarshalMap(benchitem.New("user-000001"))
	if err != nil {
		b.Fatal(err)
	}
	actions := map[string]structure.Action{}
	for name := range plain {
		actions[name] = structure.SignOnly
	}
	for _, name := range []string{"token", "card", "notes"} {
		actions[name] = structure.EncryptAndSign
	}
	keyrings := []struct {
		name string
		kr   structure.Keyring
	}{
		{"rawAES", rawAESKeyring(b, 1)},
		{"branchKey", &keywrap.StaticBranchKey{Key: staticBranchKey(b)}},
	}
	for _, id := range []suite.ID{suite.SymSig, suite.ECDSASymSig} {
		for _, k := range keyrings {
			b.Run(id.String()+"/"+k.name, func(b *testing.B) {
				e, err := structure.New(structure.Config{TableName: "bench", PartitionKey: "id", Actions: actions, Suite: id, Keyring: k.kr})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					enc, err := e.EncryptItem(ctx, maps.Clone(plain))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := e.DecryptItem(ctx, enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
