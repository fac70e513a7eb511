package itemcrypt

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func BenchmarkDeriveItem(b *testing.B) {
	root, salt := bytes.Repeat([]byte{1}, RootKeySize), bytes.Repeat([]byte{2}, 16)
	keys := []KeyAttr{{Name: "id", Value: &types.AttributeValueMemberS{Value: "user-000001"}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		k, err := DeriveItem(root, salt, "bench", keys)
		if err != nil {
			b.Fatal(err)
		}
		k.Release()
	}
}

func BenchmarkHKDF(b *testing.B) {
	root, salt := bytes.Repeat([]byte{1}, RootKeySize), bytes.Repeat([]byte{2}, 16)
	info := bytes.Repeat([]byte{3}, 40)
	h := newHMAC()
	var okm [64]byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.hkdf(okm[:], root, salt, info)
	}
}
